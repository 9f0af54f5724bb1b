/* placeholder: being written */
typedef int gd_placeholder_progress_t;
