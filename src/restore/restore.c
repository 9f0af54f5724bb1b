/* placeholder: being written */
typedef int gd_placeholder_restore_t;
