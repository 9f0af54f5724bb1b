/* placeholder: being written */
typedef int gd_placeholder_ini_t;
