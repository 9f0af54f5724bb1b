#include "replay/server_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* The self-signed certificate of key pk for ip. */
static X509 *make_cert(EVP_PKEY *pk, const char *ip)
{
    X509 *x = X509_new();
    if (x == NULL)
        return NULL;
    char san[80];
    snprintf(san, sizeof san, "IP:%s", ip);
    X509_NAME *name = X509_get_subject_name(x);
    BIGNUM *serial = BN_new();
    bool ok =
        serial != NULL && BN_rand(serial, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL &&
        X509_set_version(x, 2) == 1 && X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
        X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) != NULL &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"geodr binlog server", -1, -1, 0) == 1 &&
        X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, pk) == 1 &&
        add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
        add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") == 0 &&
        add_ext(x, NID_subject_alt_name, san) == 0 && X509_sign(x, pk, EVP_sha256()) > 0;
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b != NULL && PEM_write_bio_X509(b, x) == 1) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0)
            out = gd_strndup(data, (size_t)n);
    }
    BIO_free(b);
    return out;
}

int gd_replay_tls_new(const char *ip, SSL_CTX **ctx, char **pem, gd_err *err)
{
    *ctx = NULL;
    *pem = NULL;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = pk ? make_cert(pk, ip) : NULL;
    SSL_CTX *c = x ? SSL_CTX_new(TLS_server_method()) : NULL;
    char *p = c ? cert_pem(x) : NULL;
    int rc = 0;
    if (p == NULL || SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(c, x) != 1 || SSL_CTX_use_PrivateKey(c, pk) != 1) {
        char why[256] = "out of memory";
        unsigned long e = ERR_get_error();
        if (e)
            ERR_error_string_n(e, why, sizeof why);
        rc = gd_err_set(err, GD_E_STATE, "binlog server: cannot make its TLS certificate: %s", why);
        SSL_CTX_free(c);
        free(p);
    } else {
        *ctx = c;
        *pem = p;
    }
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}
