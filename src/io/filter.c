/* placeholder: being written */
typedef int gd_placeholder_filter_t;
