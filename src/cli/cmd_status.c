/* geodr status: asks the running server (the config's [server] listen and
 * token-file; TLS when tls-cert-file is set, verified against that file as
 * the CA) for DescribeServerStatus and prints its answer (docs/server.md,
 * docs/api.md).  The one HTTP client of the CLI: a POST of an empty JSON
 * object with the bearer token, the answer read whole (bounded). */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"

#define STATUS_MAX_ANSWER (8u << 20) /* the answer of a server with many instances and jobs */
#define STATUS_CONNECT_S 5L
#define STATUS_TIMEOUT_S 60L /* the server reads every region for the lags */

/* The server's address as a client reaches it: listen's host, with a
 * wildcard address (0.0.0.0, [::]) replaced by the loopback one. */
static void connect_addr(const char *listen, char *out, size_t size)
{
    const char *colon = strrchr(listen, ':');
    size_t hlen = colon ? (size_t)(colon - listen) : strlen(listen);
    const char *port = colon ? colon + 1 : "7480";
    if ((hlen == 7 && strncmp(listen, "0.0.0.0", 7) == 0) || hlen == 0)
        snprintf(out, size, "127.0.0.1:%s", port);
    else if (hlen == 4 && strncmp(listen, "[::]", 4) == 0)
        snprintf(out, size, "[::1]:%s", port);
    else
        snprintf(out, size, "%.*s:%s", (int)hlen, listen, port);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    gd_buf *b = ctx;
    size_t len = size * n;
    if (b->len + len > STATUS_MAX_ANSWER)
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    gd_buf_append(b, p, len);
    return len;
}

/* The error of an answer that is not 200: the server's {"Code", "Message"}. */
static int answer_error(const gd_server_cfg *sc, const char *addr, long status, json_t *j,
                        gd_err *err)
{
    const char *code = gd_json_str(j, "Code", "?"), *msg = gd_json_str(j, "Message", "");
    if (status == 401)
        return gd_err_set(err, GD_E_AUTH,
                          "the geodr server on %s refused the API token of %s ([server] "
                          "token-file): put there the token the server was started with",
                          addr, sc->token_file);
    if (status == 404)
        return gd_err_set(err, GD_E_STATE,
                          "the geodr server on %s does not know DescribeServerStatus (%s): it is "
                          "older than this geodr; upgrade and restart it",
                          addr, msg);
    return gd_err_set(err, GD_E_STATE, "the geodr server on %s answered HTTP %ld: %s: %s", addr,
                      status, code, msg);
}

/* POST /api/DescribeServerStatus; *out the answer (a JSON object). */
static int ask_server(const gd_server_cfg *sc, json_t **out, gd_err *err)
{
    char addr[300], url[400], *token = NULL;
    connect_addr(sc->listen ? sc->listen : GD_DEFAULT_LISTEN, addr, sizeof addr);
    snprintf(url, sizeof url, "%s://%s/api/DescribeServerStatus",
             sc->tls_cert_file ? "https" : "http", addr);
    if (sc->token_file == NULL)
        return gd_err_set(err, GD_E_INVALID,
                          "the config has no [server] token-file: geodr status sends the "
                          "server's API token (docs/server.md)");
    int rc = gd_read_secret_file(sc->token_file, &token, err);
    if (rc != 0) {
        gd_err_prefix(err, "cannot read the API token ([server] token-file)");
        return rc;
    }
    gd_buf auth, body;
    gd_buf_init(&auth, 0);
    gd_buf_init(&body, 0);
    gd_buf_appendf(&auth, "Authorization: Bearer %s", token);
    gd_wipe(token, strlen(token));
    free(token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth.data);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    if (c && hdr) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, STATUS_CONNECT_S);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, STATUS_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        if (sc->tls_cert_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, sc->tls_cert_file);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT)
        rc = gd_err_set(err, GD_E_IO,
                        "no geodr server answers on %s: start it with 'geodr server' or "
                        "'systemctl start geodr'",
                        addr);
    else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
             cc == CURLE_SSL_CONNECT_ERROR)
        rc = gd_err_set(err, GD_E_AUTH,
                        "TLS to the geodr server on %s failed (%s): its certificate must be the "
                        "one in [server] tls-cert-file %s",
                        addr, curl_easy_strerror(cc), sc->tls_cert_file ? sc->tls_cert_file : "");
    else if (cc != CURLE_OK)
        rc = gd_err_set(err, GD_E_IO, "asking the geodr server on %s failed: %s", addr,
                        curl_easy_strerror(cc));
    json_t *j = rc == 0 ? json_loadb(body.data ? body.data : "", body.len, 0, NULL) : NULL;
    if (rc == 0 && !json_is_object(j))
        rc = gd_err_set(err, GD_E_STATE,
                        "the server on %s answered HTTP %ld with something that is not a JSON "
                        "object: is [server] listen a geodr server?",
                        addr, status);
    else if (rc == 0 && status != 200)
        rc = answer_error(sc, addr, status, j, err);
    if (rc == 0)
        *out = json_incref(j);
    json_decref(j);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    gd_wipe(auth.data, auth.len);
    gd_buf_free(&auth);
    gd_buf_free(&body);
    return rc;
}

static void print_jobs(json_t *it)
{
    json_t *jobs = json_object_get(it, "RunningJobs");
    if (json_array_size(jobs) == 0) {
        printf("  running jobs: none\n");
        return;
    }
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        json_t *pr = json_object_get(j, "Progress");
        printf("  running job %s: %s since %s%s%s\n", gd_json_str(j, "JobId", ""),
               gd_json_str(j, "Operation", ""), gd_json_str(j, "StartTime", ""),
               gd_json_str(pr, "Phase", "")[0] ? ", phase " : "", gd_json_str(pr, "Phase", ""));
    }
}

static void print_copies(json_t *it)
{
    if (json_object_get(it, "CopyRegionsError"))
        printf("  copy regions: lag unknown: %s\n", gd_json_str(it, "CopyRegionsError", ""));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(it, "CopyRegions"), i, r)
    {
        const char *name = gd_json_str(r, "RegionId", "");
        if (json_object_get(r, "Error")) {
            printf("  copy region %s: UNREADABLE: %s\n", name, gd_json_str(r, "Error", ""));
            continue;
        }
        if (gd_json_int(r, "Sets", 0) == 0) {
            printf("  copy region %s: holds no backup set yet\n", name);
            continue;
        }
        char b[32];
        gd_fmt_bytes((uint64_t)gd_json_int(r, "LagBytes", 0), b, sizeof b);
        printf("  copy region %s: %lld sets, behind by %lld s of sets, %lld s and %s of "
               "binlog\n",
               name, gd_json_int(r, "Sets", 0), gd_json_int(r, "SetsLagSeconds", 0),
               gd_json_int(r, "LogLagSeconds", 0), b);
    }
}

static void print_status(json_t *a)
{
    size_t i;
    json_t *it;
    printf("geodr server: %zu instances, %lld jobs running (at %s)\n",
           json_array_size(json_object_get(a, "Instances")), gd_json_int(a, "JobsRunning", 0),
           gd_json_str(a, "Time", ""));
    json_array_foreach(json_object_get(a, "Instances"), i, it)
    {
        printf("instance %s\n", gd_json_str(it, "DBInstanceId", ""));
        printf("  binlog archiver: %s (restarted %lld times)\n",
               json_is_true(json_object_get(it, "ArchiverRunning")) ? "running" : "NOT running",
               gd_json_int(it, "ArchiverRestarts", 0));
        if (json_is_true(json_object_get(it, "LastBackupFailed")))
            printf("  last backup attempt FAILED: %s\n", gd_json_str(it, "LastError", "?"));
        if (json_is_string(json_object_get(it, "LastBackupTime")))
            printf("  last successful backup: %s (%.1f s)\n", gd_json_str(it, "LastBackupTime", ""),
                   json_real_value(json_object_get(it, "LastBackupDurationSeconds")));
        else
            printf("  last successful backup: none yet\n");
        if (json_is_string(json_object_get(it, "ReleaseTime")))
            printf("  RELEASED at %s: not backed up or archived; its backups stay until they "
                   "expire\n",
                   gd_json_str(it, "ReleaseTime", ""));
        else
            printf("  next backup: %s (%sdaily window %s UTC)\n",
                   gd_json_str(it, "NextBackupTime", ""),
                   json_is_true(json_object_get(it, "LastBackupFailed")) ? "a retry; " : "",
                   gd_json_str(it, "BackupWindow", ""));
        print_jobs(it);
        print_copies(it);
    }
}

static const char help[] =
    "usage: geodr status [--json]\n\nAsks the running geodr server (the config's [server] "
    "listen, with the token of token-file; over TLS when tls-cert-file is set) for its "
    "instances: whether each one's binlog archiver runs, its last backup and the result, "
    "the next scheduled backup, the running jobs and how far each copy region is behind. "
    "--json prints the server's answer (DescribeServerStatus, docs/api.md).\n";

int gd_cmd_status(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    gd_cli_args args = {.cmd = "status", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    if (optind != argc)
        return gd_cli_usage("status", "takes no operands");
    gd_err err;
    gd_err_clear(&err);
    json_t *answer = NULL;
    if (gd_cli_config(cli, &err) != 0 || ask_server(&cli->cfg->server, &answer, &err) != 0)
        return gd_cli_fail(cli, &err);
    if (cli->json) {
        gd_cli_print_json(answer);
        return GD_EXIT_OK;
    }
    print_status(answer);
    json_decref(answer);
    return GD_EXIT_OK;
}
