/* placeholder: being written */
typedef int gd_placeholder_repo_t;
