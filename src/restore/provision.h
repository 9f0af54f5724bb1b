/* New local MariaDB instances that geodr provisions (`geodr restore
 * --new-instance DIR --port P`, and the scratch instance of a subset
 * replay): DIR/data (mariadb-install-db), DIR/my.cnf, DIR/mariadbd.sock,
 * DIR/mariadbd.err, DIR/mariadbd.pid, and after gd_instance_secure()
 * DIR/client.cnf (mode 0600) with the generated root password.
 * docs/backup-restore.md and docs/privileges.md say how they are used. */
#ifndef GD_RESTORE_PROVISION_H
#define GD_RESTORE_PROVISION_H

#include "common/error.h"

/* A local instance that geodr provisions (mariadb-install-db + mariadbd) and
 * leaves running: its connection details are in dir/client.cnf (mode 0600). */
typedef struct gd_instance_new {
    char *dir, *socket, *cnf, *client_cnf;
    char *admin_user; /* the account the socket lets in (the OS user running geodr) */
    unsigned port;
    int pid;
} gd_instance_new;

/* Creates dir (which must not exist or be empty), initialises a data
 * directory, starts mariadbd on 127.0.0.1:port and waits until it answers.
 * Accounts authenticate by socket only (unix_socket: admin_user, the OS
 * user running geodr, over inst->socket); no account can log in over TCP
 * until gd_instance_secure() gives root@127.0.0.1 a password. */
int gd_instance_provision(const char *dir, unsigned port, gd_instance_new *out, gd_err *err);
/* What provisioning checks first, for a precheck too (command/restore.h):
 * dir is absent or empty (GD_E_EXISTS when it holds anything); nothing
 * listens on 127.0.0.1:port (GD_E_EXISTS when something does).  Nothing
 * is created. */
int gd_instance_check_dir(const char *dir, gd_err *err);
int gd_instance_check_port(unsigned port, gd_err *err);
/* Sets a generated root password (root@localhost and root@127.0.0.1),
 * drops every other root and anonymous account and writes dir/client.cnf. */
int gd_instance_secure(gd_instance_new *inst, gd_err *err);
/* Stops the instance's mariadbd (SIGTERM, then SIGKILL after 60 s) and
 * waits for it. */
void gd_instance_stop(gd_instance_new *inst);
void gd_instance_new_free(gd_instance_new *inst);

/* A place for a throwaway instance (a subset replay's scratch instance, a
 * drill): a new directory parent/prefix.XXXXXX (parent NULL: $TMPDIR, else
 * /tmp), mode 0711 so a server running as another user reaches its own
 * folder inside, and a free loopback port.  Remove it with
 * gd_remove_tree (common/util.h).  Caller frees *dir. */
int gd_instance_scratch(const char *parent, const char *prefix, char **dir, unsigned *port,
                        gd_err *err);

#endif
