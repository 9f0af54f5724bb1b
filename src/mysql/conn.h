/* Connections to MariaDB/MySQL servers (MariaDB Connector/C), with errors
 * turned into messages that say what to do.  Passwords come from files or
 * environment variables and never appear in messages. */
#ifndef GD_MYSQL_CONN_H
#define GD_MYSQL_CONN_H

#include <mysql.h>
#include <stdbool.h>

#include "common/error.h"
#include "common/tls.h"

typedef struct gd_conn_params {
    const char *what; /* "instance shop", "target 10.0.0.7:3306": for messages */
    const char *host; /* NULL/"" with socket set: unix socket */
    unsigned port;
    const char *socket;
    const char *user;
    const char *password;        /* may be "" */
    const char *password_source; /* "password file X", for messages; may be NULL */
    unsigned timeout_s;          /* connect timeout, default 10 */
    unsigned read_timeout_s;     /* 0: none (wait as long as the server takes) */
    gd_tls_opts tls;             /* zero: ssl-mode preferred, no files */
} gd_conn_params;

/* Connects; charset utf8mb4, session time_zone '+00:00'.  Errors:
 * GD_E_NET when the server cannot be reached, GD_E_AUTH when access is
 * denied, GD_E_MYSQL otherwise.  LOAD DATA LOCAL is off: a server that asks
 * for a local file gets a refusal.
 *
 * TLS follows p->tls (docs/tls.md): GD_E_INVALID for settings that
 * contradict each other or files that cannot be read (nothing is sent);
 * GD_E_AUTH when the server's certificate is refused (wrong CA, a name that
 * does not match) or when the server does not offer TLS and the mode needs
 * it: no statement is ever sent on such a connection.  With ssl-mode
 * disabled, a server that refuses the login and accepts it over TLS (MariaDB
 * answers "access denied" to a plain login under require_secure_transport)
 * gets a message saying so; that costs one more login attempt. */
int gd_conn_open(const gd_conn_params *p, MYSQL **out, gd_err *err);

/* The loader's LOAD DATA LOCAL handler (Connector/C's infile callbacks). */
typedef struct gd_infile_handler {
    int (*init)(void **, const char *, void *);
    int (*read)(void *, char *, unsigned int);
    void (*end)(void *);
    int (*error)(void *, char *, unsigned int);
    void *userdata;
} gd_infile_handler;

/* As gd_conn_open, with LOAD DATA LOCAL on and answered only by h (never
 * by the client library's file reader).  h's init must refuse a request it
 * did not expect: the server may ask at any statement. */
int gd_conn_open_loader(const gd_conn_params *p, const gd_infile_handler *h, MYSQL **out,
                        gd_err *err);
void gd_conn_close(MYSQL *m);

/* Runs a statement that returns no rows (results are drained). */
int gd_sql(MYSQL *m, gd_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As gd_sql for a statement that carries a secret (a password): on error
 * the secret is replaced by *** in the message, wherever the statement or
 * the server's message holds it. */
int gd_sql_secret(MYSQL *m, gd_err *err, const char *secret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Runs a query and returns its stored result (caller mysql_free_result()s). */
int gd_sql_query(MYSQL *m, MYSQL_RES **out, gd_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* First column of the first row as a new string (NULL value -> ""); a query
 * without rows gives GD_E_NOTFOUND. */
int gd_sql_value(MYSQL *m, char **out, gd_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Turns the connection's last error into err, with a hint for the common
 * cases (missing privilege names the GRANT to run). */
int gd_sql_error(MYSQL *m, gd_err *err, const char *context);

/* Escapes a string literal body (no quotes) into a new string. */
char *gd_sql_escape(MYSQL *m, const char *s);

#endif
