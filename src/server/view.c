/* What the regions hold, as the server answers it (docs/server.md, "Views"):
 * documents read from the regions (an instance's info document, a region's
 * binlog segments, the released instances), each kept under a key.
 *
 *   - A caller that wants one younger than the one kept gets the one kept at
 *     once (when it is at most VIEW_SERVE_OLD_S old), and the server's view
 *     thread (refresh_views, server.c) reads it again: under a steady load
 *     no API thread waits on a region.
 *   - Only when there is none yet, or after a change the server made itself
 *     (gd_server_view_invalidate: a backup, retention, a policy change, a
 *     release, a reload), does the caller read it, one caller at a time: the
 *     others wait for that read.  So an answer never predates the server's
 *     own last change, and 50 clients asking at once cost one read. */
#include <stdlib.h>
#include <string.h>

#include "common/periodic.h"
#include "common/util.h"
#include "server/server_intern.h"

/* A document older than this is not answered while a new one is read:
 * after a quiet spell the first caller reads the regions (and waits). */
#define VIEW_SERVE_OLD_S 30.0

struct gd_view {
    char *key; /* "<kind>\t<instance>[\t<region>]" */
    char *instance, *region;
    gd_view_read_fn read;
    json_t *doc;
    int64_t at_us; /* when the read that made doc started */
    bool stale;    /* a change since: read again before answering */
    bool building; /* a read runs */
    bool wanted;   /* a caller found it too old: the view thread reads it */
    struct gd_view *next;
};

/* The entry of key (made when missing), under s->mu. */
static gd_view *entry(gd_server *s, const char *key, const char *instance, const char *region,
                      gd_view_read_fn read)
{
    for (gd_view *v = s->views_list; v; v = v->next)
        if (strcmp(v->key, key) == 0)
            return v;
    gd_view *v = gd_calloc(1, sizeof *v);
    *v = (gd_view){.key = gd_strdup(key),
                   .instance = gd_strdup(instance),
                   .region = region ? gd_strdup(region) : NULL,
                   .read = read,
                   .next = s->views_list};
    s->views_list = v;
    return v;
}

/* Starts a read of v, under s->mu: a change from now on makes this read
 * stale too.  Returns whether v was stale (view_read keeps it so when the
 * read fails: what a change made old is never handed out again). */
static bool read_begin(gd_view *v)
{
    bool was_stale = v->stale;
    v->building = true;
    v->wanted = false;
    v->stale = false;
    return was_stale;
}

/* Reads v (read_begin under s->mu, then released). */
static int view_read(gd_server *s, gd_view *v, bool was_stale, json_t **doc, gd_err *err)
{
    int64_t started = gd_now_us();
    json_t *d = NULL;
    int rc = v->read(s, v->instance, v->region, &d, err);
    pthread_mutex_lock(&s->mu);
    v->building = false;
    if (rc == 0) {
        json_decref(v->doc);
        v->doc = json_incref(d);
        v->at_us = started;
    } else if (was_stale) {
        v->stale = true;
    }
    pthread_cond_broadcast(&s->view_cv);
    pthread_mutex_unlock(&s->mu);
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return rc;
}

int gd_server_view_get(gd_server *s, const char *kind, const char *instance, const char *region,
                       double max_age_s, gd_view_read_fn read, json_t **doc, gd_err *err)
{
    char *key = gd_server_view_key(kind, instance, region);
    pthread_mutex_lock(&s->mu);
    gd_view *v = entry(s, key, instance, region, read);
    free(key);
    for (;;) {
        double age_s = (double)(gd_now_us() - v->at_us) / 1e6;
        if (v->doc != NULL && !v->stale && (age_s <= VIEW_SERVE_OLD_S || v->building)) {
            if (age_s > max_age_s && !v->building && !v->wanted) {
                v->wanted = true; /* the view thread reads it again */
                if (s->views)
                    gd_periodic_kick(s->views);
            }
            *doc = json_incref(v->doc);
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        if (!v->building)
            break;
        /* none, a change since, or too old: wait for the read under way */
        pthread_cond_wait(&s->view_cv, &s->mu);
    }
    bool was_stale = read_begin(v);
    pthread_mutex_unlock(&s->mu);
    return view_read(s, v, was_stale, doc, err);
}

void gd_server_views_refresh(gd_server *s)
{
    /* what is due now, each taken at once (entries live as long as the
     * server); read one after the other */
    pthread_mutex_lock(&s->mu);
    size_t n = 0, k = 0;
    for (gd_view *v = s->views_list; v; v = v->next)
        n++;
    gd_view **due = gd_calloc(n + 1, sizeof *due);
    bool *was_stale = gd_calloc(n + 1, sizeof *was_stale);
    for (gd_view *v = s->views_list; v; v = v->next)
        if (!v->building && (v->wanted || v->stale)) {
            due[k] = v;
            was_stale[k++] = read_begin(v);
        }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < k; i++) {
        gd_err e;
        gd_err_clear(&e);
        view_read(s, due[i], was_stale[i], NULL, &e); /* a failure: kept as it was */
    }
    free(due);
    free(was_stale);
}

char *gd_server_view_key(const char *kind, const char *instance, const char *region)
{
    return region ? gd_asprintf("%s\t%s\t%s", kind, instance, region)
                  : gd_asprintf("%s\t%s", kind, instance);
}

json_t *gd_server_view_peek(gd_server *s, const char *key)
{
    pthread_mutex_lock(&s->mu);
    json_t *d = NULL;
    for (gd_view *v = s->views_list; v && d == NULL; v = v->next)
        if (strcmp(v->key, key) == 0)
            d = json_incref(v->doc);
    pthread_mutex_unlock(&s->mu);
    return d;
}

void gd_server_view_invalidate(gd_server *s, const char *instance)
{
    pthread_mutex_lock(&s->mu);
    for (gd_view *v = s->views_list; v; v = v->next)
        /* the instance's documents, and the list of released instances */
        if (instance == NULL || strcmp(v->instance, instance) == 0 ||
            strncmp(v->key, GD_VIEW_RELEASED "\t", sizeof GD_VIEW_RELEASED) == 0)
            v->stale = true;
    pthread_mutex_unlock(&s->mu);
}

void gd_server_views_free(gd_server *s)
{
    for (gd_view *v = s->views_list, *next; v; v = next) {
        next = v->next;
        json_decref(v->doc);
        free(v->key);
        free(v->instance);
        free(v->region);
        free(v);
    }
    s->views_list = NULL;
}
