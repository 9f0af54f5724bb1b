/* placeholder: being written */
typedef int gd_placeholder_backup_t;
