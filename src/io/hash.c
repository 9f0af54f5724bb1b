/* placeholder: being written */
typedef int gd_placeholder_hash_t;
