/* The job registry.  One mutex (mu) guards the list and every job's mutable
 * fields: the work under it is copying a few fields or taking a progress
 * snapshot, so describe calls from many HTTP threads do not queue behind
 * anything slow.  The state database is written outside mu, under
 * state_mu, which only guards the borrowed pointer against gd_jobs_free.
 *
 * Job threads are detached: gd_jobs_stop waits for them with a deadline
 * and gd_jobs_free, when some are still running, leaves the registry, and
 * the caller's release, to the last one to end (abandoned): a job never
 * outlives what it uses. */
#include "server/jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"
#include "server/state.h"

struct gd_job {
    gd_jobs *js;
    gd_job *next; /* the list is newest first */
    char id[40];
    char *operation, *instance;
    gd_job_fn fn;
    void *arg;
    void (*arg_free)(void *);
    gd_cancel cancel;
    int64_t start_us;
    /* Under js->mu: */
    gd_job_status status;
    int64_t end_us;
    char phase[64], note[512];
    gd_progress *progress; /* started and not yet stopping, or NULL */
    gd_progress_snap last; /* the last one that stopped */
    bool has_last;
    json_t *result;
    char *error_code, *error_message;
    json_t *stored; /* a job of an earlier process: its description from the
                     * state database (only id and status are set beside) */
};

struct gd_jobs {
    pthread_mutex_t mu;
    pthread_cond_t ended; /* CLOCK_MONOTONIC; signalled when a job ends */
    gd_job *jobs;
    size_t max_running, running;
    bool trimmed;               /* the state has ended jobs older than the list's */
    bool closing;               /* gd_jobs_free began: no new job */
    bool abandoned;             /* gd_jobs_free returned: the last job frees js */
    void (*release)(void *ctx); /* called once js is freed (gd_jobs_free) */
    void *release_ctx;
    pthread_mutex_t state_mu;
    gd_state *state; /* NULL once gd_jobs_free is past its wait */
};

static const char *status_name(gd_job_status s)
{
    switch (s) {
    case GD_JOB_RUNNING:
        return "Running";
    case GD_JOB_SUCCEEDED:
        return "Succeeded";
    case GD_JOB_FAILED:
        return "Failed";
    case GD_JOB_CANCELLED:
        return "Cancelled";
    }
    return "Failed";
}

static gd_job_status status_parse(const char *s)
{
    if (s && strcmp(s, "Succeeded") == 0)
        return GD_JOB_SUCCEEDED;
    if (s && strcmp(s, "Cancelled") == 0)
        return GD_JOB_CANCELLED;
    return GD_JOB_FAILED; /* Running in the state: no thread of ours runs it */
}

/* The newest ended jobs of earlier processes, so that describing all jobs
 * needs no query. */
static void load_history(gd_jobs *js)
{
    json_t *a = NULL;
    gd_err e;
    gd_err_clear(&e);
    if (gd_state_jobs(js->state, NULL, GD_JOBS_KEEP, &a, &e) != 0) {
        gd_log_kv(GD_LOG_WARN, "event=jobs_history_unreadable error=%s", e.msg);
        return;
    }
    gd_job **tail = &js->jobs;
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        gd_job *j = gd_calloc(1, sizeof *j);
        j->js = js;
        gd_strlcpy(j->id, json_string_value(json_object_get(o, "JobId")), sizeof j->id);
        j->status = status_parse(json_string_value(json_object_get(o, "Status")));
        json_object_set_new(o, "Progress", json_null());
        j->stored = json_incref(o);
        *tail = j;
        tail = &j->next;
    }
    js->trimmed = json_array_size(a) >= GD_JOBS_KEEP;
    json_decref(a);
}

gd_jobs *gd_jobs_new(gd_state *state, size_t max_running)
{
    gd_jobs *js = gd_calloc(1, sizeof *js);
    pthread_mutex_init(&js->mu, NULL);
    pthread_mutex_init(&js->state_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&js->ended, &ca);
    pthread_condattr_destroy(&ca);
    js->state = state;
    js->max_running = max_running;
    if (state)
        load_history(js);
    return js;
}

static void job_free(gd_job *j)
{
    free(j->operation);
    free(j->instance);
    json_decref(j->result);
    free(j->error_code);
    free(j->error_message);
    json_decref(j->stored);
    free(j);
}

/* Frees js, then calls its release: what the jobs used goes last. */
static void registry_free(gd_jobs *js)
{
    void (*release)(void *) = js->release;
    void *release_ctx = js->release_ctx;
    for (gd_job *j = js->jobs, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&js->ended);
    pthread_mutex_destroy(&js->mu);
    pthread_mutex_destroy(&js->state_mu);
    free(js);
    if (release)
        release(release_ctx);
}

static size_t stop_jobs(gd_jobs *js, double wait_s)
{
    pthread_mutex_lock(&js->mu);
    js->closing = true;
    for (gd_job *j = js->jobs; j; j = j->next)
        if (j->status == GD_JOB_RUNNING)
            gd_cancel_request(&j->cancel);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = ts.tv_nsec + (long long)((wait_s > 0 ? wait_s : 0) * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (js->running > 0)
        if (pthread_cond_timedwait(&js->ended, &js->mu, &ts) != 0)
            break;
    size_t left = js->running;
    pthread_mutex_unlock(&js->mu);

    /* The caller may close the state next: no job writes to it after. */
    pthread_mutex_lock(&js->state_mu);
    js->state = NULL;
    pthread_mutex_unlock(&js->state_mu);
    return left;
}

size_t gd_jobs_stop(gd_jobs *js, double wait_s)
{
    size_t left = stop_jobs(js, wait_s);
    if (left > 0)
        gd_log_kv(GD_LOG_WARN, "event=jobs_left_running jobs=%zu waited_s=%.1f", left, wait_s);
    return left;
}

size_t gd_jobs_free(gd_jobs *js, void (*release)(void *ctx), void *ctx)
{
    if (js == NULL) {
        if (release)
            release(ctx);
        return 0;
    }
    stop_jobs(js, 0);
    pthread_mutex_lock(&js->mu);
    size_t left = js->running;
    js->abandoned = left > 0;
    js->release = release;
    js->release_ctx = ctx;
    pthread_mutex_unlock(&js->mu);
    if (left == 0) /* else js, and what release frees, belong to the last job now */
        registry_free(js);
    return left;
}
static void record(gd_jobs *js, const gd_state_job *sj)
{
    pthread_mutex_lock(&js->state_mu);
    gd_err e;
    gd_err_clear(&e);
    if (js->state && gd_state_job_put(js->state, sj, &e) != 0)
        gd_log_kv(GD_LOG_WARN, "event=job_not_recorded job=%s error=%s", sj->id, e.msg);
    pthread_mutex_unlock(&js->state_mu);
}

/* The observer a job's thread installs: it only keeps which progress object
 * runs, so that describe can read it. */
static void job_progress(void *ctx, gd_progress *p, gd_progress_event ev)
{
    gd_job *j = ctx;
    pthread_mutex_lock(&j->js->mu);
    if (ev == GD_PROGRESS_STARTED) {
        j->progress = p;
    } else {
        gd_progress_snapshot(p, &j->last);
        j->has_last = true;
        if (j->progress == p)
            j->progress = NULL;
    }
    pthread_mutex_unlock(&j->js->mu);
}

/* Drops the oldest ended jobs past GD_JOBS_KEEP (under mu). */
static void trim(gd_jobs *js)
{
    size_t ended = 0;
    for (gd_job **pp = &js->jobs; *pp;) {
        gd_job *j = *pp;
        if (j->status != GD_JOB_RUNNING && ++ended > GD_JOBS_KEEP) {
            *pp = j->next;
            job_free(j);
            js->trimmed = true;
        } else {
            pp = &j->next;
        }
    }
}

/* Records the end in the state, then in memory; frees js when it was left
 * to the last job.  j may be freed (trimmed) once mu is released. */
static void job_finish(gd_job *j, int rc, json_t *result, const gd_err *err)
{
    gd_jobs *js = j->js;
    gd_job_status st = GD_JOB_SUCCEEDED;
    char *code = NULL, *msg = NULL;
    if (rc != 0) {
        st = gd_cancel_requested(&j->cancel) ? GD_JOB_CANCELLED : GD_JOB_FAILED;
        code = gd_strdup(gd_code_name(err->code ? err->code : rc));
        msg = gd_strdup(err->msg[0]              ? err->msg
                        : st == GD_JOB_CANCELLED ? "cancelled (CancelJob)"
                                                 : "the operation failed without a message");
    }
    char *result_json = result ? json_dumps(result, JSON_COMPACT) : NULL;
    int64_t end_us = gd_now_us();
    gd_state_job sj = {.id = j->id,
                       .operation = j->operation,
                       .instance = j->instance,
                       .status = status_name(st),
                       .start_us = j->start_us,
                       .end_us = end_us,
                       .error_code = code,
                       .error_message = msg,
                       .result_json = result_json};
    record(js, &sj);
    double took_s = (double)(end_us - j->start_us) / 1e6;
    const char *inst = j->instance ? j->instance : "-";
    if (msg)
        gd_log_kv(GD_LOG_WARN,
                  "event=job job=%s operation=%s instance=%s status=%s duration_s=%.1f error=%s",
                  j->id, j->operation, inst, status_name(st), took_s, msg);
    else
        gd_log_kv(GD_LOG_INFO,
                  "event=job job=%s operation=%s instance=%s status=%s duration_s=%.1f", j->id,
                  j->operation, inst, status_name(st), took_s);
    free(result_json);

    pthread_mutex_lock(&js->mu);
    j->status = st;
    j->end_us = end_us;
    j->result = result;
    j->error_code = code;
    j->error_message = msg;
    j->progress = NULL;
    js->running--;
    trim(js);
    bool last = js->abandoned && js->running == 0;
    pthread_cond_broadcast(&js->ended);
    pthread_mutex_unlock(&js->mu);
    if (last)
        registry_free(js);
}

static void *job_main(void *arg)
{
    gd_job *j = arg;
    gd_state_job sj = {.id = j->id,
                       .operation = j->operation,
                       .instance = j->instance,
                       .status = status_name(GD_JOB_RUNNING),
                       .start_us = j->start_us};
    record(j->js, &sj);
    gd_log_kv(GD_LOG_INFO, "event=job job=%s operation=%s instance=%s status=Running", j->id,
              j->operation, j->instance ? j->instance : "-");

    gd_progress_observe(job_progress, j);
    json_t *result = NULL;
    gd_err err;
    gd_err_clear(&err);
    int rc = j->fn(j->arg, j, &result, &err);
    gd_progress_observe(NULL, NULL);
    if (j->arg_free)
        j->arg_free(j->arg);
    job_finish(j, rc, result, &err);
    return NULL;
}

static gd_job *find(gd_jobs *js, const char *id)
{
    for (gd_job *j = js->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

/* "j-20261130T123456-0123abcd", not yet in the list (under mu). */
static void make_id(gd_jobs *js, char id[40])
{
    char t[32];
    gd_fmt_time_compact(gd_now_us(), t, sizeof t);
    t[15] = '\0'; /* no "Z": the id is a name, not a time to parse */
    do {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
            r = (uint32_t)rand() ^ (uint32_t)gd_now_us(); /* uniqueness is checked below */
        snprintf(id, 40, "j-%s-%08x", t, r);
    } while (find(js, id) != NULL);
}

int gd_jobs_start(gd_jobs *js, const char *operation, const char *instance, gd_job_fn fn, void *arg,
                  void (*arg_free)(void *), char id[40], gd_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&js->mu);
    if (js->closing) {
        rc = gd_err_set(err, GD_E_STATE, "the server is stopping: no new job starts");
        goto out;
    }
    if (js->max_running > 0 && js->running >= js->max_running) {
        rc = gd_err_set(err, GD_E_BUSY,
                        "%zu jobs are running, the most this server runs at once: try again "
                        "when one has ended (DescribeJobs)",
                        js->running);
        if (err)
            err->retryable = true;
        goto out;
    }
    gd_job *j = gd_calloc(1, sizeof *j);
    j->js = js;
    make_id(js, j->id);
    j->operation = gd_strdup(operation);
    j->instance = instance ? gd_strdup(instance) : NULL;
    j->fn = fn;
    j->arg = arg;
    j->arg_free = arg_free;
    j->start_us = gd_now_us();
    j->status = GD_JOB_RUNNING;

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    /* Started under mu: its first touch of the registry waits for the job
     * to be listed. */
    int prc = pthread_create(&th, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        job_free(j);
        rc = gd_err_set(err, GD_E_NOMEM, "no thread for a new job: %s", strerror(prc));
        goto out;
    }
    j->next = js->jobs;
    js->jobs = j;
    js->running++;
    memcpy(id, j->id, 40);
out:
    pthread_mutex_unlock(&js->mu);
    if (rc != 0 && arg_free)
        arg_free(arg);
    return rc;
}

gd_cancel *gd_job_cancel_token(gd_job *j)
{
    return &j->cancel;
}

void gd_job_on_event(void *job, const gd_cmd_event *ev)
{
    gd_job *j = job;
    pthread_mutex_lock(&j->js->mu);
    if (ev->kind == GD_EVENT_PHASE_BEGIN && ev->phase)
        gd_strlcpy(j->phase, ev->phase, sizeof j->phase);
    else if (ev->kind == GD_EVENT_NOTE && ev->msg)
        gd_strlcpy(j->note, ev->msg, sizeof j->note);
    else if (ev->kind == GD_EVENT_WARNING && ev->msg)
        snprintf(j->note, sizeof j->note, "warning: %s", ev->msg);
    pthread_mutex_unlock(&j->js->mu);
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

/* Under mu. */
static json_t *progress_json(const gd_job *j)
{
    gd_progress_snap s = {.eta_s = -1};
    if (j->progress)
        gd_progress_snapshot(j->progress, &s);
    else if (j->has_last)
        s = j->last;
    bool eta = j->status == GD_JOB_RUNNING && j->progress && s.eta_s >= 0;
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "Phase", str_or_null(j->phase),
                     "Bytes", (json_int_t)s.bytes, "TotalBytes", (json_int_t)s.total_bytes, "Rows",
                     (json_int_t)s.rows, "Items", (json_int_t)s.items, "TotalItems",
                     (json_int_t)s.total_items, "EtaSeconds",
                     eta ? json_integer(s.eta_s) : json_null(), "Note", str_or_null(j->note));
}

/* Under mu. */
static json_t *job_json(const gd_job *j)
{
    if (j->stored)
        return json_deep_copy(j->stored);
    gd_state_job sj = {.id = j->id,
                       .operation = j->operation,
                       .instance = j->instance,
                       .status = status_name(j->status),
                       .start_us = j->start_us,
                       .end_us = j->end_us,
                       .error_code = j->error_code,
                       .error_message = j->error_message};
    json_t *o = gd_state_job_json(&sj);
    if (j->result) /* a copy: the answer is serialised after mu is released */
        json_object_set_new(o, "Result", json_deep_copy(j->result));
    json_object_set_new(o, "Progress", progress_json(j));
    return o;
}

static int by_start_desc(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(y, "StartTime")),
                   json_string_value(json_object_get(x, "StartTime")));
    if (c == 0)
        c = strcmp(json_string_value(json_object_get(y, "JobId")),
                   json_string_value(json_object_get(x, "JobId")));
    return c;
}

/* Adds the state's jobs that list lacks, then keeps the newest limit. */
static int merge_state(gd_jobs *js, json_t *list, size_t limit, gd_err *err)
{
    json_t *old = NULL;
    pthread_mutex_lock(&js->state_mu);
    int rc = js->state ? gd_state_jobs(js->state, NULL, limit, &old, err) : 0;
    pthread_mutex_unlock(&js->state_mu);
    if (rc != 0 || old == NULL)
        return rc;
    size_t n = json_array_size(list), cap = n + json_array_size(old), m = 0;
    json_t **v = gd_calloc(cap ? cap : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[m++] = json_incref(json_array_get(list, i));
    size_t i;
    json_t *o;
    json_array_foreach(old, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "JobId"));
        bool have = false;
        for (size_t k = 0; k < n && !have; k++)
            have = strcmp(id, json_string_value(json_object_get(v[k], "JobId"))) == 0;
        if (!have) {
            json_object_set_new(o, "Progress", json_null());
            v[m++] = json_incref(o);
        }
    }
    qsort(v, m, sizeof *v, by_start_desc);
    json_array_clear(list);
    for (size_t k = 0; k < m; k++) {
        if (k < limit)
            json_array_append(list, v[k]);
        json_decref(v[k]);
    }
    free(v);
    json_decref(old);
    return 0;
}

int gd_jobs_describe(gd_jobs *js, const char *id, size_t limit, json_t **out, gd_err *err)
{
    *out = NULL;
    if (limit == 0)
        limit = GD_JOBS_KEEP;
    json_t *list = json_array();
    pthread_mutex_lock(&js->mu);
    bool merge = id == NULL && js->state != NULL;
    for (gd_job *j = js->jobs; j; j = j->next) {
        if (id ? strcmp(j->id, id) == 0 : json_array_size(list) < limit)
            json_array_append_new(list, job_json(j));
    }
    merge = merge && js->trimmed && json_array_size(list) < limit;
    pthread_mutex_unlock(&js->mu);

    int rc = 0;
    if (merge) {
        rc = merge_state(js, list, limit, err);
    } else if (id && json_array_size(list) == 0) {
        /* an ended job trimmed from memory */
        pthread_mutex_lock(&js->state_mu);
        json_t *old = NULL;
        if (js->state && (rc = gd_state_jobs(js->state, id, 1, &old, err)) == 0 &&
            json_array_size(old) == 1) {
            json_object_set_new(json_array_get(old, 0), "Progress", json_null());
            json_array_extend(list, old);
        }
        json_decref(old);
        pthread_mutex_unlock(&js->state_mu);
        if (rc == 0 && json_array_size(list) == 0)
            rc = gd_err_set(err, GD_E_NOTFOUND, "no job %s (DescribeJobs lists the jobs)", id);
    }
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "Jobs", list);
    return 0;
}

int gd_jobs_cancel(gd_jobs *js, const char *id, gd_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&js->mu);
    gd_job *j = find(js, id);
    if (j && j->status == GD_JOB_RUNNING)
        gd_cancel_request(&j->cancel);
    else if (j)
        rc = gd_err_set(err, GD_E_STATE, "job %s already ended (%s)", id, status_name(j->status));
    pthread_mutex_unlock(&js->mu);
    if (j)
        return rc;
    json_t *o = NULL;
    rc = gd_jobs_describe(js, id, 1, &o, err); /* from the state, or NOTFOUND */
    if (rc == 0)
        rc = gd_err_set(err, GD_E_STATE, "job %s already ended (%s)", id,
                        json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "Jobs"), 0), "Status")));
    json_decref(o);
    return rc;
}

size_t gd_jobs_running(gd_jobs *js)
{
    pthread_mutex_lock(&js->mu);
    size_t n = js->running;
    pthread_mutex_unlock(&js->mu);
    return n;
}
