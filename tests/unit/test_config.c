/* Unit tests for common/ini and common/config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"

static char g_dir[] = "/tmp/gd_test_config_XXXXXX";
static int g_seq;

static int setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = gd_asprintf("rm -rf '%s'", g_dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* Writes text to a fresh file and returns its path (caller frees). */
static char *write_file(const char *text)
{
    char *path = gd_asprintf("%s/geodr%d.conf", g_dir, g_seq++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *const FULL =
    "# geodr test config\n"
    "[region home]                 # posix: a directory\n"
    "type = posix\n"
    "path = /var/lib/geodr/home\n"
    "\n"
    "[region frankfurt]            # s3: any S3-compatible endpoint\n"
    "type = s3\n"
    "endpoint = https://s3.eu-central-1.amazonaws.com\n"
    "bucket = acme-db-backups\n"
    "prefix = geodr/\n"
    "region = eu-central-1\n"
    "credentials-file = /etc/geodr/aws-credentials  # AWS shared-credentials format\n"
    "profile = backup                  # default \"default\"; without a file: AWS_* env\n"
    "ca-file = /etc/ssl/certs/ca-certificates.crt   # TLS verified unless told\n"
    "\n"
    "[region paris]\n"
    "type = s3\n"
    "endpoint = http://127.0.0.1:4568\n"
    "bucket = b2\n"
    "\n"
    "[instance shop]\n"
    "host = 10.0.0.5\n"
    "port = 3306\n"
    "user = geodr\n"
    "password-file = /etc/geodr/shop.password   # or password-env = NAME; never argv\n"
    "key-file = /etc/geodr/shop.key             # a passphrase line; encryption on when set\n"
    "home-region = home\n"
    "retention-days = 7                         # home: 1-35\n"
    "cross-region-backup = on                   # copies of backup sets\n"
    "copy-regions = frankfurt, paris\n"
    "copy-retention-days = 30                   # copies: 7-1825\n"
    "cross-region-log-backup = yes\n"
    "jobs = 8\n"
    "compress-level = 5\n"
    "chunk-rows = 100000\n"
    "\n"
    "; a minimal instance\n"
    "[instance crm]\n"
    "user = backup\n"
    "socket = /run/mysqld/mysqld.sock\n"
    "password-env = CRM_PW\n"
    "home-region = frankfurt\n";

static void test_full_config(void **state)
{
    (void)state;
    char *path = write_file(FULL);
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_config_load(path, &c, &e);
    if (rc != 0)
        fail_msg("load failed: %s", e.msg);
    assert_non_null(c);
    assert_string_equal(c->path, path);
    assert_int_equal(c->n_regions, 3);
    assert_int_equal(c->n_instances, 2);

    const gd_region_cfg *r = gd_config_region(c, "home", &e);
    assert_non_null(r);
    assert_int_equal(r->type, GD_REGION_POSIX);
    assert_string_equal(r->path, "/var/lib/geodr/home");
    assert_int_equal(r->line, 2);
    assert_null(r->endpoint);

    r = gd_config_region(c, "frankfurt", &e);
    assert_non_null(r);
    assert_int_equal(r->type, GD_REGION_S3);
    assert_null(r->path);
    assert_string_equal(r->endpoint, "https://s3.eu-central-1.amazonaws.com");
    assert_string_equal(r->bucket, "acme-db-backups");
    assert_string_equal(r->prefix, "geodr/");
    assert_string_equal(r->region, "eu-central-1");
    assert_string_equal(r->credentials_file, "/etc/geodr/aws-credentials");
    assert_string_equal(r->profile, "backup");
    assert_string_equal(r->ca_file, "/etc/ssl/certs/ca-certificates.crt");

    r = gd_config_region(c, "paris", &e);
    assert_non_null(r);
    assert_string_equal(r->profile, "default");
    assert_null(r->prefix);
    assert_null(r->credentials_file);

    const gd_instance_cfg *ic = gd_config_instance(c, "shop", &e);
    assert_non_null(ic);
    assert_string_equal(ic->name, "shop");
    assert_string_equal(ic->host, "10.0.0.5");
    assert_int_equal(ic->port, 3306);
    assert_null(ic->socket);
    assert_string_equal(ic->user, "geodr");
    assert_string_equal(ic->password_file, "/etc/geodr/shop.password");
    assert_null(ic->password_env);
    assert_string_equal(ic->key_file, "/etc/geodr/shop.key");
    assert_string_equal(ic->home_region, "home");
    assert_int_equal(ic->retention_days, 7);
    assert_true(ic->cross_region_backup);
    assert_int_equal(ic->n_copy_regions, 2);
    assert_string_equal(ic->copy_regions[0], "frankfurt");
    assert_string_equal(ic->copy_regions[1], "paris");
    assert_int_equal(ic->copy_retention_days, 30);
    assert_true(ic->cross_region_log_backup);
    assert_int_equal(ic->jobs, 8);
    assert_int_equal(ic->compress_level, 5);
    assert_int_equal(ic->chunk_rows, 100000);
    assert_int_equal(ic->line, 21);

    /* Defaults. */
    ic = gd_config_instance(c, "crm", &e);
    assert_non_null(ic);
    assert_string_equal(ic->host, "127.0.0.1");
    assert_int_equal(ic->port, 3306);
    assert_string_equal(ic->socket, "/run/mysqld/mysqld.sock");
    assert_string_equal(ic->password_env, "CRM_PW");
    assert_null(ic->password_file);
    assert_null(ic->key_file);
    assert_int_equal(ic->retention_days, 7);
    assert_false(ic->cross_region_backup);
    assert_int_equal(ic->n_copy_regions, 0);
    assert_int_equal(ic->copy_retention_days, 7);
    assert_false(ic->cross_region_log_backup);
    assert_int_equal(ic->jobs, 4);
    assert_int_equal(ic->compress_level, 1);
    assert_int_equal(ic->chunk_rows, 500000);
    assert_int_equal(e.code, GD_OK);

    gd_config_free(c);
    free(path);
}

static void test_lookup_unknown(void **state)
{
    (void)state;
    char *path = write_file(FULL);
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);

    assert_null(gd_config_instance(c, "shpo", &e));
    assert_int_equal(e.code, GD_E_NOTFOUND);
    char *want = gd_asprintf("unknown instance 'shpo' (configured: shop, crm) in %s", path);
    assert_string_equal(e.msg, want);
    free(want);

    gd_err_clear(&e);
    assert_null(gd_config_region(c, "tokyo", &e));
    assert_int_equal(e.code, GD_E_NOTFOUND);
    assert_non_null(strstr(e.msg, "unknown region 'tokyo' (configured: home, frankfurt, paris)"));

    gd_config_free(c);
    free(path);
}

/* Loads text expecting failure with code; checks the message starts with
 * "<file>:<line>: " and contains each of the given fragments. */
static void expect_error(const char *text, int code, int line, const char *frag1, const char *frag2)
{
    char *path = write_file(text);
    gd_config *c = (gd_config *)(uintptr_t)1;
    gd_err e;
    gd_err_clear(&e);
    int rc = gd_config_load(path, &c, &e);
    if (rc != code)
        fail_msg("expected %d got %d (%s) for:\n%s", code, rc, e.msg, text);
    assert_int_equal(e.code, code);
    assert_null(c);
    char *prefix = gd_asprintf("%s:%d: ", path, line);
    if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", e.msg, prefix);
    if (frag1 != NULL && strstr(e.msg, frag1) == NULL)
        fail_msg("message '%s' lacks '%s'", e.msg, frag1);
    if (frag2 != NULL && strstr(e.msg, frag2) == NULL)
        fail_msg("message '%s' lacks '%s'", e.msg, frag2);
    free(prefix);
    free(path);
}

#define REGION_HOME "[region home]\ntype = posix\npath = /srv/geodr\n"
#define REGION_FRA "[region fra]\ntype = s3\nendpoint = https://s3.example\nbucket = b\n"
#define INST_HEAD "[instance shop]\nuser = geodr\nhome-region = home\n"

static void test_bad_port(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "port = 70000\n", GD_E_CONFIG, 7, "port = 70000", "1-65535");
    expect_error(REGION_HOME INST_HEAD "port = 0\n", GD_E_CONFIG, 7, "port", "1-65535");
    expect_error(REGION_HOME INST_HEAD "port = 33o6\n", GD_E_CONFIG, 7, "port", "1-65535");
    expect_error(REGION_HOME INST_HEAD "port = -1\n", GD_E_CONFIG, 7, "port", "1-65535");
    expect_error(REGION_HOME INST_HEAD "port = 99999999999999999999999\n", GD_E_CONFIG, 7, "port",
                 "1-65535");
}

static void test_retention_ranges(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "retention-days = 90\n", GD_E_CONFIG, 7,
                 "retention-days = 90", "1-35 for the home region");
    expect_error(REGION_HOME INST_HEAD "retention-days = 0\n", GD_E_CONFIG, 7, "retention-days",
                 "1-35");
    expect_error(REGION_HOME INST_HEAD "retention-days = 36\n", GD_E_CONFIG, 7, "retention-days",
                 "1-35");
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-retention-days = 6\n", GD_E_CONFIG, 11,
                 "copy-retention-days = 6", "7-1825");
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-retention-days = 1826\n", GD_E_CONFIG, 11,
                 "copy-retention-days", "7-1825");
    expect_error(REGION_HOME INST_HEAD "jobs = 65\n", GD_E_CONFIG, 7, "jobs", "1-64");
    expect_error(REGION_HOME INST_HEAD "compress-level = 20\n", GD_E_CONFIG, 7, "compress-level",
                 "1-19");
    expect_error(REGION_HOME INST_HEAD "chunk-rows = 999\n", GD_E_CONFIG, 7, "chunk-rows",
                 "1000-100000000");

    /* The edges are accepted. */
    char *path = write_file(REGION_HOME INST_HEAD "retention-days = 35\ncopy-retention-days = "
                                                  "1825\njobs = 64\nchunk-rows = 100000000\n");
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    assert_int_equal(c->instances[0].retention_days, 35);
    assert_int_equal(c->instances[0].copy_retention_days, 1825);
    assert_int_equal(c->instances[0].chunk_rows, 100000000);
    gd_config_free(c);
    free(path);
}

static void test_ssl_keys(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "ssl-mode = verify-full\n", GD_E_CONFIG, 7,
                 "ssl-mode = verify-full",
                 "disabled, preferred, required, verify-ca or verify-identity");
    expect_error(REGION_HOME INST_HEAD "ssl-mode = verify-ca\n", GD_E_CONFIG, 7,
                 "ssl-mode = verify-ca needs ssl-ca", NULL);
    expect_error(REGION_HOME INST_HEAD "ssl-ca = /etc/ca.pem\n", GD_E_CONFIG, 4,
                 "ssl-ca is set but ssl-mode = preferred does not check",
                 "set ssl-mode = verify-ca");
    expect_error(REGION_HOME INST_HEAD "ssl-mode = disabled\nssl-cert = /c.pem\nssl-key = /k.pem\n",
                 GD_E_CONFIG, 7, "ssl-mode = disabled but ssl-cert is set", NULL);
    expect_error(REGION_HOME INST_HEAD "ssl-mode = required\nssl-cert = /c.pem\n", GD_E_CONFIG, 7,
                 "ssl-cert is set without ssl-key", NULL);
    expect_error(REGION_HOME INST_HEAD "ssl-key = key.pem\n", GD_E_CONFIG, 7, "ssl-key = key.pem",
                 "absolute path");

    char *path = write_file(REGION_HOME INST_HEAD "ssl-mode = Verify-Identity\nssl-ca = /ca.pem\n"
                                                  "ssl-cert = /c.pem\nssl-key = /k.pem\n"
                                                  "[instance crm]\nuser = u\nhome-region = home\n");
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    gd_tls_opts t = gd_instance_tls(&c->instances[0]);
    assert_int_equal(t.mode, GD_TLS_VERIFY_IDENTITY);
    assert_string_equal(t.ca, "/ca.pem");
    assert_string_equal(t.cert, "/c.pem");
    assert_string_equal(t.key, "/k.pem");
    t = gd_instance_tls(&c->instances[1]);
    assert_int_equal(t.mode, GD_TLS_PREFERRED); /* the default */
    assert_null(t.ca);
    gd_config_free(c);
    free(path);
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "prot = 3306\n", GD_E_CONFIG, 7, "unknown key 'prot'",
                 "did you mean 'port'?");
    expect_error(REGION_HOME INST_HEAD "colour = blue\n", GD_E_CONFIG, 7, "'colour'",
                 "valid keys are: host, port, socket, user");
    expect_error("[region home]\ntype = posix\nbucket-name = x\n", GD_E_CONFIG, 3,
                 "unknown key 'bucket-name' in [region home]", "credentials-file");
    /* s3 keys in a posix region. */
    expect_error("[region home]\ntype = posix\npath = /x\nbucket = b\n", GD_E_CONFIG, 4, "bucket",
                 "type = posix");
}

static void test_unknown_section(void **state)
{
    (void)state;
    expect_error(REGION_HOME "[instanse shop]\nuser = x\n", GD_E_CONFIG, 4,
                 "unknown section [instanse shop]", "[instance NAME]");
    expect_error("[region]\ntype = posix\n", GD_E_CONFIG, 1, "[region NAME]", NULL);
    expect_error("[region a b]\n", GD_E_CONFIG, 1, "one word", NULL);
    expect_error("[region ../x]\n", GD_E_CONFIG, 1, "region name", NULL);
    expect_error("type = posix\n[region home]\n", GD_E_CONFIG, 1, "outside any section", NULL);
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_error(REGION_HOME "[instance shop]\nhome-region = home\n", GD_E_CONFIG, 4,
                 "[instance shop] has no user", "user = NAME");
    expect_error(REGION_HOME "[instance shop]\nuser = u\n", GD_E_CONFIG, 4, "no home-region", NULL);
    expect_error("[region home]\npath = /x\n", GD_E_CONFIG, 1, "no type", "type = posix");
    expect_error("[region home]\ntype = posix\n", GD_E_CONFIG, 1, "no path", NULL);
    expect_error("[region s]\ntype = s3\nbucket = b\n", GD_E_CONFIG, 1, "no endpoint", NULL);
    expect_error("[region s]\ntype = s3\nendpoint = https://h\n", GD_E_CONFIG, 1, "no bucket",
                 NULL);
    expect_error("[region home]\ntype = tape\n", GD_E_CONFIG, 2, "type = tape", "posix or s3");
    expect_error("[region home]\ntype = posix\npath = relative/dir\n", GD_E_CONFIG, 3, "path",
                 "absolute");
    expect_error("[region s]\ntype = s3\nendpoint = s3.example.com\nbucket = b\n", GD_E_CONFIG, 3,
                 "endpoint", "https://");
    expect_error(REGION_HOME INST_HEAD "host =\n", GD_E_CONFIG, 7, "host has no value", NULL);
    /* The error is reported when the section ends, even when another follows. */
    expect_error(REGION_HOME "[instance shop]\nhome-region = home\n[region x]\ntype = posix\n"
                             "path = /y\n",
                 GD_E_CONFIG, 4, "has no user", NULL);
}

static void test_home_region_unknown(void **state)
{
    (void)state;
    expect_error(REGION_HOME REGION_FRA "[instance shop]\nuser = u\nhome-region = hom\n",
                 GD_E_CONFIG, 10, "home-region = hom", "configured: home, fra");
    /* Regions may be defined after the instance that uses them. */
    char *path = write_file(INST_HEAD REGION_HOME);
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    gd_config_free(c);
    free(path);
}

static void test_copy_regions(void **state)
{
    (void)state;
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-regions = fra, home\n", GD_E_CONFIG, 11,
                 "copy region home is the home region of instance shop: choose another region",
                 NULL);
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-regions = fra, tokyo\n", GD_E_CONFIG, 11,
                 "tokyo", "configured: home, fra");
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-regions = fra,,\n", GD_E_CONFIG, 11,
                 "copy-regions", "empty");
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-regions = fra, fra\n", GD_E_CONFIG, 11,
                 "twice", NULL);
    expect_error(REGION_HOME INST_HEAD "cross-region-backup = on\n", GD_E_CONFIG, 7,
                 "cross-region-backup", "copy-regions");
}

static void test_password_both(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "password-file = /p\npassword-env = PW\n", GD_E_CONFIG, 8,
                 "password-file (line 7) and password-env (line 8)", "keep only one");
    expect_error(REGION_HOME INST_HEAD "password-env = hunter 2\n", GD_E_CONFIG, 7, "password-env",
                 "name of an environment variable");
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error(REGION_HOME INST_HEAD "port = 1\nport = 2\n", GD_E_CONFIG, 8,
                 "duplicate key 'port'", "first set on line 7");
    expect_error(REGION_HOME REGION_HOME, GD_E_CONFIG, 4, "duplicate section [region home]",
                 "first on line 1");
    expect_error(REGION_HOME INST_HEAD INST_HEAD, GD_E_CONFIG, 7,
                 "duplicate section [instance shop]", NULL);
}

static void test_bad_boolean(void **state)
{
    (void)state;
    expect_error(REGION_HOME REGION_FRA INST_HEAD "copy-regions = fra\ncross-region-backup = "
                                                  "maybe\n",
                 GD_E_CONFIG, 12, "cross-region-backup = maybe", "on or off");

    static const char *const good[] = {"on",    "off", "yes", "no", "true",
                                       "false", "1",   "0",   "ON", "Off"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *text = gd_asprintf(REGION_HOME REGION_FRA INST_HEAD
                                 "copy-regions = fra\ncross-region-log-backup = %s\n",
                                 good[i]);
        char *path = write_file(text);
        gd_config *c = NULL;
        gd_err e;
        gd_err_clear(&e);
        if (gd_config_load(path, &c, &e) != 0)
            fail_msg("'%s' rejected: %s", good[i], e.msg);
        bool want = i % 2 == 0;
        assert_int_equal(c->instances[0].cross_region_log_backup, want);
        gd_config_free(c);
        free(path);
        free(text);
    }
}

static void test_malformed_line(void **state)
{
    (void)state;
    expect_error(REGION_HOME "just some words\n", GD_E_CONFIG, 4,
                 "expected 'key = value' or '[section]'", NULL);
    expect_error("[region home\n", GD_E_CONFIG, 1, "']'", NULL);
    expect_error("[region home] trailing\n", GD_E_CONFIG, 1, "after ']'", NULL);
    expect_error(REGION_HOME "= value\n", GD_E_CONFIG, 4, "key", NULL);
    expect_error(REGION_HOME "two words = value\n", GD_E_CONFIG, 4, "one word", NULL);
}

static void test_missing_file(void **state)
{
    (void)state;
    char *path = gd_asprintf("%s/nope.conf", g_dir);
    gd_config *c = (gd_config *)(uintptr_t)1;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), GD_E_CONFIG);
    assert_null(c);
    char *want = gd_asprintf("cannot read config %s: No such file or directory (pass --config "
                             "FILE or set GEODR_CONFIG)",
                             path);
    assert_string_equal(e.msg, want);
    free(want);
    free(path);

    /* A directory is not a config. */
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(g_dir, &c, &e), GD_E_CONFIG);
    assert_non_null(strstr(e.msg, "cannot read config"));
}

static void test_empty_and_comments(void **state)
{
    (void)state;
    char *path = write_file("\n# only comments\n; here\n   \n");
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    assert_int_equal(c->n_regions, 0);
    assert_int_equal(c->n_instances, 0);
    assert_null(gd_config_instance(c, "x", &e));
    assert_non_null(strstr(e.msg, "(configured: none)"));
    gd_config_free(c);
    free(path);

    /* CRLF line endings, a BOM, tabs and '#' inside a value. */
    path = write_file("\xEF\xBB\xBF[region\thome]\r\ntype\t=\tposix\r\npath = /srv/a#b  # c\r\n");
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    assert_string_equal(c->regions[0].name, "home");
    assert_string_equal(c->regions[0].path, "/srv/a#b");
    gd_config_free(c);
    free(path);
}

static void test_config_path_env(void **state)
{
    (void)state;
    unsetenv("GEODR_CONFIG");
    assert_string_equal(gd_config_path(NULL), GD_DEFAULT_CONFIG);
    assert_string_equal(gd_config_path("/x.conf"), "/x.conf");
    setenv("GEODR_CONFIG", "/from/env.conf", 1);
    assert_string_equal(gd_config_path(NULL), "/from/env.conf");
    /* --config wins over the environment. */
    assert_string_equal(gd_config_path("/x.conf"), "/x.conf");
    setenv("GEODR_CONFIG", "", 1);
    assert_string_equal(gd_config_path(NULL), GD_DEFAULT_CONFIG);
    unsetenv("GEODR_CONFIG");
}

static void test_instance_password(void **state)
{
    (void)state;
    char *pwfile = write_file("s3cr3t\nignored\n");
    char *text = gd_asprintf(REGION_HOME "[instance a]\nuser = u\nhome-region = home\n"
                                         "password-file = %s\n"
                                         "[instance b]\nuser = u\nhome-region = home\n"
                                         "password-env = GD_TEST_PW\n"
                                         "[instance c]\nuser = u\nhome-region = home\n"
                                         "[instance d]\nuser = u\nhome-region = home\n"
                                         "password-file = %s/missing\n",
                             pwfile, g_dir);
    char *path = write_file(text);
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    char *pw = NULL;

    assert_int_equal(gd_instance_password(gd_config_instance(c, "a", NULL), &pw, &e), 0);
    assert_string_equal(pw, "s3cr3t");
    free(pw);

    setenv("GD_TEST_PW", "from-env", 1);
    assert_int_equal(gd_instance_password(gd_config_instance(c, "b", NULL), &pw, &e), 0);
    assert_string_equal(pw, "from-env");
    free(pw);
    unsetenv("GD_TEST_PW");
    assert_int_equal(gd_instance_password(gd_config_instance(c, "b", NULL), &pw, &e), GD_E_CONFIG);
    assert_null(pw);
    assert_non_null(strstr(e.msg, "GD_TEST_PW"));
    assert_non_null(strstr(e.msg, "not set"));

    assert_int_equal(gd_instance_password(gd_config_instance(c, "c", NULL), &pw, NULL), 0);
    assert_string_equal(pw, "");
    free(pw);

    gd_err_clear(&e);
    assert_int_equal(gd_instance_password(gd_config_instance(c, "d", NULL), &pw, &e), GD_E_IO);
    assert_non_null(strstr(e.msg, "instance d"));
    assert_non_null(strstr(e.msg, "missing"));

    gd_config_free(c);
    free(path);
    free(text);
    free(pwfile);
}

/* The INI reader on its own. */
typedef struct ini_rec {
    char log[1024];
} ini_rec;

static int ini_cb(void *ctx, const char *section, const char *key, const char *value, int line,
                  gd_err *err)
{
    (void)err;
    ini_rec *r = ctx;
    size_t n = strlen(r->log);
    if (key == NULL)
        snprintf(r->log + n, sizeof r->log - n, "%d[%s]", line, section);
    else
        snprintf(r->log + n, sizeof r->log - n, "%d<%s>%s=%s|", line, section, key, value);
    return 0;
}

static int ini_stop(void *ctx, const char *section, const char *key, const char *value, int line,
                    gd_err *err)
{
    (void)ctx;
    (void)section;
    (void)value;
    if (key != NULL && strcmp(key, "stop") == 0)
        return gd_err_set(err, GD_E_INVALID, "stopped at %d", line);
    return 0;
}

static void test_ini_parse(void **state)
{
    (void)state;
    ini_rec r = {{0}};
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_ini_parse("top = 1\n[region   home]\n  a=b  \n# c = d\n; x\n"
                                  "k = v ; comment\nurl = http://h/#frag\nempty =\n",
                                  ini_cb, &r, &e),
                     0);
    assert_string_equal(r.log, "1<>top=1|2[region home]3<region home>a=b|6<region home>k=v|"
                               "7<region home>url=http://h/#frag|8<region home>empty=|");

    gd_err_clear(&e);
    assert_int_equal(gd_ini_parse("a = 1\n\nnot a pair\n", ini_cb, &r, &e), GD_E_CONFIG);
    assert_string_equal(e.msg, "line 3: expected 'key = value' or '[section]'");

    gd_err_clear(&e);
    assert_int_equal(gd_ini_parse("a = 1\nstop = now\nb = 2\n", ini_stop, NULL, &e), GD_E_INVALID);
    assert_string_equal(e.msg, "stopped at 2");

    /* No trailing newline; empty text. */
    memset(&r, 0, sizeof r);
    assert_int_equal(gd_ini_parse("[s]\nk = v", ini_cb, &r, NULL), 0);
    assert_string_equal(r.log, "1[s]2<s>k=v|");
    assert_int_equal(gd_ini_parse("", ini_cb, &r, NULL), 0);
}

/* [server] and backup-window (docs/server.md): defaults without the
 * section, every key read, and the mistakes refused with their line. */
static void test_server_section(void **state)
{
    (void)state;
    char *path = write_file(REGION_HOME INST_HEAD);
    gd_config *c = NULL;
    gd_err e;
    gd_err_clear(&e);
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    assert_false(c->server.present);
    assert_string_equal(c->server.listen, "127.0.0.1:7480");
    assert_string_equal(c->server.state_dir, "/var/lib/geodr");
    assert_null(c->server.token_file);
    assert_int_equal(c->server.backup_retry_s, 1200);
    assert_false(c->instances[0].backup_window_set);
    gd_config_free(c);
    free(path);
    path = write_file(REGION_HOME INST_HEAD "backup-window = 23:30Z-00:30Z\n"
                                            "[server]\nlisten = [::1]:0\ntoken-file = /etc/t\n"
                                            "state-dir = /srv/state\nbackup-retry-interval = 5\n"
                                            "tls-cert-file = /c.pem\ntls-key-file = /k.pem\n");
    assert_int_equal(gd_config_load(path, &c, &e), 0);
    assert_true(c->server.present);
    assert_string_equal(c->server.listen, "[::1]:0");
    assert_string_equal(c->server.token_file, "/etc/t");
    assert_int_equal(c->server.backup_retry_s, 5);
    assert_true(c->instances[0].backup_window_set);
    assert_int_equal(c->instances[0].backup_window.start_min, 23 * 60 + 30);
    assert_int_equal(c->instances[0].backup_window.end_min, 30);
    gd_config_free(c);
    free(path);
    expect_error(REGION_HOME INST_HEAD "backup-window = 2-3\n", GD_E_CONFIG, 7, "backup-window",
                 "HH:MM-HH:MM");
    expect_error(REGION_HOME INST_HEAD "backup-window = 02:00-02:00\n", GD_E_CONFIG, 7, "empty",
                 NULL);
    expect_error("[server]\nlisten = 7480\n", GD_E_CONFIG, 2, "listen", "ADDRESS:PORT");
    expect_error("[server]\nlisten = host:99999\n", GD_E_CONFIG, 2, "listen", NULL);
    expect_error("[server]\ntoken-file = token\n", GD_E_CONFIG, 2, "token-file", "absolute");
    expect_error("[server]\nbackup-retry-interval = 0\n", GD_E_CONFIG, 2, "backup-retry-interval",
                 "1-86400");
    expect_error("[server]\ntls-cert-file = /c.pem\n", GD_E_CONFIG, 1, "tls-key-file", NULL);
    expect_error("[server]\n[server]\n", GD_E_CONFIG, 2, "duplicate section [server]", NULL);
    expect_error("[server main]\n", GD_E_CONFIG, 1, "[server] has no name", NULL);
    expect_error("[server]\nlisen = 1.2.3.4:5\n", GD_E_CONFIG, 2, "unknown key 'lisen' in [server]",
                 "did you mean 'listen'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),        cmocka_unit_test(test_lookup_unknown),
        cmocka_unit_test(test_bad_port),           cmocka_unit_test(test_retention_ranges),
        cmocka_unit_test(test_unknown_key),        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_missing_required),   cmocka_unit_test(test_home_region_unknown),
        cmocka_unit_test(test_copy_regions),       cmocka_unit_test(test_password_both),
        cmocka_unit_test(test_duplicates),         cmocka_unit_test(test_bad_boolean),
        cmocka_unit_test(test_malformed_line),     cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_empty_and_comments), cmocka_unit_test(test_config_path_env),
        cmocka_unit_test(test_instance_password),  cmocka_unit_test(test_ssl_keys),
        cmocka_unit_test(test_ini_parse),          cmocka_unit_test(test_server_section),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
