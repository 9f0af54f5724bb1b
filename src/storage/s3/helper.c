/* The S3 driver's settings, read once when a storage opens: the endpoint
 * and how buckets are addressed on it, the signing region, the credentials
 * (credentials-file or the AWS_* environment variables) and the tuning of
 * timeouts and retries (GEODR_S3_TIMEOUTS).  Design: docs/s3.md ("Keys and
 * addressing", "Credentials", "Timeouts").  Secrets are wiped from memory
 * when freed and never put into a message. */
#include "storage/s3/s3.intern.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "storage/s3/sigv4.h"

/* ---- tuning ---- */

void gd_s3_tuning_defaults(gd_s3_tuning *t)
{
    t->connect_ms = 10000;
    t->stall_s = 30;
    t->attempts = 0;
    t->retry_ms = 120000;
    t->backoff_ms = 200;
    t->backoff_max_ms = 8000;
    t->list_ms = 3600000;
    t->stale_upload_s = 7 * 86400;
}

int gd_s3_tuning_parse(const char *spec, gd_s3_tuning *t, gd_err *err)
{
    const char *help = "GEODR_S3_TIMEOUTS: expected comma-separated key=value with keys connect "
                       "(seconds), stall (whole seconds >= 1), retry (seconds), attempts (1-100), "
                       "backoff-ms, backoff-max-ms, list (seconds), stale-upload (seconds)";
    char *dup = gd_strdup(spec);
    int rc = 0;
    char *next = NULL;
    for (char *tok = dup; tok != NULL; tok = next) {
        char *comma = strchr(tok, ',');
        next = comma ? comma + 1 : NULL;
        if (comma)
            *comma = '\0';
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; got '%.100s'", help, tok);
            goto out;
        }
        *eq = '\0';
        char *end = NULL;
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (errno != 0 || end == eq + 1 || (*end != '\0' && *end != ' ') || v < 0 || v > 1e7) {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; bad value for %.50s", help, tok);
            goto out;
        }
        if (strcmp(tok, "connect") == 0 && v > 0) {
            t->connect_ms = (long)(v * 1000);
            if (t->connect_ms < 1)
                t->connect_ms = 1;
        } else if (strcmp(tok, "stall") == 0 && v >= 1) {
            t->stall_s = (long)v;
        } else if (strcmp(tok, "attempts") == 0 && v >= 1 && v <= 100) {
            t->attempts = (int)v;
        } else if (strcmp(tok, "retry") == 0 && v > 0) {
            t->retry_ms = (long)(v * 1000);
        } else if (strcmp(tok, "list") == 0 && v > 0) {
            t->list_ms = (long)(v * 1000);
        } else if (strcmp(tok, "stale-upload") == 0 && v >= 1) {
            t->stale_upload_s = (long)v;
        } else if (strcmp(tok, "backoff-ms") == 0) {
            t->backoff_ms = (long)v;
        } else if (strcmp(tok, "backoff-max-ms") == 0) {
            t->backoff_max_ms = (long)v;
        } else {
            rc = gd_err_set(err, GD_E_CONFIG, "%s; got '%.50s=%.50s'", help, tok, eq + 1);
            goto out;
        }
    }
out:
    free(dup);
    return rc;
}

/* ---- credentials ---- */

static void wipe_free(char *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

typedef struct cred_ctx {
    const char *profile;
    bool in_profile, found;
    char *id, *secret, *token;
    gd_buf sections;
} cred_ctx;

static int cred_cb(void *ctx, const char *section, const char *key, const char *value, int line,
                   gd_err *err)
{
    (void)line;
    (void)err;
    cred_ctx *c = ctx;
    if (key == NULL) {
        const char *name = section;
        if (strncmp(name, "profile ", 8) == 0)
            name += 8;
        c->in_profile = strcmp(name, c->profile) == 0;
        c->found |= c->in_profile;
        if (c->sections.len < 400)
            gd_buf_appendf(&c->sections, "%s%s", c->sections.len ? ", " : "", name);
        return 0;
    }
    if (!c->in_profile)
        return 0;
    char **dst = NULL;
    if (strcmp(key, "aws_access_key_id") == 0)
        dst = &c->id;
    else if (strcmp(key, "aws_secret_access_key") == 0)
        dst = &c->secret;
    else if (strcmp(key, "aws_session_token") == 0 || strcmp(key, "aws_security_token") == 0)
        dst = &c->token;
    if (dst != NULL) {
        wipe_free(*dst);
        *dst = gd_strdup(value);
    }
    return 0;
}

static bool header_safe(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int load_credentials(const gd_region_cfg *cfg, s3_storage *s, gd_err *err)
{
    const char *profile = cfg->profile ? cfg->profile : "default";
    if (cfg->credentials_file == NULL) {
        const char *id = getenv("AWS_ACCESS_KEY_ID");
        const char *sec = getenv("AWS_SECRET_ACCESS_KEY");
        const char *tok = getenv("AWS_SESSION_TOKEN");
        if (id == NULL || id[0] == '\0' || sec == NULL || sec[0] == '\0')
            return gd_err_set(err, GD_E_CONFIG,
                              "region %s: no S3 credentials: set 'credentials-file' (AWS "
                              "shared-credentials format) or the AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY environment variables",
                              cfg->name);
        s->access_key = gd_strdup(id);
        s->secret_key = gd_strdup(sec);
        if (tok != NULL && tok[0] != '\0')
            s->session_token = gd_strdup(tok);
    } else {
        char *text = NULL;
        gd_err e;
        gd_err_clear(&e);
        int rc = gd_read_small_file(cfg->credentials_file, 1 << 20, &text, NULL, &e);
        if (rc != 0)
            return gd_err_set(err, GD_E_CONFIG, "region %s: cannot read credentials-file: %s",
                              cfg->name, e.msg);
        cred_ctx c = {.profile = profile};
        gd_buf_init(&c.sections, 0);
        gd_err_clear(&e);
        rc = gd_ini_parse_named(text, cfg->credentials_file, cred_cb, &c, &e);
        OPENSSL_cleanse(text, strlen(text));
        free(text);
        if (rc == 0 && !c.found)
            rc = gd_err_set(&e, GD_E_CONFIG, "profile [%s] not found in %s (profiles there: %s)",
                            profile, cfg->credentials_file,
                            c.sections.len ? c.sections.data : "none");
        else if (rc == 0 && (c.id == NULL || c.secret == NULL || !c.id[0] || !c.secret[0]))
            rc = gd_err_set(&e, GD_E_CONFIG,
                            "profile [%s] in %s lacks aws_access_key_id or aws_secret_access_key",
                            profile, cfg->credentials_file);
        gd_buf_free(&c.sections);
        if (rc != 0) {
            wipe_free(c.id);
            wipe_free(c.secret);
            wipe_free(c.token);
            return gd_err_set(err, GD_E_CONFIG, "region %s: %s", cfg->name, e.msg);
        }
        s->access_key = c.id;
        s->secret_key = c.secret;
        s->session_token = c.token;
    }
    if (!header_safe(s->access_key) || !header_safe(s->secret_key) ||
        (s->session_token && !header_safe(s->session_token)) || strchr(s->access_key, '/'))
        return gd_err_set(err, GD_E_CONFIG,
                          "region %s: the S3 credentials contain control characters or a '/' "
                          "in the access key id",
                          cfg->name);
    return 0;
}

/* ---- endpoint and addressing ---- */

static bool is_ip_host(const char *host)
{
    if (host[0] == '[')
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1;
}

/* A bucket name that can be the first label of a host name (and, over
 * https, match a wildcard certificate: no dots). */
static bool dns_bucket(const char *b, bool https)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && !https)))
            return false;
    }
    return true;
}

/* Addressing.  Path-style (http://host:port/bucket/key) when the endpoint
 * names a port, an IP address or localhost: that is a private deployment
 * (MinIO, Ceph RGW, s3rver) where bucket subdomains rarely resolve.
 * Virtual-hosted (https://bucket.host/key) otherwise, as AWS and Alibaba
 * OSS expect, except for bucket names that cannot be a host label (or, over
 * https, contain dots that a wildcard certificate would not match), which
 * fall back to path-style. */
static void addressing(s3_storage *s, const char *bucket, const char *scheme, const char *host,
                       const char *port, const char *path)
{
    bool https = strcmp(scheme, "https") == 0;
    s->path_style = port != NULL || is_ip_host(host) || strcasecmp(host, "localhost") == 0 ||
                    !dns_bucket(bucket, https);
    /* Host as curl sends it: the port only when it is not the scheme's. */
    bool default_port =
        port == NULL || (https ? strcmp(port, "443") == 0 : strcmp(port, "80") == 0);
    char *authority = default_port ? gd_strdup(host) : gd_asprintf("%s:%s", host, port);
    if (s->path_style)
        s->host_header = authority;
    else {
        s->host_header = gd_asprintf("%s.%s", bucket, authority);
        free(authority);
    }
    s->url_base = gd_asprintf("%s://%s", scheme, s->host_header);
    size_t pl = path ? strlen(path) : 0;
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    gd_buf pb;
    gd_buf_init(&pb, 0);
    gd_buf_append(&pb, path ? path : "", pl);
    if (s->path_style) {
        gd_buf_append(&pb, "/", 1);
        gd_sigv4_uri_encode(&pb, bucket, strlen(bucket), false);
    }
    s->path_base = pb.data ? pb.data : gd_strdup("");
}

/* Checks the endpoint URL (http or https, no user or query) and sets the
 * addressing from it. */
static int endpoint_load(const gd_region_cfg *cfg, const char *rname, s3_storage *s, gd_err *err)
{
    int rc = 0;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLU *u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: endpoint = %.200s is not a valid URL (write e.g. "
                        "https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000)",
                        rname, cfg->endpoint);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: endpoint = %.200s: must be http:// or https://", rname,
                        cfg->endpoint);
        goto out;
    }
    char *qpart = NULL, *user = NULL;
    bool extra = curl_url_get(u, CURLUPART_QUERY, &qpart, 0) == CURLUE_OK ||
                 curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
    curl_free(qpart);
    curl_free(user);
    if (extra) {
        rc = gd_err_set(err, GD_E_CONFIG,
                        "region %s: the endpoint URL must not contain a user, a password or a "
                        "query (credentials go in credentials-file)",
                        rname);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        path = NULL;
    addressing(s, cfg->bucket, scheme, host, port, path);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

/* ---- all settings ---- */

int gd_s3_settings_load(const gd_region_cfg *cfg, s3_storage *s, gd_err *err)
{
    const char *rname = cfg->name ? cfg->name : "?";
    int rc = endpoint_load(cfg, rname, s, err);
    if (rc != 0)
        return rc;
    s->endpoint = gd_strdup(cfg->endpoint);
    s->bucket = gd_strdup(cfg->bucket);
    s->prefix = gd_strdup(cfg->prefix ? cfg->prefix : "");
    s->sign_region = gd_strdup(cfg->region && cfg->region[0] ? cfg->region : "us-east-1");
    s->sigv4_param = gd_asprintf("aws:amz:%s:s3", s->sign_region);
    s->ca_file = cfg->ca_file ? gd_strdup(cfg->ca_file) : NULL;
    gd_s3_tuning_defaults(&s->t);
    const char *tune = getenv("GEODR_S3_TIMEOUTS");
    if (tune != NULL && tune[0] != '\0') {
        rc = gd_s3_tuning_parse(tune, &s->t, err);
        if (rc != 0)
            return rc;
    }
    /* A retry budget that rounds to 0 ms (retry=0.0001) means one try: the
     * helper reads 0 as no limit by time. */
    s->retry = (gd_retry_policy){.first_ms = s->t.backoff_ms,
                                 .max_ms = s->t.backoff_max_ms,
                                 .jitter = true,
                                 .budget_ms = s->t.retry_ms,
                                 .attempts = s->t.retry_ms > 0 ? s->t.attempts : 1};
    return load_credentials(cfg, s, err);
}

void gd_s3_settings_free(s3_storage *s)
{
    free(s->endpoint);
    free(s->bucket);
    free(s->prefix);
    free(s->url_base);
    free(s->host_header);
    free(s->path_base);
    free(s->sign_region);
    free(s->sigv4_param);
    free(s->ca_file);
    wipe_free(s->access_key);
    wipe_free(s->secret_key);
    wipe_free(s->session_token);
}
