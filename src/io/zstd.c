/* placeholder: being written */
typedef int gd_placeholder_zstd_t;
