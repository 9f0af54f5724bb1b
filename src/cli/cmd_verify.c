#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "command/verify.h"

static json_t *bads_json(const gd_verify_bads *b)
{
    json_t *a = json_array();
    for (size_t i = 0; i < b->n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "object", b->v[i].object, "error", b->v[i].error));
    return a;
}

static void print_json(const char *name, const gd_verify_outcome *out)
{
    json_t *sets = json_array();
    for (size_t i = 0; i < out->nsets; i++)
        json_array_append_new(sets, json_pack("{s:s, s:b, s:o}", "set", out->sets[i].id, "ok",
                                              out->sets[i].bad.n == 0, "bad",
                                              bads_json(&out->sets[i].bad)));
    gd_cli_print_json(json_pack("{s:s, s:I, s:I, s:b, s:b, s:o, s:o}", "instance", name, "objects",
                                (json_int_t)out->objects, "bad", (json_int_t)out->bad, "decrypted",
                                !out->hash_only, "authenticated", !out->hash_only && out->encrypted,
                                "sets", sets, "binlog", bads_json(&out->segs_bad)));
}

static void print_text(const gd_verify_outcome *out)
{
    for (size_t i = 0; i < out->nsets; i++) {
        const gd_verify_set *s = &out->sets[i];
        if (s->bad.n == 0)
            printf("set %s: OK\n", s->id);
        for (size_t k = 0; k < s->bad.n; k++)
            printf("set %s: BAD %s: %s\n", s->id, s->bad.v[k].object, s->bad.v[k].error);
    }
    if (out->binlog && out->segments > 0 && out->segs_bad.n == 0)
        printf("binlog archive: %zu segments OK\n", out->segments);
    for (size_t k = 0; k < out->segs_bad.n; k++)
        printf("binlog: BAD %s: %s\n", out->segs_bad.v[k].object, out->segs_bad.v[k].error);
}

static const char help[] =
    "usage: geodr verify INSTANCE [SET] [--region R] [--json]\n\nReads every object of "
    "a backup set (default: every set, and every binlog segment) back from the home "
    "region (or R), checks its SHA-256 and, "
    "when encrypted, its authentication; names each bad object. Exit 1 if any is "
    "bad.\n";

int gd_cmd_verify(gd_cli *cli, int argc, char **argv)
{
    static const struct option lo[] = {{"region", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *region = NULL;
    int c;
    gd_cli_args args = {.cmd = "verify", .help = help, .lo = lo};
    while ((c = gd_cli_opt(&args, argc, argv)) >= 0) {
        switch (c) {
        case 'r':
            region = optarg;
            break;
        }
    }
    if (c == GD_CLI_OPT_EXIT)
        return args.exit_code;
    int npos = argc - optind;
    if (npos < 1 || npos > 2)
        return gd_cli_usage("verify", "name an instance and optionally a set");
    const char *instance = argv[optind], *set = npos == 2 ? argv[optind + 1] : NULL;
    int rc = gd_cli_region(cli, "verify", instance, region);
    if (rc != 0)
        return rc;
    gd_err err;
    gd_err_clear(&err);
    gd_command_ctx ctx;
    gd_verify_outcome out;
    memset(&out, 0, sizeof out);
    if (gd_cli_ctx(cli, NULL, NULL, &ctx, &err) != 0 ||
        gd_command_verify(&ctx, instance, region, set, &out, &err) != 0) {
        gd_verify_outcome_free(&out);
        return gd_cli_fail(cli, &err);
    }
    if (!cli->json)
        print_text(&out);
    if (out.hash_only && !cli->quiet && !cli->json)
        fprintf(stderr,
                "geodr: no key-file for instance %s: authenticity was NOT checked (the "
                "manifests' and records' MACs need the key; whoever can write to the region "
                "could have forged them); the stored bytes were checked against their SHA-256, "
                "not decrypted, and each table's columns were not compared with its CREATE "
                "TABLE; set key-file for a full check\n",
                instance);
    if (cli->json)
        print_json(instance, &out);
    unsigned long long bad = out.bad;
    gd_verify_outcome_free(&out);
    if (bad) {
        fprintf(stderr,
                "geodr: error: %llu bad object(s) or table(s) in instance %s: restore from "
                "another set or region\n",
                bad, instance);
        return GD_EXIT_FAIL;
    }
    return GD_EXIT_OK;
}
