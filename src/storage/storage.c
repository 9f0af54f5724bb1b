/* placeholder: being written */
typedef int gd_placeholder_storage_t;
