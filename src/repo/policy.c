#include "repo/policy.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "repo/repo_intern.h"

char *gd_policy_name(const char *instance)
{
    return gd_asprintf("%s/policy", instance);
}

void gd_policy_free(gd_policy *p)
{
    for (size_t i = 0; i < p->n_copy_regions; i++)
        free(p->copy_regions[i]);
    memset(p, 0, sizeof *p);
}

/* A region name as the config allows one: 1-64 of letters, digits, '-',
 * '_' and '.', not starting with '.' or '-'. */
static bool region_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    return true;
}

static bool in_range(json_t *v, long long min, long long max, int *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return false;
    *out = (int)json_integer_value(v);
    return true;
}

static int decode(json_t *j, const char *name, const char *region, gd_policy *p, gd_err *err)
{
    memset(p, 0, sizeof *p);
    json_t *regions = json_object_get(j, "copy_regions"), *v;
    json_t *be = json_object_get(j, "backup_enabled"),
           *le = json_object_get(j, "log_backup_enabled");
    bool ok =
        json_is_boolean(be) && json_is_boolean(le) && json_is_array(regions) &&
        json_array_size(regions) <= GD_POLICY_MAX_REGIONS &&
        in_range(json_object_get(j, "copy_retention_days"), 7, 1825, &p->copy_retention_days) &&
        in_range(json_object_get(j, "retention_days"), 1, 35, &p->retention_days);
    size_t i;
    json_array_foreach(regions, i, v)
    {
        if (!ok || !json_is_string(v) || !region_name_ok(json_string_value(v))) {
            ok = false;
            break;
        }
        p->copy_regions[p->n_copy_regions++] = gd_strdup(json_string_value(v));
    }
    if (!ok) {
        gd_policy_free(p);
        return gd_err_set(err, GD_E_CORRUPT,
                          "policy record %s in region %s is malformed (a value out of range or "
                          "of the wrong type): it is not used; set the policy again "
                          "(ModifyInstanceCrossBackupPolicy) or remove the record to fall back "
                          "to the config",
                          name, region);
    }
    p->recorded = true;
    p->backup_enabled = json_is_true(be);
    p->log_backup_enabled = json_is_true(le);
    p->updated_us = gd_json_int(j, "updated_us", 0);
    /* absent in records written before releases existed: not released */
    p->released_us = gd_json_int(j, "released_us", 0);
    if (p->released_us < 0)
        p->released_us = 0;
    return 0;
}

int gd_policy_read(gd_repo *r, gd_policy *out, gd_err *err)
{
    char *name = gd_policy_name(r->instance);
    json_t *j = NULL;
    int rc = gd_repo_get_record(r, name, "geodr-policy", &j, err);
    if (rc == 0)
        rc = decode(j, name, r->st->name, out, err);
    json_decref(j);
    free(name);
    return rc;
}

int gd_policy_write(gd_repo *r, const gd_policy *p, gd_err *err)
{
    json_t *regions = json_array();
    for (size_t i = 0; i < p->n_copy_regions; i++)
        json_array_append_new(regions, json_string(p->copy_regions[i]));
    json_t *j =
        json_pack("{s:s, s:i, s:s, s:b, s:b, s:o, s:i, s:i, s:I}", "format", "geodr-policy",
                  "version", GD_REPO_FORMAT_VERSION, "instance", r->instance, "backup_enabled",
                  p->backup_enabled, "log_backup_enabled", p->log_backup_enabled, "copy_regions",
                  regions, "copy_retention_days", p->copy_retention_days, "retention_days",
                  p->retention_days, "updated_us", (json_int_t)p->updated_us);
    if (p->released_us > 0)
        json_object_set_new(j, "released_us", json_integer((json_int_t)p->released_us));
    char *name = gd_policy_name(r->instance);
    int rc = gd_repo_put_record(r, name, j, err);
    free(name);
    json_decref(j);
    return rc;
}
