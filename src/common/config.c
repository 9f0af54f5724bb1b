/* placeholder: being written */
typedef int gd_placeholder_config_t;
