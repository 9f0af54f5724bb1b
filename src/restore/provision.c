/* A new local MariaDB instance for `geodr restore --new-instance DIR --port P`:
 * DIR/data (mariadb-install-db), DIR/my.cnf, DIR/run/mariadbd.sock,
 * DIR/run/mariadbd.err, DIR/run/mariadbd.pid, and after gd_instance_secure()
 * DIR/client.cnf (mode 0600) with the generated root password.  DIR stays
 * geodr's; the server's account owns only DIR/data and DIR/run. */
#include "restore/provision.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "common/util.h"
#include "io/key.h"
#include "mysql/conn.h"

int gd_instance_check_dir(const char *dir, gd_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return gd_err_sys(err, errno, "cannot open %s", dir);
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            rc = gd_err_set(err, GD_E_EXISTS,
                            "%s is not empty: a new instance needs a new or empty directory "
                            "(remove what it holds, or choose another one)",
                            dir);
            break;
        }
    }
    closedir(d);
    return rc;
}

int gd_instance_check_port(unsigned port, gd_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gd_err_sys(err, errno, "cannot check port %u", port);
    /* as mariadbd binds: a port left in TIME_WAIT is free for it */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        rc = errno == EADDRINUSE
                 ? gd_err_set(err, GD_E_EXISTS,
                              "port %u is in use on 127.0.0.1: choose another port for the new "
                              "instance",
                              port)
                 : gd_err_sys(err, errno, "cannot bind 127.0.0.1:%u for the new instance", port);
    close(fd);
    return rc;
}

static const char *find_mariadbd(void)
{
    static const char *const cands[] = {"/usr/sbin/mariadbd", "/usr/libexec/mariadbd",
                                        "/usr/local/sbin/mariadbd", "/usr/sbin/mysqld"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return "mariadbd";
}

/* The account a new instance's server runs as when geodr runs as root: never
 * root itself (a server running as root turns every FILE privilege, a
 * SELECT ... INTO OUTFILE, into root's).  Its folder is given to it; every
 * folder above must let it through. */
#define RUN_AS_USER "mysql"

static int reachable_by(const char *dir, const struct passwd *pw, gd_err *err)
{
    char *p = gd_strdup(dir);
    int rc = 0;
    for (char *slash = strrchr(p, '/'); slash && rc == 0; slash = strrchr(p, '/')) {
        *slash = '\0';
        const char *up = p[0] ? p : "/";
        struct stat st;
        if (stat(up, &st) != 0) {
            rc = gd_err_sys(err, errno, "cannot stat %s", up);
            break;
        }
        bool through = (st.st_mode & S_IXOTH) ||
                       (st.st_uid == pw->pw_uid && (st.st_mode & S_IXUSR)) ||
                       (st.st_gid == pw->pw_gid && (st.st_mode & S_IXGRP));
        if (!through)
            rc = gd_err_set(err, GD_E_STATE,
                            "the new instance's server runs as user %s (never as root), which "
                            "cannot pass through %s (mode %04o): choose a folder under one it "
                            "can reach, or allow it (chmod o+x %s)",
                            pw->pw_name, up, (unsigned)(st.st_mode & 07777), up);
    }
    free(p);
    return rc;
}

/* A user database entry with the strings it points to: per call
 * (getpwnam and getpwuid share one static buffer). */
typedef struct pw_entry {
    struct passwd pw;
    char buf[4096];
} pw_entry;

/* The entry of name (NULL: of uid) in *e, or NULL. */
static struct passwd *pw_lookup(const char *name, uid_t uid, pw_entry *e)
{
    struct passwd *r = NULL;
    int rc = name ? getpwnam_r(name, &e->pw, e->buf, sizeof e->buf, &r)
                  : getpwuid_r(uid, &e->pw, e->buf, sizeof e->buf, &r);
    return rc == 0 ? r : NULL;
}

static int run_as_account(const char *abs, const char *run, pw_entry *e, struct passwd **out,
                          gd_err *err)
{
    struct passwd *pw = pw_lookup(RUN_AS_USER, 0, e);
    if (pw == NULL)
        return gd_err_set(err, GD_E_STATE,
                          "geodr runs as root and the system has no '%s' user to run the new "
                          "instance's server as (a server never runs as root): install "
                          "mariadb-server, which creates it, or run geodr as another user",
                          RUN_AS_USER);
    if (chmod(abs, 0711) != 0) /* passable to the server's account, not listable */
        return gd_err_sys(err, errno, "cannot set the mode of %s", abs);
    int rc = reachable_by(run, pw, err);
    if (rc != 0)
        return rc;
    if (chown(run, pw->pw_uid, pw->pw_gid) != 0)
        return gd_err_sys(err, errno, "cannot give %s to user %s", run, RUN_AS_USER);
    *out = pw;
    return 0;
}

/* The server's own folder DIR/run (socket, pid file, error log), and with
 * DIR/data the only ones it may write: DIR itself stays geodr's, so nothing
 * the server's account does (a symlink planted in DIR by any process of
 * that shared account) can redirect a file geodr writes as root there
 * (my.cnf, install.log, client.cnf).  When geodr runs as root: *out is the
 * account the server runs as; NULL when geodr runs as another user, which
 * the server then runs as. */
static int server_account(const char *abs, pw_entry *e, struct passwd **out, gd_err *err)
{
    *out = NULL;
    char *run = gd_asprintf("%s/run", abs);
    int rc = mkdir(run, 0700) == 0 ? 0 : gd_err_sys(err, errno, "cannot create %s", run);
    if (rc == 0 && geteuid() == 0)
        rc = run_as_account(abs, run, e, out, err);
    free(run);
    return rc;
}

/* Starts mariadbd on the instance's my.cnf, in a session of its own with
 * its output to /dev/null; its pid in inst->pid. */
static int start_server(gd_instance_new *inst, gd_err *err)
{
    char *a1 = gd_asprintf("--defaults-file=%s", inst->cnf);
    char *argv[] = {(char *)find_mariadbd(), a1, NULL};
    gd_child_opts o = {.output = "/dev/null", .new_session = true};
    pid_t pid = 0;
    int rc = gd_child_start(argv, &o, &pid, err);
    free(a1);
    inst->pid = pid;
    return rc;
}

/* Waits (at most 60 s) until the new server answers on its socket, then
 * creates root@127.0.0.1 with no usable password. */
static int wait_answering(gd_instance_new *inst, const char *errlog, gd_err *err)
{
    pid_t pid = inst->pid;
    gd_conn_params p = {.what = "the new instance",
                        .socket = inst->socket,
                        .user = inst->admin_user,
                        .password = "",
                        .timeout_s = 2};
    for (int i = 0; i < 600; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return gd_err_set(err, GD_E_STATE, "mariadbd for the new instance exited: see %s",
                              errlog);
        MYSQL *m = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (gd_conn_open(&p, &m, &e) == 0) {
            /* root@127.0.0.1 exists from the start (views and routines of
             * the set name it as their definer) but no password matches
             * 'invalid' until gd_instance_secure() sets one. */
            int rc = gd_sql(m, err,
                            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA "
                            "mysql_native_password USING 'invalid'");
            if (rc == 0)
                rc = gd_sql(m, err,
                            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
            gd_conn_close(m);
            return rc;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGTERM);
    return gd_err_set(err, GD_E_STATE,
                      "mariadbd for the new instance did not start in 60 s: see %s", errlog);
}

int gd_instance_provision(const char *dir, unsigned port, gd_instance_new *out, gd_err *err)
{
    memset(out, 0, sizeof *out);
    /* unix_socket maps the peer's uid to its name: without one nobody could
     * log in to the new server. */
    pw_entry me;
    struct passwd *pw = pw_lookup(NULL, geteuid(), &me);
    if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
        return gd_err_set(err, GD_E_STATE,
                          "the user running geodr (uid %u) has no name in the system's user "
                          "database, which the new instance's socket login needs: run geodr "
                          "as a named user",
                          (unsigned)geteuid());
    out->admin_user = gd_strdup(pw->pw_name);
    int rc = gd_instance_check_dir(dir, err);
    if (rc == 0)
        rc = gd_instance_check_port(port, err);
    if (rc != 0)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return gd_err_sys(err, errno, "cannot create %s", dir);
    char *abs = realpath(dir, NULL);
    if (abs == NULL)
        return gd_err_sys(err, errno, "cannot resolve %s", dir);
    out->dir = abs;
    pw_entry run_as_e;
    struct passwd *run_as = NULL;
    if ((rc = server_account(abs, &run_as_e, &run_as, err)) != 0)
        return rc;
    out->port = port;
    out->socket = gd_asprintf("%s/run/mariadbd.sock", abs);
    out->cnf = gd_asprintf("%s/my.cnf", abs);
    out->client_cnf = gd_asprintf("%s/client.cnf", abs);
    char *datadir = gd_asprintf("%s/data", abs);
    char *log = gd_asprintf("%s/install.log", abs);
    char *errlog = gd_asprintf("%s/run/mariadbd.err", abs);
    char *user_opt = run_as ? gd_asprintf("--user=%s", run_as->pw_name) : NULL;
    gd_buf cnf;
    gd_buf_init(&cnf, 0);
    gd_buf_appendf(&cnf,
                   "# written by geodr restore --new-instance\n[mariadbd]\ndatadir=%s\n"
                   "socket=%s\nport=%u\nbind-address=127.0.0.1\npid-file=%s/run/mariadbd.pid\n"
                   "log-error=%s\nlocal-infile=1\nmax-allowed-packet=1G\nskip-name-resolve\n"
                   "innodb-buffer-pool-size=256M\ninnodb-log-file-size=256M\n%s",
                   datadir, out->socket, port, abs, errlog, run_as ? "user=" RUN_AS_USER "\n" : "");
    {
        int fd = open(out->cnf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL && fd >= 0)
            close(fd);
        if (f == NULL || fwrite(cnf.data, 1, cnf.len, f) != cnf.len || fclose(f) != 0) {
            rc = gd_err_sys(err, errno, "cannot write %s", out->cnf);
            goto out;
        }
    }
    {
        char *a1 = gd_asprintf("--defaults-file=%s", out->cnf);
        char *a2 = gd_asprintf("--datadir=%s", datadir);
        /* Socket authentication only: no account can log in over TCP
         * without a password, from the first second (root@127.0.0.1 gets
         * its generated password in gd_instance_secure).  The OS user
         * running geodr is the one the socket lets in. */
        char *a3 = gd_asprintf("--auth-root-socket-user=%s", out->admin_user);
        char *argv[] = {
            "mariadb-install-db", a1,       a2,  "--auth-root-authentication-method=socket", a3,
            "--skip-test-db",     user_opt, NULL};
        rc = gd_child_run(argv, &(gd_child_opts){.output = log}, err);
        free(a1);
        free(a2);
        free(a3);
        if (rc != 0)
            goto out;
    }
    if ((rc = start_server(out, err)) == 0)
        rc = wait_answering(out, errlog, err);
out:
    gd_buf_free(&cnf);
    free(user_opt);
    free(datadir);
    free(log);
    free(errlog);
    return rc;
}

int gd_instance_secure(gd_instance_new *inst, gd_err *err)
{
    char pw[GD_TOKEN_LEN + 1];
    int rc = gd_random_token(pw, err);
    if (rc != 0)
        return rc;
    gd_conn_params p = {.what = "the new instance",
                        .socket = inst->socket,
                        .user = inst->admin_user,
                        .password = ""};
    MYSQL *m = NULL;
    if ((rc = gd_conn_open(&p, &m, err)) != 0)
        return rc;
    rc = gd_sql_secret(m, err, pw, "ALTER USER 'root'@'localhost' IDENTIFIED BY '%s'", pw);
    if (rc == 0)
        rc = gd_sql_secret(m, err, pw,
                           "CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '%s'", pw);
    if (rc == 0)
        rc = gd_sql(m, err, "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
    /* No other root or anonymous account: nothing else to guess. */
    MYSQL_RES *res = NULL;
    if (rc == 0)
        rc = gd_sql_query(m, &res, err,
                          "SELECT User, Host FROM mysql.user WHERE (User = 'root' AND Host NOT IN "
                          "('localhost', '127.0.0.1')) OR User = ''");
    if (rc == 0) {
        MYSQL_ROW row;
        while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
            char *u = gd_sql_escape(m, row[0]), *h = gd_sql_escape(m, row[1]);
            rc = gd_sql(m, err, "DROP USER '%s'@'%s'", u, h);
            free(u);
            free(h);
        }
        mysql_free_result(res);
    }
    gd_conn_close(m);
    if (rc != 0) {
        gd_err_prefix(err, "cannot set the new instance's root password");
        gd_wipe(pw, sizeof pw);
        return rc;
    }
    int fd = open(inst->client_cnf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        gd_wipe(pw, sizeof pw);
        return gd_err_sys(err, errno, "cannot write %s", inst->client_cnf);
    }
    char *text = gd_asprintf("[client]\nsocket=%s\nport=%u\nhost=127.0.0.1\nuser=root\n"
                             "password=%s\n",
                             inst->socket, inst->port, pw);
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int cerr = (fsync(fd) != 0 || close(fd) != 0);
    gd_wipe(text, n);
    free(text);
    gd_wipe(pw, sizeof pw);
    if (w != (ssize_t)n || cerr)
        return gd_err_sys(err, errno, "cannot write %s", inst->client_cnf);
    return 0;
}

void gd_instance_stop(gd_instance_new *inst)
{
    if (inst->pid <= 0)
        return;
    kill(inst->pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        if (waitpid(inst->pid, NULL, WNOHANG) == inst->pid) {
            inst->pid = 0;
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(inst->pid, SIGKILL);
    waitpid(inst->pid, NULL, 0);
    inst->pid = 0;
}

void gd_instance_new_free(gd_instance_new *inst)
{
    free(inst->dir);
    free(inst->socket);
    free(inst->cnf);
    free(inst->client_cnf);
    free(inst->admin_user);
    memset(inst, 0, sizeof *inst);
}

/* A free loopback port (0 when none could be found). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int gd_instance_scratch(const char *parent, const char *prefix, char **dir, unsigned *port,
                        gd_err *err)
{
    const char *tmp = getenv("TMPDIR");
    if (parent == NULL)
        parent = tmp && *tmp ? tmp : "/tmp";
    char *base = gd_asprintf("%s/%s.XXXXXX", parent, prefix);
    *dir = NULL;
    if (mkdtemp(base) == NULL) {
        int rc = gd_err_sys(err, errno, "cannot create a scratch directory under %s", parent);
        free(base);
        return rc;
    }
    if (chmod(base, 0711) != 0 || (*port = free_port()) == 0) {
        int rc = gd_err_sys(err, errno, "cannot prepare the scratch directory %s", base);
        gd_remove_tree(base);
        free(base);
        return rc;
    }
    *dir = base;
    return 0;
}
