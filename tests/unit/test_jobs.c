/* Unit tests of the job registry (server/jobs.h) with its state database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/progress.h"
#include "common/util.h"
#include "server/jobs.h"
#include "server/state.h"

typedef struct fixture {
    char dir[64];
    gd_state *state;
    gd_jobs *js;
} fixture;

static int setup(void **state)
{
    fixture *f = gd_calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/geodr-jobs-XXXXXX");
    if (mkdtemp(f->dir) == NULL || gd_state_open(f->dir, &f->state, NULL) != 0)
        return -1;
    f->js = gd_jobs_new(f->state, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gd_jobs_stop(f->js, 10);
    assert_int_equal(gd_jobs_free(f->js, NULL, NULL), 0);
    gd_state_close(f->state);
    char *cmd = gd_asprintf("rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

/* A job as DescribeJobs shows it (a new reference). */
static json_t *describe(gd_jobs *js, const char *id)
{
    json_t *o = NULL;
    assert_int_equal(gd_jobs_describe(js, id, 0, &o, NULL), 0);
    json_t *jobs = json_object_get(o, "Jobs");
    assert_int_equal(json_array_size(jobs), 1);
    json_t *j = json_incref(json_array_get(jobs, 0));
    json_decref(o);
    return j;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long num(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* Waits (10 s at most) for the job to end; returns its description. */
static json_t *wait_end(gd_jobs *js, const char *id)
{
    for (int i = 0; i < 2000; i++) {
        json_t *j = describe(js, id);
        if (strcmp(str(j, "Status"), "Running") != 0)
            return j;
        json_decref(j);
        pause_ms(5);
    }
    fail_msg("job %s did not end", id);
    return NULL;
}

/* What the test functions share with a job: a gate it waits at, and what
 * it saw. */
typedef struct gate {
    atomic_bool open, reached, freed;
    atomic_int runs;
} gate;

static void wait_flag(atomic_bool *b)
{
    for (int i = 0; i < 2000 && !atomic_load(b); i++)
        pause_ms(5);
    assert_true(atomic_load(b));
}

static void gate_freed(void *arg)
{
    atomic_store(&((gate *)arg)->freed, true);
}

static int job_ok(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)job, (void)err;
    gate *g = arg;
    atomic_fetch_add(&g->runs, 1);
    *result = json_pack("{s:s}", "BackupSetId", "20261130T123000Z");
    return 0;
}

/* A job runs on its thread, ends Succeeded with its result, and is in the
 * state database. */
static void start_and_succeed(void **state)
{
    fixture *f = *state;
    gate g = {0};
    char id[40];
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_start(f->js, "CreateBackup", "shop", job_ok, &g, gate_freed, id, &err),
                     0);
    assert_int_equal(strncmp(id, "j-", 2), 0);
    assert_int_equal(strlen(id), 2 + 15 + 1 + 8);
    assert_int_equal(id[10], 'T');
    json_t *j = wait_end(f->js, id);
    assert_string_equal(str(j, "Status"), "Succeeded");
    assert_string_equal(str(j, "JobId"), id);
    assert_string_equal(str(j, "Operation"), "CreateBackup");
    assert_string_equal(str(j, "DBInstanceId"), "shop");
    assert_int_equal(strlen(str(j, "StartTime")), 20);
    assert_int_equal(str(j, "StartTime")[19], 'Z');
    assert_non_null(str(j, "EndTime"));
    assert_string_equal(str(json_object_get(j, "Result"), "BackupSetId"), "20261130T123000Z");
    assert_true(json_is_null(json_object_get(j, "Error")));
    assert_true(json_is_object(json_object_get(j, "Progress")));
    json_decref(j);
    assert_int_equal(atomic_load(&g.runs), 1);
    assert_true(atomic_load(&g.freed));
    assert_int_equal(gd_jobs_running(f->js), 0);

    json_t *a = NULL;
    assert_int_equal(gd_state_jobs(f->state, id, 1, &a, NULL), 0);
    assert_string_equal(str(json_array_get(a, 0), "Status"), "Succeeded");
    json_decref(a);
}

/* Emits a phase and a note, starts a progress object with some bytes done
 * and waits at the gate. */
static int job_progress_then_wait(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)result, (void)err;
    gate *g = arg;
    gd_command_ctx ctx = {
        .cancel = gd_job_cancel_token(job), .on_event = gd_job_on_event, .event_ctx = job};
    gd_command_emit(&ctx, GD_EVENT_PHASE_BEGIN, "backup", "dump", NULL, NULL);
    gd_command_say(&ctx, GD_EVENT_NOTE, "backup", "dumping %d tables", 4);
    gd_progress *p = gd_progress_start("backup", "chunks", 1000, 4, ctx.progress);
    gd_progress_add(p, 300, 12);
    gd_progress_item_done(p);
    atomic_store(&g->reached, true);
    while (!atomic_load(&g->open))
        pause_ms(2);
    gd_progress_add(p, 100, 1);
    gd_progress_stop(p);
    gd_command_say(&ctx, GD_EVENT_WARNING, "backup", "table t1 has no primary key");
    return 0;
}

/* The counters of a running job are visible while it runs, and its last
 * counters after it ends. */
static void progress_visible_while_running(void **state)
{
    fixture *f = *state;
    gate g = {0};
    char id[40];
    assert_int_equal(
        gd_jobs_start(f->js, "CreateBackup", "shop", job_progress_then_wait, &g, NULL, id, NULL),
        0);
    wait_flag(&g.reached);
    json_t *j = describe(f->js, id);
    assert_string_equal(str(j, "Status"), "Running");
    assert_true(json_is_null(json_object_get(j, "EndTime")));
    json_t *p = json_object_get(j, "Progress");
    assert_string_equal(str(p, "Phase"), "dump");
    assert_string_equal(str(p, "Note"), "dumping 4 tables");
    assert_int_equal(num(p, "Bytes"), 300);
    assert_int_equal(num(p, "TotalBytes"), 1000);
    assert_int_equal(num(p, "Rows"), 12);
    assert_int_equal(num(p, "Items"), 1);
    assert_int_equal(num(p, "TotalItems"), 4);
    assert_true(json_is_integer(json_object_get(p, "EtaSeconds")));
    json_decref(j);
    assert_int_equal(gd_jobs_running(f->js), 1);

    atomic_store(&g.open, true);
    j = wait_end(f->js, id);
    p = json_object_get(j, "Progress");
    assert_int_equal(num(p, "Bytes"), 400);
    assert_int_equal(num(p, "Rows"), 13);
    assert_true(json_is_null(json_object_get(p, "EtaSeconds")));
    assert_string_equal(str(p, "Note"), "warning: table t1 has no primary key");
    json_decref(j);
}

static int job_until_cancelled(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)result;
    gate *g = arg;
    atomic_store(&g->reached, true);
    while (!gd_cancel_requested(gd_job_cancel_token(job)))
        pause_ms(2);
    return gd_err_set(err, GD_E_CANCEL, "backup cancelled: nothing was committed");
}

/* CancelJob stops a running job (Cancelled); an ended job or an unknown id
 * cannot be cancelled. */
static void cancel(void **state)
{
    fixture *f = *state;
    gate g = {0};
    char id[40];
    assert_int_equal(
        gd_jobs_start(f->js, "CreateBackup", "shop", job_until_cancelled, &g, NULL, id, NULL), 0);
    wait_flag(&g.reached);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_cancel(f->js, id, &err), 0);
    json_t *j = wait_end(f->js, id);
    assert_string_equal(str(j, "Status"), "Cancelled");
    json_t *e = json_object_get(j, "Error");
    assert_string_equal(str(e, "Code"), "cancel");
    assert_string_equal(str(e, "Message"), "backup cancelled: nothing was committed");
    json_decref(j);

    assert_int_equal(gd_jobs_cancel(f->js, id, &err), GD_E_STATE);
    assert_non_null(strstr(err.msg, "Cancelled"));
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_cancel(f->js, "j-20260101T000000-00000000", &err), GD_E_NOTFOUND);
    json_t *o = NULL;
    assert_int_equal(gd_jobs_describe(f->js, "j-nope", 0, &o, NULL), GD_E_NOTFOUND);
    assert_null(o);
}

static int job_fail(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)arg, (void)job, (void)result;
    return gd_err_set(err, GD_E_NOTFOUND, "backup set 20261130T000000Z not found in region eu");
}

/* A failed job keeps its error's code and message. */
static void failure_with_its_error(void **state)
{
    fixture *f = *state;
    char id[40];
    assert_int_equal(
        gd_jobs_start(f->js, "CreateDdrInstance", NULL, job_fail, NULL, NULL, id, NULL), 0);
    json_t *j = wait_end(f->js, id);
    assert_string_equal(str(j, "Status"), "Failed");
    assert_true(json_is_null(json_object_get(j, "DBInstanceId")));
    json_t *e = json_object_get(j, "Error");
    assert_string_equal(str(e, "Code"), "notfound");
    assert_string_equal(str(e, "Message"), "backup set 20261130T000000Z not found in region eu");
    json_decref(j);
}

static int job_wait_gate(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)job, (void)result, (void)err;
    gate *g = arg;
    while (!atomic_load(&g->open))
        pause_ms(2);
    return 0;
}

/* Past max_running a start is refused (GD_E_BUSY, retryable, arg freed);
 * once one ends, a new one starts. */
static void max_running_refusal(void **state)
{
    fixture *f = *state;
    gd_jobs *js = gd_jobs_new(f->state, 2);
    gate g = {0}, refused = {0};
    char a[40], b[40], c[40];
    assert_int_equal(gd_jobs_start(js, "CreateBackup", "a", job_wait_gate, &g, NULL, a, NULL), 0);
    assert_int_equal(gd_jobs_start(js, "CreateBackup", "b", job_wait_gate, &g, NULL, b, NULL), 0);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(
        gd_jobs_start(js, "CreateBackup", "c", job_wait_gate, &refused, gate_freed, c, &err),
        GD_E_BUSY);
    assert_true(err.retryable);
    assert_true(atomic_load(&refused.freed));
    assert_int_equal(gd_jobs_running(js), 2);
    atomic_store(&g.open, true);
    json_decref(wait_end(js, a));
    assert_int_equal(gd_jobs_start(js, "CreateBackup", "c", job_wait_gate, &g, NULL, c, NULL), 0);
    atomic_store(&g.open, true);
    gd_jobs_stop(js, 10);
    assert_int_equal(gd_jobs_free(js, NULL, NULL), 0);
}

static int job_short(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)arg, (void)job, (void)err;
    gd_progress *p = gd_progress_start("restore", "tables", 1 << 20, 10, false);
    for (int i = 0; i < 10; i++) {
        gd_progress_add(p, 1 << 17, 100);
        gd_progress_item_done(p);
        pause_ms(1 + rand() % 5);
    }
    gd_progress_stop(p);
    *result = json_pack("{s:i}", "Tables", 10);
    return 0;
}

typedef struct describer {
    gd_jobs *js;
    atomic_bool *stop;
    int calls, fails;
} describer;

static void *describe_loop(void *arg)
{
    describer *d = arg;
    while (!atomic_load(d->stop)) {
        json_t *o = NULL;
        if (gd_jobs_describe(d->js, NULL, 0, &o, NULL) != 0)
            d->fails++;
        json_t *jobs = json_object_get(o, "Jobs");
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
        {
            json_t *one = NULL;
            if (gd_jobs_describe(d->js, str(j, "JobId"), 0, &one, NULL) != 0)
                d->fails++;
            char *s = json_dumps(one, 0); /* as the HTTP layer would */
            free(s);
            json_decref(one);
            if (i > 5)
                break;
        }
        json_decref(o);
        d->calls++;
    }
    return NULL;
}

/* 50 jobs at once, described from four threads all the while they run and
 * end: all succeed, none is lost, nothing races (run under ASan too). */
static void fifty_concurrent_described_while_ending(void **state)
{
    fixture *f = *state;
    atomic_bool stop = false;
    describer d[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        d[i] = (describer){.js = f->js, .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, describe_loop, &d[i]), 0);
    }
    char ids[50][40];
    for (int i = 0; i < 50; i++)
        assert_int_equal(
            gd_jobs_start(f->js, "CreateDdrInstance", "shop", job_short, NULL, NULL, ids[i], NULL),
            0);
    for (int i = 0; i < 50; i++) {
        json_t *j = wait_end(f->js, ids[i]);
        assert_string_equal(str(j, "Status"), "Succeeded");
        assert_int_equal(num(json_object_get(j, "Progress"), "Items"), 10);
        json_decref(j);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(d[i].fails, 0);
        assert_true(d[i].calls > 0);
    }
    assert_int_equal(gd_jobs_running(f->js), 0);
    json_t *o = NULL;
    assert_int_equal(gd_jobs_describe(f->js, NULL, 0, &o, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(o, "Jobs")), 50);
    json_decref(o);
    assert_int_equal(gd_jobs_describe(f->js, NULL, 7, &o, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(o, "Jobs")), 7);
    json_decref(o);
}

/* After a restart the jobs of the earlier process are described from the
 * state database (Progress null), merged with the new ones, newest first;
 * they cannot be cancelled. */
static void history_after_restart(void **state)
{
    fixture *f = *state;
    gate g = {0};
    char old[40], now[40];
    assert_int_equal(gd_jobs_start(f->js, "CreateBackup", "shop", job_ok, &g, NULL, old, NULL), 0);
    json_decref(wait_end(f->js, old));
    gd_jobs_stop(f->js, 10);
    assert_int_equal(gd_jobs_free(f->js, NULL, NULL), 0);
    gd_state_close(f->state);

    assert_int_equal(gd_state_open(f->dir, &f->state, NULL), 0);
    f->js = gd_jobs_new(f->state, 0);
    json_t *j = describe(f->js, old);
    assert_string_equal(str(j, "Status"), "Succeeded");
    assert_true(json_is_null(json_object_get(j, "Progress")));
    assert_string_equal(str(json_object_get(j, "Result"), "BackupSetId"), "20261130T123000Z");
    json_decref(j);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_cancel(f->js, old, &err), GD_E_STATE);

    pause_ms(1000); /* a later StartTime (seconds) */
    assert_int_equal(gd_jobs_start(f->js, "CreateBackup", "shop", job_ok, &g, NULL, now, NULL), 0);
    json_decref(wait_end(f->js, now));
    json_t *o = NULL;
    assert_int_equal(gd_jobs_describe(f->js, NULL, 0, &o, NULL), 0);
    json_t *jobs = json_object_get(o, "Jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(str(json_array_get(jobs, 0), "JobId"), now);
    assert_string_equal(str(json_array_get(jobs, 1), "JobId"), old);
    json_decref(o);
}

/* Past GD_JOBS_KEEP ended jobs the oldest leave memory: the default
 * answer holds the newest GD_JOBS_KEEP, a larger limit and the old ids
 * still find them in the state database. */
static void oldest_ended_jobs_read_from_the_state(void **state)
{
    fixture *f = *state;
    gate g = {0};
    enum { N = GD_JOBS_KEEP + 5 };
    char(*ids)[40] = gd_calloc(N, 40);
    for (int i = 0; i < N; i++) {
        assert_int_equal(
            gd_jobs_start(f->js, "CreateBackup", "shop", job_ok, &g, NULL, ids[i], NULL), 0);
        if (i == 0)
            pause_ms(1000); /* the first one older by its StartTime */
    }
    for (int i = 0; i < N; i++)
        json_decref(wait_end(f->js, ids[i]));
    json_t *o = NULL;
    assert_int_equal(gd_jobs_describe(f->js, NULL, 0, &o, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(o, "Jobs")), GD_JOBS_KEEP);
    json_decref(o);
    assert_int_equal(gd_jobs_describe(f->js, NULL, 1000, &o, NULL), 0);
    json_t *jobs = json_object_get(o, "Jobs");
    assert_int_equal(json_array_size(jobs), N);
    assert_string_equal(str(json_array_get(jobs, N - 1), "JobId"), ids[0]);
    json_decref(o);
    json_t *j = describe(f->js, ids[0]);
    assert_string_equal(str(j, "Status"), "Succeeded");
    json_decref(j);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_cancel(f->js, ids[0], &err), GD_E_STATE);
    free(ids);
}

/* What a job's owner frees in its release (the server and its instances,
 * for the server's jobs): on the heap, so that ASan reports a job's touch
 * after it is freed. */
typedef struct owner {
    atomic_bool reached, arg_freed;
    atomic_int touches;
} owner;

static atomic_bool g_go, g_released, g_released_early;

static int job_ignores_cancel(void *arg, gd_job *job, json_t **result, gd_err *err)
{
    (void)job, (void)result, (void)err;
    owner *o = arg;
    atomic_store(&o->reached, true);
    while (!atomic_load(&g_go)) /* past every deadline */
        pause_ms(5);
    atomic_fetch_add(&o->touches, 1); /* uses its owner's memory after the wait */
    return 0;
}

static void owner_arg_free(void *arg)
{
    atomic_store(&((owner *)arg)->arg_freed, true);
}

static void owner_release(void *ctx)
{
    owner *o = ctx;
    if (!atomic_load(&o->arg_freed) || atomic_load(&o->touches) != 1)
        atomic_store(&g_released_early, true);
    free(o);
    atomic_store(&g_released, true);
}

/* gd_jobs_stop cancels running jobs and waits for them; one that does not
 * stop in time keeps running, and gd_jobs_free leaves it the registry and
 * what its owner releases: release runs once it has ended, never before. */
static void a_job_outliving_the_wait_keeps_what_it_uses(void **state)
{
    fixture *f = *state;
    gd_jobs *js = gd_jobs_new(f->state, 0);
    gate g = {0};
    owner *o = gd_calloc(1, sizeof *o);
    char a[40], b[40];
    assert_int_equal(gd_jobs_start(js, "CreateBackup", "a", job_until_cancelled, &g, NULL, a, NULL),
                     0);
    assert_int_equal(
        gd_jobs_start(js, "CreateBackup", "b", job_ignores_cancel, o, owner_arg_free, b, NULL), 0);
    wait_flag(&g.reached);
    wait_flag(&o->reached);
    double t0 = gd_mono();
    assert_int_equal(gd_jobs_stop(js, 0.05), 1);
    assert_true(gd_mono() - t0 < 0.25);
    char id[40];
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_jobs_start(js, "CreateBackup", "c", job_ok, &g, NULL, id, &err),
                     GD_E_STATE);
    assert_int_equal(gd_jobs_free(js, owner_release, o), 1);
    pause_ms(50);
    assert_false(atomic_load(&g_released)); /* the job still runs: o is alive */
    atomic_store(&g_go, true);
    wait_flag(&g_released);
    assert_false(atomic_load(&g_released_early));

    json_t *a_row = NULL;
    assert_int_equal(gd_state_jobs(f->state, a, 1, &a_row, NULL), 0);
    assert_string_equal(str(json_array_get(a_row, 0), "Status"), "Cancelled");
    json_decref(a_row);
}

/* With no job running, release runs before gd_jobs_free returns. */
static void release_at_once_without_jobs(void **state)
{
    fixture *f = *state;
    gd_jobs *js = gd_jobs_new(f->state, 0);
    atomic_store(&g_released, false);
    owner *o = gd_calloc(1, sizeof *o);
    atomic_store(&o->arg_freed, true);
    atomic_store(&o->touches, 1);
    assert_int_equal(gd_jobs_free(js, owner_release, o), 0);
    assert_true(atomic_load(&g_released));
    atomic_store(&g_released, false);
    o = gd_calloc(1, sizeof *o);
    atomic_store(&o->arg_freed, true);
    atomic_store(&o->touches, 1);
    assert_int_equal(gd_jobs_free(NULL, owner_release, o), 0);
    assert_true(atomic_load(&g_released));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_and_succeed, setup, teardown),
        cmocka_unit_test_setup_teardown(progress_visible_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_with_its_error, setup, teardown),
        cmocka_unit_test_setup_teardown(max_running_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(fifty_concurrent_described_while_ending, setup, teardown),
        cmocka_unit_test_setup_teardown(history_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(oldest_ended_jobs_read_from_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(a_job_outliving_the_wait_keeps_what_it_uses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(release_at_once_without_jobs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
