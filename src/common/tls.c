#include "common/tls.h"

#include <stdio.h>
#include <strings.h>

static const char *const mode_names[] = {
    [GD_TLS_PREFERRED] = "preferred",
    [GD_TLS_DISABLED] = "disabled",
    [GD_TLS_REQUIRED] = "required",
    [GD_TLS_VERIFY_CA] = "verify-ca",
    [GD_TLS_VERIFY_IDENTITY] = "verify-identity",
};

bool gd_tls_mode_parse(const char *s, gd_tls_mode *out)
{
    for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
        if (strcasecmp(s, mode_names[i]) == 0) {
            *out = (gd_tls_mode)i;
            return true;
        }
    }
    return false;
}

const char *gd_tls_mode_name(gd_tls_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "?";
}

bool gd_tls_check(const gd_tls_opts *t, char *msg, size_t n)
{
    const char *p = t->prefix ? t->prefix : "ssl-";
    const char *mode = gd_tls_mode_name(t->mode);
    if (t->mode == GD_TLS_DISABLED && (t->ca || t->cert || t->key)) {
        snprintf(msg, n,
                 "%smode = disabled but %s%s is set: remove it, or choose a mode that uses TLS "
                 "(verify-ca, verify-identity)",
                 p, p,
                 t->ca     ? "ca"
                 : t->cert ? "cert"
                           : "key");
        return false;
    }
    if (t->ca && (t->mode == GD_TLS_PREFERRED || t->mode == GD_TLS_REQUIRED)) {
        snprintf(msg, n,
                 "%sca is set but %smode = %s does not check the server's certificate: set "
                 "%smode = verify-ca (or verify-identity) to check it against %sca, or remove "
                 "%sca",
                 p, p, mode, p, p, p);
        return false;
    }
    if (t->mode == GD_TLS_VERIFY_CA && !t->ca) {
        snprintf(msg, n,
                 "%smode = verify-ca needs %sca: the file of the CA certificate that signed the "
                 "server's certificate",
                 p, p);
        return false;
    }
    if (!!t->cert != !!t->key) {
        snprintf(msg, n,
                 "%s%s is set without %s%s: a client certificate needs both %scert and %skey", p,
                 t->cert ? "cert" : "key", p, t->cert ? "key" : "cert", p, p);
        return false;
    }
    return true;
}
