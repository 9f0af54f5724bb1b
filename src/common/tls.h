/* TLS settings of a connection to a MariaDB/MySQL server: one struct for
 * every connection geodr opens (the instance's source connections, the
 * archiver's replica connection, restore targets).  The instance config
 * (ssl-mode, ssl-ca, ssl-cert, ssl-key) and the restore command line
 * (--target-ssl-*) both fill it; src/mysql/conn.c applies it.
 * docs/tls.md says what each mode protects against.
 *
 * This module only parses and checks settings (no TLS library here): it sits
 * in common so the config parser can use it. */
#ifndef GD_COMMON_TLS_H
#define GD_COMMON_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* MySQL's --ssl-mode names.  The zero value is the default: preferred.
 * Every mode from GD_TLS_REQUIRED on needs TLS (keep that order). */
typedef enum gd_tls_mode {
    GD_TLS_PREFERRED = 0,   /* TLS when the server offers it, certificate not checked */
    GD_TLS_DISABLED,        /* never TLS */
    GD_TLS_REQUIRED,        /* TLS or no connection; certificate not checked */
    GD_TLS_VERIFY_CA,       /* TLS, server certificate signed by ssl-ca */
    GD_TLS_VERIFY_IDENTITY, /* as verify-ca, and the certificate names the host */
} gd_tls_mode;

typedef struct gd_tls_opts {
    gd_tls_mode mode;
    const char *ca;   /* CA certificate file (PEM); NULL: none */
    const char *cert; /* client certificate (PEM), with key; NULL: none */
    const char *key;  /* client private key (PEM), with cert; NULL: none */
    /* How the operator names these settings, for messages: "ssl-" in the
     * config, "--target-ssl-" on the restore command line.  NULL: "ssl-". */
    const char *prefix;
} gd_tls_opts;

/* "verify-ca" -> GD_TLS_VERIFY_CA; false when s is not one of disabled,
 * preferred, required, verify-ca, verify-identity (case-insensitive). */
bool gd_tls_mode_parse(const char *s, gd_tls_mode *out);
/* The mode's name as the operator writes it. */
const char *gd_tls_mode_name(gd_tls_mode m);

/* Checks that the settings make sense together; on a problem returns false
 * and writes into msg (size n) one sentence naming the settings (with
 * t->prefix) and saying what to write instead:
 *  - verify-ca needs a CA (there is no other way to say which CA signs);
 *  - ssl-cert and ssl-key come together;
 *  - ssl-ca, ssl-cert and ssl-key with disabled are contradictions, and
 *    ssl-ca with preferred/required would look like verification that is
 *    not done.
 * verify-identity without ssl-ca uses the system's CA store. */
bool gd_tls_check(const gd_tls_opts *t, char *msg, size_t n);

#endif
