/* What the regions hold, as the server answers it (docs/server.md, "Views"):
 * documents read from the regions (an instance's info document, a region's
 * binlog segments, the released instances), each kept under a key and read
 * again when a caller needs one younger than it is.  One caller reads a
 * given document at a time: the others take the one there is meanwhile, or,
 * after a change the server made itself (gd_server_view_invalidate), wait
 * for the new one.  So 50 clients asking at once cost one read of the
 * regions, and an answer never predates the server's own last change. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "server/server_intern.h"

struct gd_view {
    char *key; /* "<kind>\t<instance>[\t<region>]" */
    json_t *doc;
    int64_t at_us; /* when the read that made doc started */
    bool stale;    /* a change since: read again */
    bool building; /* a read runs */
    struct gd_view *next;
};

/* The entry of key (made when missing), under s->mu. */
static gd_view *entry(gd_server *s, const char *key)
{
    for (gd_view *v = s->views_list; v; v = v->next)
        if (strcmp(v->key, key) == 0)
            return v;
    gd_view *v = gd_calloc(1, sizeof *v);
    v->key = gd_strdup(key);
    v->next = s->views_list;
    s->views_list = v;
    return v;
}

int gd_server_view_get(gd_server *s, const char *key, double max_age_s, gd_view_read_fn read,
                       void *arg, json_t **doc, gd_err *err)
{
    pthread_mutex_lock(&s->mu);
    gd_view *v = entry(s, key);
    for (;;) {
        bool usable = v->doc != NULL && !v->stale;
        /* young enough, or being read again by another caller meanwhile */
        if (usable && (v->building || (double)(gd_now_us() - v->at_us) <= max_age_s * 1e6)) {
            *doc = json_incref(v->doc);
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        if (!v->building)
            break;
        pthread_cond_wait(&s->view_cv, &s->mu); /* a change since: wait for the read under way */
    }
    v->building = true;
    v->stale = false; /* a change from now on makes this read stale too */
    int64_t started = gd_now_us();
    pthread_mutex_unlock(&s->mu);
    json_t *d = NULL;
    int rc = read(s, arg, &d, err);
    pthread_mutex_lock(&s->mu);
    v->building = false;
    if (rc == 0) {
        json_decref(v->doc);
        v->doc = json_incref(d);
        v->at_us = started;
    }
    pthread_cond_broadcast(&s->view_cv);
    pthread_mutex_unlock(&s->mu);
    *doc = d;
    return rc;
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
    size_t n = instance ? strlen(instance) : 0;
    pthread_mutex_lock(&s->mu);
    for (gd_view *v = s->views_list; v; v = v->next) {
        const char *tab = strchr(v->key, '\t');
        /* the instance's documents, and the list of released instances */
        if (instance == NULL || strcmp(v->key, GD_VIEW_RELEASED) == 0 ||
            (tab && strncmp(tab + 1, instance, n) == 0 &&
             (tab[1 + n] == '\0' || tab[1 + n] == '\t')))
            v->stale = true;
    }
    pthread_mutex_unlock(&s->mu);
}

void gd_server_views_free(gd_server *s)
{
    for (gd_view *v = s->views_list, *next; v; v = next) {
        next = v->next;
        json_decref(v->doc);
        free(v->key);
        free(v);
    }
    s->views_list = NULL;
}
