/* placeholder: being written */
typedef int gd_placeholder_posix_t;
