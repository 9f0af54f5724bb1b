/* placeholder: being written */
typedef int gd_placeholder_conn_t;
