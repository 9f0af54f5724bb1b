#include "mysql/conn.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static char *vfmt(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *q = gd_malloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(q, (size_t)n + 1, fmt, ap);
    return q;
}

int gd_sql_error(MYSQL *m, gd_err *err, const char *context)
{
    unsigned no = mysql_errno(m);
    const char *msg = mysql_error(m);
    switch (no) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
        gd_err_set(err, GD_E_NET,
                   "%s: %s (is the server running and reachable? check host and "
                   "port)",
                   context, msg);
        if (err)
            err->retryable = true;
        return GD_E_NET;
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
        return gd_err_set(err, GD_E_AUTH, "%s: %s (check the user and its password file)", context,
                          msg);
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_PROCACCESS_DENIED_ERROR:
        return gd_err_set(err, GD_E_AUTH,
                          "%s: %s (missing privilege: docs/privileges.md lists the GRANT geodr "
                          "needs)",
                          context, msg);
    default:
        return gd_err_set(err, GD_E_MYSQL, "%s: error %u: %s", context, no, msg);
    }
}

/* tls_options() maps the modes onto Connector/C 3.3's options (docs/tls.md).
 * 3.4 changed their meaning: there MYSQL_OPT_SSL_VERIFY_SERVER_CERT = 0
 * turns off every check, the CA's included, and so does
 * MARIADB_TLS_DISABLE_PEER_VERIFICATION in the environment, so verify-ca
 * would silently stop verifying.  Stop the build rather than ship that. */
#if MARIADB_PACKAGE_VERSION_ID >= 30400
#error "MariaDB Connector/C 3.4 or newer: review tls_options() in src/mysql/conn.c (docs/tls.md)"
#endif

static const char *tls_prefix(const gd_tls_opts *t)
{
    return t->prefix ? t->prefix : "ssl-";
}

/* Only authentication methods that never hand the password itself to the
 * server: an active attacker who stripped or terminated TLS could otherwise
 * switch the login to mysql_clear_password or dialog and read it (geodr
 * checks the cipher only after the login). */
#define GD_AUTH_PLUGINS "mysql_native_password,client_ed25519,caching_sha2_password"

static void restrict_auth(MYSQL *m)
{
    mysql_optionsv(m, MARIADB_OPT_RESTRICTED_AUTH, GD_AUTH_PLUGINS);
}

/* Sets the client library's TLS options from p->tls.  Connector/C 3.3
 * (Debian 12) uses TLS only when asked (MYSQL_OPT_SSL_ENFORCE), checks the
 * chain only when a CA is given and the host name only with
 * MYSQL_OPT_SSL_VERIFY_SERVER_CERT; every option is set explicitly so a
 * library with other defaults (3.4 verifies by default) behaves the same. */
static int tls_options(MYSQL *m, const gd_conn_params *p, gd_err *err)
{
    const gd_tls_opts *t = &p->tls;
    const char *pre = tls_prefix(t);
    char msg[600];
    if (!gd_tls_check(t, msg, sizeof msg))
        return gd_err_set(err, GD_E_INVALID, "%s: %s", p->what, msg);
    const char *const files[] = {t->ca, t->cert, t->key};
    const char *const names[] = {"ca", "cert", "key"};
    for (size_t i = 0; i < 3; i++) {
        FILE *f = files[i] ? fopen(files[i], "re") : NULL;
        if (files[i] && f == NULL)
            return gd_err_sys(err, errno, "cannot read %s%s %s (for %s)", pre, names[i], files[i],
                              p->what);
        if (f)
            fclose(f);
    }
    my_bool use = t->mode != GD_TLS_DISABLED;
    my_bool verify = t->mode == GD_TLS_VERIFY_IDENTITY;
    restrict_auth(m);
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &use);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (t->ca)
        mysql_optionsv(m, MYSQL_OPT_SSL_CA, t->ca);
    if (t->cert)
        mysql_optionsv(m, MYSQL_OPT_SSL_CERT, t->cert);
    if (t->key)
        mysql_optionsv(m, MYSQL_OPT_SSL_KEY, t->key);
    return 0;
}

static int no_tls_error(const gd_conn_params *p, const char *ctx, gd_err *err)
{
    const char *pre = tls_prefix(&p->tls);
    return gd_err_set(err, GD_E_AUTH,
                      "%s: the server does not offer TLS but %smode = %s: configure TLS on the "
                      "server (its ssl_cert and ssl_key settings); only on a network you trust, "
                      "%smode = preferred connects without TLS",
                      ctx, pre, gd_tls_mode_name(p->tls.mode), pre);
}

/* With ssl-mode disabled and "access denied": would the same login pass
 * over TLS?  MariaDB answers a plain login under require_secure_transport
 * with the same "access denied" as a wrong password; one more attempt, over
 * TLS, tells the two apart. */
static bool tls_only_server(const gd_conn_params *p, const char *host, const char *sock)
{
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return false;
    unsigned timeout = p->timeout_s ? p->timeout_s : 10;
    my_bool on = 1, off = 0;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    restrict_auth(m);
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
    bool yes = mysql_real_connect(m, host, p->user, p->password ? p->password : "", NULL, p->port,
                                  host ? NULL : sock, 0) != NULL &&
               mysql_get_ssl_cipher(m) != NULL;
    mysql_close(m);
    return yes;
}

/* The message for a failed mysql_real_connect. */
static int connect_error(MYSQL *m, const gd_conn_params *p, const char *ctx, const char *host,
                         const char *sock, gd_err *err)
{
    const char *pre = tls_prefix(&p->tls);
    const char *msg = mysql_error(m);
    unsigned no = mysql_errno(m);
    if (no == CR_SSL_CONNECTION_ERROR && strstr(msg, "does not support") != NULL)
        return no_tls_error(p, ctx, err);
    if (no == CR_SSL_CONNECTION_ERROR && strstr(msg, "Validation of SSL server") != NULL)
        return gd_err_set(err, GD_E_AUTH,
                          "%s: %s: the server's certificate does not name the host geodr "
                          "connects to (%smode = verify-identity): connect by a name or address "
                          "the certificate lists, or use %smode = verify-ca",
                          ctx, msg, pre, pre);
    if (no == CR_SSL_CONNECTION_ERROR && p->tls.ca)
        return gd_err_set(err, GD_E_AUTH,
                          "%s: the server's TLS certificate was refused (%s): check that %sca %s "
                          "is the CA that signed the server's certificate and that the "
                          "certificate is valid",
                          ctx, msg, pre, p->tls.ca);
    if (no == CR_SSL_CONNECTION_ERROR)
        return gd_err_set(err, GD_E_AUTH,
                          "%s: TLS failed (%s): with %smode = %s, set %sca to the CA that signed "
                          "the server's certificate",
                          ctx, msg, pre, gd_tls_mode_name(p->tls.mode), pre);
    if (no == ER_ACCESS_DENIED_ERROR && p->tls.mode == GD_TLS_DISABLED &&
        tls_only_server(p, host, sock))
        return gd_err_set(err, GD_E_AUTH,
                          "%s: the server accepts this login only over TLS "
                          "(require_secure_transport = ON) but %smode = disabled: set %smode = "
                          "verify-ca with %sca (or required)",
                          ctx, pre, pre, pre);
    if (no == ER_ACCESS_DENIED_ERROR && p->password_source)
        return gd_err_set(err, GD_E_AUTH, "%s: %s (check the user and the password in %s)", ctx,
                          msg, p->password_source);
    return gd_sql_error(m, err, ctx);
}

static int conn_open(const gd_conn_params *p, const gd_infile_handler *h, MYSQL **out, gd_err *err)
{
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot initialise a MariaDB client connection");
    int rc = tls_options(m, p, err);
    if (rc != 0)
        goto out;
    unsigned timeout = p->timeout_s ? p->timeout_s : 10;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (p->read_timeout_s) {
        unsigned rt = p->read_timeout_s;
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
    }
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* LOAD DATA LOCAL lets the server ask the client for any file.  It is
     * off on every connection but the loader's, and there only geodr's own
     * handler answers, installed before the server is even reached: the
     * client library's default handler (which reads the named local file)
     * never runs. */
    unsigned local = h != NULL;
    mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &local);
    if (h)
        mysql_set_local_infile_handler(m, h->init, h->read, h->end, h->error, h->userdata);
    /* Never read my.cnf: the config file is the only source of settings. */
    const char *host = (p->host && p->host[0]) ? p->host : NULL;
    const char *sock = (p->socket && p->socket[0]) ? p->socket : NULL;
    char ctx[512];
    if (host)
        snprintf(ctx, sizeof ctx, "cannot connect to %s at %s:%u as %s", p->what, host, p->port,
                 p->user);
    else
        snprintf(ctx, sizeof ctx, "cannot connect to %s at socket %s as %s", p->what,
                 sock ? sock : "(default)", p->user);
    if (mysql_real_connect(m, host, p->user, p->password ? p->password : "", NULL, p->port,
                           host ? NULL : sock, CLIENT_MULTI_RESULTS) == NULL) {
        rc = connect_error(m, p, ctx, host, sock, err);
        goto out;
    }
    /* Connector/C 3.3 goes on without TLS when the server does not offer it
     * (unless it checks the host name): refuse here, before any statement. */
    if (p->tls.mode >= GD_TLS_REQUIRED && mysql_get_ssl_cipher(m) == NULL) {
        rc = no_tls_error(p, ctx, err);
        goto out;
    }
    if ((rc = gd_sql(m, err, "SET time_zone = '+00:00'")) != 0)
        goto out;
    *out = m;
    m = NULL;
out:
    if (m)
        mysql_close(m);
    return rc;
}

int gd_conn_open(const gd_conn_params *p, MYSQL **out, gd_err *err)
{
    return conn_open(p, NULL, out, err);
}

int gd_conn_open_loader(const gd_conn_params *p, const gd_infile_handler *h, MYSQL **out,
                        gd_err *err)
{
    return conn_open(p, h, out, err);
}

void gd_conn_close(MYSQL *m)
{
    if (m)
        mysql_close(m);
}

static int drain(MYSQL *m, gd_err *err, const char *q)
{
    do {
        MYSQL_RES *res = mysql_store_result(m);
        if (res)
            mysql_free_result(res);
        else if (mysql_field_count(m) != 0)
            return gd_sql_error(m, err, q);
    } while (mysql_next_result(m) == 0);
    if (mysql_errno(m))
        return gd_sql_error(m, err, q);
    return 0;
}

static int vsql(MYSQL *m, gd_err *err, const char *secret, const char *fmt, va_list ap)
{
    char *q = vfmt(fmt, ap);
    gd_err e;
    gd_err_clear(&e);
    int rc = 0;
    if (mysql_real_query(m, q, strlen(q)) != 0)
        rc = gd_sql_error(m, &e, q);
    else
        rc = drain(m, &e, q);
    if (rc != 0) {
        gd_err_redact(&e, secret);
        if (err && err->code == GD_OK)
            *err = e;
    }
    free(q);
    return rc;
}

int gd_sql(MYSQL *m, gd_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsql(m, err, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int gd_sql_secret(MYSQL *m, gd_err *err, const char *secret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsql(m, err, secret, fmt, ap);
    va_end(ap);
    return rc;
}

static int vquery(MYSQL *m, MYSQL_RES **out, gd_err *err, const char *fmt, va_list ap)
{
    char *q = vfmt(fmt, ap);
    int rc = 0;
    if (mysql_real_query(m, q, strlen(q)) != 0) {
        rc = gd_sql_error(m, err, q);
    } else {
        MYSQL_RES *res = mysql_store_result(m);
        if (res == NULL)
            rc = mysql_errno(m) ? gd_sql_error(m, err, q)
                                : gd_err_set(err, GD_E_MYSQL, "%s: returned no result set", q);
        else
            *out = res;
    }
    free(q);
    return rc;
}

int gd_sql_query(MYSQL *m, MYSQL_RES **out, gd_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vquery(m, out, err, fmt, ap);
    va_end(ap);
    return rc;
}

int gd_sql_value(MYSQL *m, char **out, gd_err *err, const char *fmt, ...)
{
    MYSQL_RES *res = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vquery(m, &res, err, fmt, ap);
    va_end(ap);
    if (rc != 0)
        return rc;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || mysql_num_fields(res) < 1) {
        mysql_free_result(res);
        return gd_err_set(err, GD_E_NOTFOUND, "query returned no rows");
    }
    *out = gd_strdup(row[0] ? row[0] : "");
    mysql_free_result(res);
    return 0;
}

char *gd_sql_escape(MYSQL *m, const char *s)
{
    size_t n = strlen(s);
    char *out = gd_malloc(2 * n + 1);
    mysql_real_escape_string(m, out, s, (unsigned long)n);
    return out;
}
