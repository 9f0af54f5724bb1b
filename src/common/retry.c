/* Retrying with backoff (contract in retry.h). */
#include "common/retry.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "common/util.h"

/* Jitter only: a weak fallback when getrandom fails is harmless. */
static uint64_t retry_rand(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)gd_now_us() * 0x9E3779B97F4A7C15ull;
    return r;
}

void gd_retry_start(gd_retry *r, const gd_retry_policy *p)
{
    r->p = *p;
    r->started = gd_mono();
    r->tries = 0;
    r->total = 0;
}

void gd_retry_restart(gd_retry *r)
{
    r->started = gd_mono();
    r->tries = 0;
}

long gd_retry_delay_ms(const gd_retry_policy *p, int failures)
{
    long d = p->first_ms;
    for (int i = 1; i < failures && d < p->max_ms; i++)
        d *= 2;
    if (d > p->max_ms)
        d = p->max_ms;
    if (d <= 1 || !p->jitter)
        return d;
    long half = d / 2;
    return half + (long)(retry_rand() % (uint64_t)(d - half + 1));
}

long gd_retry_next(gd_retry *r)
{
    r->tries++;
    r->total++;
    if (r->p.attempts > 0 && r->tries >= r->p.attempts)
        return -1;
    long left = 0;
    if (r->p.budget_ms > 0) {
        left = r->p.budget_ms - (long)((gd_mono() - r->started) * 1000);
        if (left <= 0)
            return -1;
    }
    long ms = gd_retry_delay_ms(&r->p, r->tries);
    return r->p.budget_ms > 0 && ms > left ? left : ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool gd_retry_sleep(long ms, const gd_cancel *cancel)
{
    for (long left = ms; left > 0; left -= 100) {
        if (gd_cancel_requested(cancel))
            return true;
        sleep_ms(left < 100 ? left : 100);
    }
    return gd_cancel_requested(cancel);
}
