/* The instance descriptor (repo.h): opening and creating a repository, the
 * KDF and key check, and the move from repository format 1 to 2. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "io/key.h"
#include "repo/repo_intern.h"
#include "repo/segment.h"

#define DESC_MAX (1024 * 1024)

static int put_json(gd_storage *st, const char *name, json_t *j, gd_err *err)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        return gd_err_set(err, GD_E_NOMEM, "cannot serialise %s", name);
    size_t n = strlen(text);
    char *withnl = gd_malloc(n + 2);
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    free(text);
    int rc = gd_storage_put_all(st, name, withnl, n + 1, err);
    free(withnl);
    return rc;
}

static int get_json(gd_storage *st, const char *name, json_t **out, gd_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = gd_storage_get_all(st, name, DESC_MAX, &text, &len, err);
    if (rc != 0)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s is not valid JSON (line %d: %s)",
                          name, st->name, je.line, je.text);
    }
    *out = j;
    return 0;
}

static int ensure_repo_header(gd_storage *st, bool create, gd_err *err)
{
    json_t *j = NULL;
    gd_err e2;
    gd_err_clear(&e2);
    int rc = get_json(st, "repo.json", &j, &e2);
    if (rc == GD_E_NOTFOUND) {
        if (!create)
            return gd_err_set(err, GD_E_NOTFOUND,
                              "region %s holds no geodr repository (no repo.json): check the "
                              "region's path, or run 'geodr backup' first",
                              st->name);
        uint8_t id[16];
        if ((rc = gd_random(id, sizeof id, err)) != 0)
            return rc;
        char hex[33], now[32];
        gd_hex(id, sizeof id, hex);
        gd_fmt_time(gd_now_us(), false, now, sizeof now);
        j = json_pack("{s:s, s:i, s:s, s:s}", "format", "geodr-repository", "version",
                      GD_REPO_FORMAT_VERSION, "id", hex, "created", now);
        rc = put_json(st, "repo.json", j, err);
        json_decref(j);
        return rc;
    }
    if (rc != 0) {
        if (err)
            *err = e2;
        return rc;
    }
    long long v = gd_json_int(j, "version", -1);
    bool is_repo = strcmp(gd_json_str(j, "format", ""), "geodr-repository") == 0;
    json_decref(j);
    if (!is_repo)
        return gd_err_set(err, GD_E_CORRUPT, "repo.json in region %s is not a geodr repository",
                          st->name);
    if (v < 1 || v > GD_REPO_FORMAT_VERSION)
        return gd_err_set(err, GD_E_STATE,
                          "region %s holds repository format %lld; this geodr reads formats 1 "
                          "to %d: use a matching geodr version",
                          st->name, v, GD_REPO_FORMAT_VERSION);
    return 0;
}

static int kdf_from_json(json_t *kdf, gd_kdf_params *kp)
{
    const char *salt = gd_json_str(kdf, "salt", "");
    long long n = gd_json_int(kdf, "n", 0), r = gd_json_int(kdf, "r", 0),
              p = gd_json_int(kdf, "p", 0);
    if (strcmp(gd_json_str(kdf, "name", ""), "scrypt") != 0 || n < 2 || r < 1 || p < 1 ||
        r > UINT32_MAX || p > UINT32_MAX || gd_unhex(salt, kp->salt, sizeof kp->salt) != 0)
        return GD_E_CORRUPT;
    kp->n = (uint64_t)n;
    kp->r = (uint32_t)r;
    kp->p = (uint32_t)p;
    return 0;
}

/* True when name belongs to a set or segment written in format 1 (before
 * the instance's move to format 2): only those may lack a MAC or hold
 * format 1 encrypted objects.  Compared by the set's name (names sort by
 * time) and the segment's last counter, both the same in every region. */
bool gd_repo_legacy_name(const gd_repo *r, const char *name)
{
    if (r->format < 2)
        return true;
    size_t il = strlen(r->instance);
    if (strncmp(name, r->instance, il) != 0 || name[il] != '/')
        return false;
    const char *rest = name + il + 1;
    if (strncmp(rest, "backup/", 7) == 0) {
        const char *set = rest + 7, *slash = strchr(set, '/');
        if (slash == NULL || r->v1_last_set == NULL || r->v1_last_set[0] == '\0')
            return false;
        char *id = gd_strndup(set, (size_t)(slash - set));
        bool le = strcmp(id, r->v1_last_set) <= 0;
        free(id);
        return le;
    }
    if (strncmp(rest, "binlog/", 7) == 0) {
        const char *p = rest + 7;
        char *end = NULL;
        long long last = strtoll(p, &end, 10);
        if (end == p)
            return false;
        if (*end == '-') {
            p = end + 1;
            last = strtoll(p, &end, 10);
            if (end == p)
                return false;
        }
        /* counters start at 1: without a format 1 part (v1_last_seq 0) no
         * segment is legacy, a planted counter 0 included */
        return *end == '.' && last >= 1 && last <= r->v1_last_seq;
    }
    return false;
}

/* ---- the instance descriptor ---- */

static int create_descriptor(gd_repo *r, const char *name, const char *key_file, gd_err *err)
{
    char now[32];
    gd_fmt_time(gd_now_us(), false, now, sizeof now);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s}", "format", "geodr-instance", "version",
                          GD_REPO_FORMAT_VERSION, "name", r->instance, "created", now);
    int rc = 0;
    r->format = GD_REPO_FORMAT_VERSION;
    if (key_file) {
        gd_kdf_params kp;
        if ((rc = gd_kdf_params_new(&kp, err)) != 0)
            goto out;
        if ((rc = gd_key_from_file(key_file, &kp, &r->key, err)) != 0)
            goto out;
        char salt[2 * GD_KDF_SALT_LEN + 1];
        gd_hex(kp.salt, sizeof kp.salt, salt);
        json_object_set_new(j, "cipher", json_string("aes-256-gcm"));
        json_object_set_new(j, "kdf",
                            json_pack("{s:s, s:I, s:i, s:i, s:s}", "name", "scrypt", "n",
                                      (json_int_t)kp.n, "r", (int)kp.r, "p", (int)kp.p, "salt",
                                      salt));
        json_object_set_new(j, "key-check", json_string(r->key.check_v2));
        r->encrypted = true;
    } else {
        json_object_set_new(j, "cipher", json_string("none"));
    }
    rc = gd_record_put(r, name, j, err);
out:
    json_decref(j);
    return rc;
}

static int derive_checked(gd_repo *r, const char *key_file, const gd_kdf_params *kp,
                          const char *check, int version, gd_err *err)
{
    int rc = gd_key_from_file(key_file, kp, &r->key, err);
    if (rc != 0)
        return rc;
    if (strcmp(version >= 2 ? r->key.check_v2 : r->key.check, check) != 0) {
        gd_wipe(&r->key, sizeof r->key);
        return gd_err_set(err, GD_E_AUTH,
                          "wrong key: the passphrase in %s does not match the key this "
                          "repository was written with (check key-file)",
                          key_file);
    }
    return 0;
}

/* A format 2 encrypted descriptor, with r->key derived and checked: its
 * MAC, then where format 1 ends. */
static int adopt_v2(gd_repo *r, const char *dname, const char *text, size_t len, json_t *j,
                    gd_err *err)
{
    gd_trailer_kind kind;
    size_t body;
    r->encrypted = true;
    int rc = gd_record_check_trailer(r, dname, text, len, &kind, &body, err);
    if (rc == 0 && kind != GD_TRAILER_MAC)
        rc = gd_err_set(err, GD_E_AUTH,
                        "%s in region %s is not authenticated (no MAC): it was altered; restore "
                        "it from another region",
                        dname, r->st->name);
    if (rc != 0)
        return rc;
    json_t *v1 = json_object_get(j, "format1");
    free(r->v1_last_set);
    r->v1_last_set = gd_strdup(gd_json_str(v1, "last_set", ""));
    r->v1_last_seq = gd_json_int(v1, "last_seq", 0);
    r->format = 2;
    return 0;
}

static int refuse_downgrade(gd_repo *r, gd_err *err)
{
    /* A configured key and a region that says "none" is a downgrade:
     * never write or trust plaintext because the region says so. */
    return gd_err_set(err, GD_E_AUTH,
                      "instance %s in region %s is stored without encryption, but key-file is "
                      "set for it: refusing (the region's instance.json may have been altered "
                      "to make geodr write in plaintext). If the instance really was backed up "
                      "without a key, remove key-file from [instance %s]; otherwise restore "
                      "%s/instance.json from another region",
                      r->instance, r->st->name, r->instance, r->instance);
}

/* Loads a descriptor: text as stored, j its JSON, kind its trailer
 * (GD_TRAILER_NONE: format 1, plain JSON). */
static int load_descriptor(gd_repo *r, const char *dname, const char *text, size_t len, json_t *j,
                           gd_trailer_kind kind, const char *key_file, gd_err *err)
{
    long long version = gd_json_int(j, "version", -1);
    const char *cipher = gd_json_str(j, "cipher", "");
    if (strcmp(gd_json_str(j, "format", ""), "geodr-instance") != 0 || version < 1 ||
        version > GD_REPO_FORMAT_VERSION)
        return gd_err_set(err, version > GD_REPO_FORMAT_VERSION ? GD_E_STATE : GD_E_CORRUPT,
                          "%s in region %s is not an instance descriptor this geodr reads "
                          "(format %lld, repository format %d): use a matching geodr version",
                          dname, r->st->name, version, GD_REPO_FORMAT_VERSION);
    if ((version == 1) != (kind == GD_TRAILER_NONE))
        return gd_err_set(err, GD_E_AUTH,
                          "%s in region %s says format %lld but %s a trailer: it was altered; "
                          "restore it from another region",
                          dname, r->st->name, version, version == 1 ? "has" : "lacks");
    if (strcmp(gd_json_str(j, "name", r->instance), r->instance) != 0)
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s describes instance '%s'", dname,
                          r->st->name, gd_json_str(j, "name", ""));
    r->format = (int)version;
    bool none = strcmp(cipher, "none") == 0;
    if (r->raw) {
        r->encrypted = !none;
        return 0;
    }
    if (none && key_file)
        return refuse_downgrade(r, err);
    if (none) {
        gd_trailer_kind k2;
        size_t body;
        r->encrypted = false;
        return kind == GD_TRAILER_NONE
                   ? 0
                   : gd_record_check_trailer(r, dname, text, len, &k2, &body, err);
    }
    if (strcmp(cipher, "aes-256-gcm") != 0)
        return gd_err_set(err, GD_E_CORRUPT, "instance %s in region %s: unknown cipher '%s'",
                          r->instance, r->st->name, cipher);
    if (key_file == NULL)
        return gd_err_set(err, GD_E_AUTH,
                          "instance %s in region %s is encrypted: set key-file in the "
                          "[instance %s] section to the file holding its passphrase",
                          r->instance, r->st->name, r->instance);
    gd_kdf_params kp;
    if (kdf_from_json(json_object_get(j, "kdf"), &kp) != 0)
        return gd_err_set(err, GD_E_CORRUPT, "instance %s in region %s: bad kdf parameters",
                          r->instance, r->st->name);
    int rc = derive_checked(r, key_file, &kp, gd_json_str(j, "key-check", ""), (int)version, err);
    if (rc == 0 && version >= 2)
        rc = adopt_v2(r, dname, text, len, j, err);
    if (rc == 0 && version < 2) {
        r->encrypted = true;
        gd_warn("instance %s in region %s is of repository format 1: its sets and segments are "
                "NOT authenticated; the next backup or archived segment moves it to format 2",
                r->instance, r->st->name);
        atomic_store(&r->warned_v1, true);
    }
    return rc;
}

/* The JSON of an instance descriptor's text as stored (format 1: plain
 * JSON; format 2: JSON and a trailer line), NOT authenticated; NULL when
 * it is not a JSON object. */
static json_t *descriptor_parse(const char *text)
{
    size_t len = strlen(text), body = len;
    const char *hex = NULL;
    if (gd_record_split_trailer(text, len, &body, &hex) == GD_TRAILER_NONE)
        body = len;
    json_t *j = json_loadb(text, body, 0, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Reads the descriptor as stored: its text, JSON and trailer kind. */
static int read_descriptor(gd_storage *st, const char *dname, char **text, size_t *len,
                           json_t **out, gd_trailer_kind *kind, gd_err *err)
{
    int rc = gd_storage_get_all(st, dname, DESC_MAX, text, len, err);
    if (rc != 0)
        return rc;
    size_t body;
    const char *hex = NULL;
    *kind = gd_record_split_trailer(*text, *len, &body, &hex);
    if ((*out = descriptor_parse(*text)) == NULL)
        return gd_err_set(err, GD_E_CORRUPT, "%s in region %s is not valid JSON", dname, st->name);
    return 0;
}

/* How a stored record ends: 1 with a MAC (format 2), 0 with a SHA-256 that
 * matches (format 1), -1 when it cannot be read or its checksum is wrong. */
static int record_form(gd_repo *r, const char *name)
{
    char *text = NULL;
    size_t len = 0, body = 0;
    const char *hex = NULL;
    int form = -1;
    if (gd_storage_get_all(r->st, name, GD_MANIFEST_MAX, &text, &len, NULL) == 0) {
        gd_trailer_kind k = gd_record_split_trailer(text, len, &body, &hex);
        char want[65];
        if (k == GD_TRAILER_MAC)
            form = 1;
        else if (k == GD_TRAILER_SHA &&
                 (gd_sha256_hex(text, body, want), memcmp(want, hex, 64) == 0))
            form = 0;
    }
    free(text);
    return form;
}

/* Where format 1 ends: the newest set and segment counter whose records are
 * format 1 records that read (a name alone, planted to stretch the
 * boundary, does not count; nor does a set named after tomorrow).  A MAC'd
 * newest record means the descriptor is an old one put back: refused. */
static int format1_end(gd_repo *r, char **ids, size_t n, const gd_segments *live,
                       const char **last_set, long long *last_seq, gd_err *err)
{
    char tomorrow[32];
    gd_fmt_time_compact(gd_now_us() + 86400LL * 1000000, tomorrow, sizeof tomorrow);
    *last_set = "";
    *last_seq = 0;
    int form = -1;
    for (size_t i = n; i-- > 0 && form != 0;) {
        if (strcmp(ids[i], tomorrow) > 0)
            continue;
        char *mf = gd_asprintf("%s/backup/%s/manifest", r->instance, ids[i]);
        form = record_form(r, mf);
        free(mf);
        if (form == 1)
            break;
        if (form == 0)
            *last_set = ids[i];
    }
    for (size_t i = live->n; form != 1 && i-- > 0;) {
        const gd_segment *x = &live->v[i];
        if ((form = record_form(r, x->record)) == 0) {
            *last_seq = (long long)x->seq;
            break;
        }
    }
    if (form == 1)
        return gd_err_set(err, GD_E_AUTH,
                          "%s/instance.json in region %s says repository format 1, but the region "
                          "holds authenticated (format 2) records: the descriptor was replaced by "
                          "an older one; restore %s/instance.json from another region",
                          r->instance, r->st->name, r->instance);
    return 0;
}

/* Moves a format 1 encrypted instance to format 2 before its first format 2
 * record is written: the descriptor gets the format 2 key check, a MAC, and
 * where format 1 ends (format1_end), so that only those may go without a
 * MAC from now on.  Under the instance's init lock: another process may
 * have moved it meanwhile, and then its descriptor is adopted. */
int gd_repo_upgrade_descriptor(gd_repo *r, gd_err *err)
{
    char *dname = gd_asprintf("%s/instance.json", r->instance), *text = NULL;
    char **ids = NULL;
    size_t n = 0, len = 0;
    json_t *j = NULL;
    gd_segments live = {0};
    gd_trailer_kind kind;
    gd_lock *lk = NULL;
    int rc = gd_lock_take(r->st, r->instance, "init", "move to format 2", 60, &lk, err);
    if (rc == 0)
        rc = read_descriptor(r->st, dname, &text, &len, &j, &kind, err);
    if (rc == 0 && gd_json_int(j, "version", 0) >= 2) {
        if (strcmp(gd_json_str(j, "key-check", ""), r->key.check_v2) != 0)
            rc = gd_err_set(err, GD_E_AUTH, "%s in region %s changed to another key meanwhile",
                            dname, r->st->name);
        else
            rc = adopt_v2(r, dname, text, len, j, err);
        goto out;
    }
    if (rc == 0)
        rc = gd_repo_list_sets(r, &ids, &n, err);
    if (rc == 0)
        rc = gd_repo_list_segment_ranges(r, &live, NULL, err);
    const char *last_set = "";
    long long last = 0;
    if (rc == 0)
        rc = format1_end(r, ids, n, &live, &last_set, &last, err);
    if (rc != 0)
        goto out;
    json_object_set_new(j, "version", json_integer(2));
    json_object_set_new(j, "key-check", json_string(r->key.check_v2));
    json_object_set_new(
        j, "format1", json_pack("{s:s, s:I}", "last_set", last_set, "last_seq", (json_int_t)last));
    if ((rc = gd_record_put(r, dname, j, err)) != 0)
        goto out;
    free(r->v1_last_set);
    r->v1_last_set = gd_strdup(last_set);
    r->v1_last_seq = last;
    r->format = 2;
    gd_info("instance %s in region %s moved to repository format 2 (authenticated records); "
            "its sets up to %s and segments up to %lld stay readable, unauthenticated",
            r->instance, r->st->name, last_set[0] ? last_set : "(none)", last);
out:
    gd_lock_release(lk);
    gd_strv_free(ids, n);
    gd_segments_free(&live);
    json_decref(j);
    free(text);
    free(dname);
    return rc;
}

static int committed_cb(void *ctx, const char *name, const gd_stat *st)
{
    (void)ctx;
    (void)st;
    size_t n = strlen(name);
    return (n > 9 && strcmp(name + n - 9, "/manifest") == 0) ||
           (n > 8 && strcmp(name + n - 8, ".segment") == 0);
}

/* A region holding committed sets or segments of the instance but no
 * descriptor lost it (or had it removed): a new one would carry a new salt,
 * so a new key and a new trust anchor beside the old records.  Refused. */
static int refuse_lost_descriptor(gd_repo *r, gd_err *err)
{
    char *prefix = gd_asprintf("%s/", r->instance);
    int rc = gd_storage_list(r->st, prefix, committed_cb, NULL, err);
    free(prefix);
    if (rc == 1)
        return gd_err_set(err, GD_E_STATE,
                          "region %s holds backups of instance %s but no %s/instance.json: "
                          "refusing to start a new descriptor beside them; restore "
                          "instance.json from another region (or move the old backups away)",
                          r->st->name, r->instance, r->instance);
    return rc;
}

/* The first writer of an instance into a region creates its descriptor,
 * under the instance's init lock and after reading again: two first backups
 * at once must not each write a descriptor with its own salt (the loser's
 * sets would never decrypt). */
static int first_descriptor(gd_repo *r, const char *dname, const char *key_file, gd_err *err)
{
    gd_lock *lk = NULL;
    int rc = gd_lock_take(r->st, r->instance, "init", "first backup", 60, &lk, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    json_t *j = NULL;
    gd_trailer_kind kind = GD_TRAILER_NONE;
    gd_err e2;
    gd_err_clear(&e2);
    rc = read_descriptor(r->st, dname, &text, &len, &j, &kind, &e2);
    if (rc == GD_E_NOTFOUND) {
        gd_test_pause("descriptor-create");
        rc = refuse_lost_descriptor(r, err);
        if (rc == 0)
            rc = create_descriptor(r, dname, key_file, err);
    } else if (rc == 0) {
        rc = load_descriptor(r, dname, text, len, j, kind, key_file, err);
    } else if (err) {
        *err = e2;
    }
    free(text);
    json_decref(j);
    gd_lock_release(lk);
    return rc;
}

static int repo_open(gd_storage *st, const char *instance, const char *key_file, bool create,
                     bool raw, int compress_level, gd_repo **out, gd_err *err)
{
    gd_repo *r = gd_calloc(1, sizeof *r);
    r->raw = raw;
    r->st = st;
    r->instance = gd_strdup(instance);
    r->compress_level = compress_level > 0 ? compress_level : 3;
    pthread_mutex_init(&r->mu, NULL);
    char *dname = gd_asprintf("%s/instance.json", instance);
    json_t *j = NULL;
    int rc = ensure_repo_header(st, create, err);
    if (rc != 0)
        goto out;
    gd_err e2;
    gd_err_clear(&e2);
    char *text = NULL;
    size_t len = 0;
    gd_trailer_kind kind = GD_TRAILER_NONE;
    rc = read_descriptor(st, dname, &text, &len, &j, &kind, &e2);
    if (rc == GD_E_NOTFOUND) {
        if (!create || r->raw) {
            rc = gd_err_set(err, GD_E_NOTFOUND,
                            "region %s holds no backups of instance %s: check the instance "
                            "name or run 'geodr backup %s' first",
                            st->name, instance, instance);
            goto out;
        }
        rc = first_descriptor(r, dname, key_file, err);
    } else if (rc != 0) {
        if (err)
            *err = e2;
    } else {
        rc = load_descriptor(r, dname, text, len, j, kind, key_file, err);
    }
    free(text);
out:
    json_decref(j);
    free(dname);
    if (rc != 0) {
        gd_repo_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int gd_repo_open(gd_storage *st, const char *instance, const char *key_file, bool create,
                 int compress_level, gd_repo **out, gd_err *err)
{
    return repo_open(st, instance, key_file, create, false, compress_level, out, err);
}

int gd_repo_open_raw(gd_storage *st, const char *instance, bool create_header, gd_repo **out,
                     gd_err *err)
{
    return repo_open(st, instance, NULL, create_header, true, 0, out, err);
}

void gd_repo_close(gd_repo *r)
{
    if (r == NULL)
        return;
    gd_storage_free(r->st);
    gd_wipe(&r->key, sizeof r->key);
    pthread_mutex_destroy(&r->mu);
    free(r->v1_last_set);
    free(r->instance);
    free(r);
}

static bool kdf_equal(json_t *a, json_t *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && json_equal(a, b));
}

gd_descriptor_match gd_repo_descriptor_compare(const char *mine, const char *theirs)
{
    json_t *a = descriptor_parse(mine), *b = descriptor_parse(theirs);
    bool same_key = a && b &&
                    strcmp(gd_json_str(a, "cipher", ""), gd_json_str(b, "cipher", "")) == 0 &&
                    kdf_equal(json_object_get(a, "kdf"), json_object_get(b, "kdf"));
    long long va = gd_json_int(a, "version", 0), vb = gd_json_int(b, "version", 0);
    bool same = same_key && va == vb &&
                strcmp(gd_json_str(a, "key-check", ""), gd_json_str(b, "key-check", "")) == 0;
    json_decref(a);
    json_decref(b);
    return same ? GD_DESC_SAME : same_key && va > vb ? GD_DESC_OLDER : GD_DESC_OTHER;
}
