/* tests/test_threads.c — the thread pool and nb_parallel_for, its public entry
 * point (linked against the shared library: it is exported). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <float.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nabla/backend.h"
#include "nabla/threads.h"

typedef struct {
    _Atomic int *hits;
    int64_t n, grain;
    _Atomic int calls;
    _Atomic int bad_range;
} cover_ctx;

static void cover_fn(void *ctx, int64_t b, int64_t e)
{
    cover_ctx *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    if (b < 0 || e > c->n || b >= e) {
        atomic_fetch_add(&c->bad_range, 1);
        return;
    }
    if (e - b < c->grain && e != c->n)
        atomic_fetch_add(&c->bad_range, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

/* Returns 0 when [0, n) was covered exactly once in ranges >= grain (but the
 * last), else a nonzero code (usable from any thread). */
static int cover_status(int64_t n, int64_t grain)
{
    cover_ctx c = {.n = n, .grain = grain};
    c.hits = calloc((size_t)(n > 0 ? n : 1), sizeof *c.hits);
    if (!c.hits)
        return 1;
    nb_parallel_for(n, grain, cover_fn, &c);
    int st = 0;
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&c.hits[i]) != 1)
            st = 2;
    if (atomic_load(&c.bad_range) != 0)
        st = 3;
    if (n <= 0 && atomic_load(&c.calls) != 0)
        st = 4;
    if (n > 0 && n <= grain && atomic_load(&c.calls) != 1)
        st = 5;
    free(c.hits);
    return st;
}

static void check_cover(int64_t n, int64_t grain)
{
    int st = cover_status(n, grain);
    cr_assert_eq(st, 0,
                 "n=%ld grain=%ld threads=%d: failure %d (2: an index not hit once, "
                 "3: bad range, 4/5: wrong call count)",
                 (long)n, (long)grain, nb_get_num_threads(), st);
}

Test(threads, covers_each_index_once)
{
    const int64_t ns[] = {0, 1, 2, 3, 7, 8, 63, 64, 65, 1000, 4097, 100003};
    const int64_t grains[] = {0, 1, 2, 3, 16, 1000, 1 << 20};
    const int nts[] = {1, 2, 3, 4, 8};
    for (size_t t = 0; t < sizeof nts / sizeof nts[0]; t++) {
        nb_set_num_threads(nts[t]);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                check_cover(ns[i], grains[g]);
    }
    nb_set_num_threads(0);
}

Test(threads, many_dispatches)
{
    nb_set_num_threads(2);
    for (int rep = 0; rep < 2000; rep++)
        check_cover(100 + rep % 37, 8);
    nb_set_num_threads(0);
}

/* With two threads a large range is really split (the pool is used, the
 * caller included); with one it is one inline call. */
static int calls_for(int threads, int64_t n, int64_t grain)
{
    nb_set_num_threads(threads);
    cover_ctx c = {.n = n, .grain = grain};
    c.hits = calloc((size_t)n, sizeof *c.hits);
    cr_assert(c.hits);
    nb_parallel_for(n, grain, cover_fn, &c);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&c.hits[i]), 1, "index %ld visited %d times", (long)i,
                     atomic_load(&c.hits[i]));
    cr_assert_eq(atomic_load(&c.bad_range), 0);
    free(c.hits);
    nb_set_num_threads(0);
    return atomic_load(&c.calls);
}

Test(threads, two_threads_split_one_thread_does_not)
{
    cr_assert_eq(calls_for(1, 100000, 1000), 1);
    int calls = calls_for(2, 100000, 1000);
    cr_assert(calls >= 2 && calls <= 100, "2 threads: %d ranges", calls);
    cr_assert_eq(calls_for(2, 1000, 1000), 1); /* n <= grain: inline */
}

/* ---- nesting ---- */

typedef struct {
    _Atomic int64_t sum;
    _Atomic int inner_calls;
} nest_ctx;

static void inner_fn(void *ctx, int64_t b, int64_t e)
{
    nest_ctx *c = ctx;
    atomic_fetch_add(&c->inner_calls, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&c->sum, i);
}

static void outer_fn(void *ctx, int64_t b, int64_t e)
{
    nest_ctx *c = ctx;
    for (int64_t i = b; i < e; i++) {
        nb_parallel_for(1000, 1, inner_fn, c); /* must run inline: one call */
    }
}

Test(threads, nested_runs_inline)
{
    nb_set_num_threads(2);
    nest_ctx c = {0};
    nb_parallel_for(16, 1, outer_fn, &c);
    cr_assert_eq(atomic_load(&c.sum), (int64_t)16 * (999 * 1000 / 2));
    /* each of the 16 outer iterations made exactly one inline inner call */
    cr_assert_eq(atomic_load(&c.inner_calls), 16);
    nb_set_num_threads(0);
}

/* ---- configuration ---- */

Test(threads, set_get_round_trip)
{
    nb_set_num_threads(3);
    cr_assert_eq(nb_get_num_threads(), 3);
    nb_set_num_threads(1);
    cr_assert_eq(nb_get_num_threads(), 1);
    check_cover(1000, 1);
    nb_set_num_threads(2);
    cr_assert_eq(nb_get_num_threads(), 2);
    check_cover(1000, 1);
    nb_set_num_threads(5);
    cr_assert_eq(nb_get_num_threads(), 5);
    check_cover(1000, 1);
    nb_set_num_threads(0);
}

Test(threads, default_is_env_or_nproc)
{
    unsetenv("NABLA_NUM_THREADS");
    nb_set_num_threads(0);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(nb_get_num_threads(), nproc < 1 ? 1 : (int)nproc);
    setenv("NABLA_NUM_THREADS", "3", 1);
    nb_set_num_threads(-1);
    cr_assert_eq(nb_get_num_threads(), 3);
    check_cover(5000, 10);
    nb_set_num_threads(7); /* an explicit setting wins over the environment */
    cr_assert_eq(nb_get_num_threads(), 7);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), 3);
    setenv("NABLA_NUM_THREADS", "garbage", 1);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), nproc < 1 ? 1 : (int)nproc);
    unsetenv("NABLA_NUM_THREADS");
    nb_set_num_threads(0);
}

/* Issue 11: a NABLA_NUM_THREADS that cannot be used is said (once), with the count used instead. */
Test(threads, unusable_env_value_is_reported_once, .init = cr_redirect_stderr)
{
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    int cores = nproc < 1 ? 1 : nproc > 256 ? 256 : (int)nproc;
    setenv("NABLA_NUM_THREADS", "abc", 1);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), cores);
    nb_set_num_threads(0); /* read again: no second message */
    setenv("NABLA_NUM_THREADS", "1000", 1);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), 256);
    setenv("NABLA_NUM_THREADS", "4x", 1);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), cores);
    unsetenv("NABLA_NUM_THREADS");
    nb_set_num_threads(0);
    fflush(stderr);
    char want[160];
    snprintf(want, sizeof want,
             "nabla: NABLA_NUM_THREADS=abc is not a whole number of threads >= 1; using %d (the number of "
             "cores)\n",
             cores);
    cr_assert_stderr_eq_str(want);
}

Test(threads, too_many_are_reported, .init = cr_redirect_stderr)
{
    nb_set_num_threads(300);
    cr_assert_eq(nb_get_num_threads(), 256);
    nb_set_num_threads(0);
    setenv("NABLA_NUM_THREADS", "1000", 1);
    nb_set_num_threads(0);
    cr_assert_eq(nb_get_num_threads(), 256);
    unsetenv("NABLA_NUM_THREADS");
    nb_set_num_threads(0);
    fflush(stderr);
    cr_assert_stderr_eq_str("nabla: nb_set_num_threads(300) is more than 256; using 256 threads\n"
                            "nabla: NABLA_NUM_THREADS=1000 is more than 256; using 256 threads\n");
}

/* ---- several user threads dispatching at once ---- */

#include <pthread.h>

static void *user_thread(void *arg)
{
    _Atomic int *fails = arg;
    for (int rep = 0; rep < 300; rep++)
        if (cover_status(513, 4) != 0)
            atomic_fetch_add(fails, 1);
    return NULL;
}

Test(threads, concurrent_callers)
{
    nb_set_num_threads(2);
    pthread_t th[3];
    _Atomic int fails = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, user_thread, &fails), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&fails), 0);
    nb_set_num_threads(0);
}

/* ---- nb_set_flush_denormal ---------------------------------------------- */

enum { FZ_RANGES = 16 };
typedef struct {
    pthread_t caller;
    _Atomic int on_worker;
    float f_out[FZ_RANGES], f_in[FZ_RANGES]; /* FLT_MIN / 2 produced; a denormal input times 4 */
    double d_out[FZ_RANGES], d_in[FZ_RANGES];
} fz_ctx;

static void fz_fn(void *ctx, int64_t b, int64_t e)
{
    fz_ctx *c = ctx;
    if (!pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->on_worker, 1);
    nanosleep(&(struct timespec){.tv_nsec = 3000000}, NULL); /* the worker takes ranges of its own */
    for (int64_t i = b; i < e; i++) {
        volatile float fmin = FLT_MIN, fden = FLT_MIN / 4, half = 0.5f, four = 4;
        volatile double dmin = DBL_MIN, dden = DBL_MIN / 4, dhalf = 0.5, dfour = 4;
        c->f_out[i] = fmin * half;
        c->f_in[i] = fden * four;
        c->d_out[i] = dmin * dhalf;
        c->d_in[i] = dden * dfour;
    }
}

/* Every product of fz_fn is 0 (flushed) or its exact value (not). */
static void assert_products(const fz_ctx *c, bool flushed)
{
    for (int i = 0; i < FZ_RANGES; i++) {
        cr_assert_eq(c->f_out[i], flushed ? 0.0f : FLT_MIN / 2, "range %d: FLT_MIN / 2 = %g", i, c->f_out[i]);
        cr_assert_eq(c->f_in[i], flushed ? 0.0f : FLT_MIN, "range %d: (FLT_MIN / 4) * 4 = %g", i, c->f_in[i]);
        cr_assert_eq(c->d_out[i], flushed ? 0.0 : DBL_MIN / 2, "range %d: DBL_MIN / 2 = %g", i, c->d_out[i]);
        cr_assert_eq(c->d_in[i], flushed ? 0.0 : DBL_MIN, "range %d: (DBL_MIN / 4) * 4 = %g", i, c->d_in[i]);
    }
}

/* Runs fz_fn over FZ_RANGES ranges of one index on 2 threads; checks the
 * products, and that a worker ran some of them. */
static void check_flush(bool flushed)
{
    nb_set_num_threads(2);
    fz_ctx c = {.caller = pthread_self()};
    nb_parallel_for(FZ_RANGES, 1, fz_fn, &c);
    cr_assert_gt(atomic_load(&c.on_worker), 0, "no range ran on a worker: the test proves nothing");
    assert_products(&c, flushed);
}

/* valgrind does not emulate FTZ and DAZ (it says so and computes denormals). */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* Issue 16: denormals cost about a hundred cycles each on Intel CPUs; flushed
 * on the caller and on the pool's workers, and back when turned off. */
Test(threads, flush_denormal_on_every_thread)
{
    if (under_valgrind())
        cr_skip_test("valgrind does not emulate FTZ/DAZ");
    unsetenv("NABLA_FLUSH_DENORMAL");
    cr_assert(!nb_get_flush_denormal(), "off by default, as in PyTorch");
    check_flush(false);
    cr_assert(nb_set_flush_denormal(true));
    cr_assert(nb_get_flush_denormal());
    volatile float fmin = FLT_MIN, half = 0.5f;
    cr_assert_eq(fmin * half, 0.0f, "the calling thread, at once");
    check_flush(true);
    cr_assert(nb_set_flush_denormal(false));
    cr_assert(!nb_get_flush_denormal());
    check_flush(false);
    nb_set_num_threads(0);
}

/* A thread of the user's, started before the mode was set (so it did not
 * inherit it), follows it from its first op on the pool. */
static pthread_mutex_t fz_gate = PTHREAD_MUTEX_INITIALIZER;
static void *fz_user_thread(void *arg)
{
    pthread_mutex_lock(&fz_gate); /* held by the test until the mode is set */
    pthread_mutex_unlock(&fz_gate);
    fz_ctx *c = arg;
    c->caller = pthread_self();
    nb_parallel_for(FZ_RANGES, 1, fz_fn, c);
    return NULL;
}

Test(threads, flush_denormal_on_another_user_thread)
{
    if (under_valgrind())
        cr_skip_test("valgrind does not emulate FTZ/DAZ");
    unsetenv("NABLA_FLUSH_DENORMAL");
    nb_set_num_threads(2);
    pthread_mutex_lock(&fz_gate);
    fz_ctx c = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fz_user_thread, &c), 0);
    cr_assert(nb_set_flush_denormal(true));
    pthread_mutex_unlock(&fz_gate);
    pthread_join(t, NULL);
    assert_products(&c, true);
    nb_set_num_threads(0);
}

/* nb_config_show's line ends with "; denormals flushed" while they are. */
Test(threads, flush_denormal_in_config_line)
{
    unsetenv("NABLA_FLUSH_DENORMAL");
    cr_assert_null(strstr(nb_config_show(), "denormals"), "%s", nb_config_show());
    cr_assert(nb_set_flush_denormal(true));
    const char *line = nb_config_show();
    size_t n = strlen(line), k = strlen("; denormals flushed");
    cr_assert(n > k && strcmp(line + n - k, "; denormals flushed") == 0, "%s", line);
    cr_assert(nb_set_flush_denormal(false));
    cr_assert_null(strstr(nb_config_show(), "denormals"), "%s", nb_config_show());
}

Test(threads, flush_denormal_from_environment)
{
    if (under_valgrind())
        cr_skip_test("valgrind does not emulate FTZ/DAZ");
    setenv("NABLA_FLUSH_DENORMAL", "1", 1);
    check_flush(true); /* the first parallel call reads it, for the caller and the workers */
    cr_assert(nb_get_flush_denormal());
    cr_assert(nb_set_flush_denormal(false), "the program's setting wins");
    check_flush(false);
    unsetenv("NABLA_FLUSH_DENORMAL");
    nb_set_num_threads(0);
}

Test(threads, flush_denormal_set_before_the_environment_is_read)
{
    if (under_valgrind())
        cr_skip_test("valgrind does not emulate FTZ/DAZ");
    setenv("NABLA_FLUSH_DENORMAL", "1", 1);
    cr_assert(nb_set_flush_denormal(false)); /* before any op: the environment is never read */
    check_flush(false);
    cr_assert(!nb_get_flush_denormal());
    unsetenv("NABLA_FLUSH_DENORMAL");
    nb_set_num_threads(0);
}

/* ---- a late worker never runs a finished job ----------------------------- */

typedef struct {
    long id, n;
} stale_job;
static _Atomic long stale_current, stale_bad;

static void stale_fn(void *ctx, int64_t b, int64_t e)
{
    const stale_job *j = ctx;
    if (j->id != atomic_load(&stale_current) || b < 0 || e > j->n || b >= e)
        atomic_fetch_add(&stale_bad, 1);
}

static __attribute__((noinline)) void stale_one(long id)
{
    stale_job j = {id, 4 + id % 5};
    atomic_store(&stale_current, id);
    nb_parallel_for(j.n, 1, stale_fn, &j);
    *(volatile long *)&j.id = -1; /* the job is over: a late reader would see it */
    *(volatile long *)&j.n = -1000;
}

/* Many tiny jobs on more threads than cores, so that workers are descheduled
 * between seeing a job and claiming a chunk: each range must belong to the
 * job running then (a worker holding an old generation once read the next
 * job's chunk count beside the old ticket and ran the old job's context). */
Test(threads, late_workers_never_run_a_finished_job)
{
    nb_set_num_threads(8);
    for (long i = 1; i <= 200000; i++)
        stale_one(i);
    cr_assert_eq(atomic_load(&stale_bad), 0, "%ld ranges ran on a finished job's context or out of range",
                 atomic_load(&stale_bad));
    nb_set_num_threads(0);
}
