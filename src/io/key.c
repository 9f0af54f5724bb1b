/* placeholder: being written */
typedef int gd_placeholder_key_t;
