/* placeholder: being written */
typedef int gd_placeholder_cmd_misc_t;
