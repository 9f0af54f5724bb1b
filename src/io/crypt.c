/* placeholder: being written */
typedef int gd_placeholder_crypt_t;
