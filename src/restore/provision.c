/* placeholder: being written */
typedef int gd_placeholder_provision_t;
