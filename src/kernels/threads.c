/* kernels/threads.c — the pthreads pool behind nb_parallel_for.
 *
 * Design: one process-wide pool of (nthreads - 1) workers; the calling thread
 * is the last participant. A job is published by bumping a generation counter;
 * workers spin briefly on it, then sleep on a condition variable, so an idle
 * pool burns no CPU. Chunks are claimed dynamically (see nb_pool), so a late
 * or descheduled worker only means the others take more chunks.
 *
 * - Started lazily on the first parallel call; resized lazily (at the next
 *   dispatch) after nb_set_num_threads, so the setter never blocks.
 * - Nested calls (from inside a pool task) and calls that find the pool busy
 *   with another user thread's job run inline.
 * - pthread_create failures leave a smaller pool; nothing aborts.
 * - An atexit handler joins the workers and frees the pool (leak-checker clean).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nabla/threads.h"
#include "kernels/simd.h"
#include "kernels/env_flag.h"

#define NB_MAX_THREADS 256

/* ---- configuration ----------------------------------------------------- */

static _Atomic int g_requested = 0; /* > 0: nb_set_num_threads value */
static _Atomic int g_default = 0;   /* resolved default; 0 = not yet */

/* NABLA_NUM_THREADS when it is a whole number in 1..NB_MAX_THREADS, else
 * the number of cores; anything else in it is said once on stderr, with what
 * is used instead (the library has no error to return here). */
static int resolve_default(void)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores < 1 ? 1 : cores > NB_MAX_THREADS ? NB_MAX_THREADS : cores;
    const char *env = getenv("NABLA_NUM_THREADS");
    if (!env || !*env)
        return (int)cores;
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (end != env && !*end && v > 0 && v <= NB_MAX_THREADS)
        return (int)v;
    bool big = end != env && !*end && v > NB_MAX_THREADS;
    if (!atomic_flag_test_and_set(&warned)) {
        if (big)
            fprintf(stderr, "nabla: NABLA_NUM_THREADS=%s is more than %d; using %d threads\n", env,
                    NB_MAX_THREADS, NB_MAX_THREADS);
        else
            fprintf(stderr,
                    "nabla: NABLA_NUM_THREADS=%s is not a whole number of threads >= 1; using %ld (the "
                    "number of cores)\n",
                    env, cores);
    }
    return big ? NB_MAX_THREADS : (int)cores;
}

void nb_set_num_threads(int n)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    if (n > NB_MAX_THREADS && !atomic_flag_test_and_set(&warned))
        fprintf(stderr, "nabla: nb_set_num_threads(%d) is more than %d; using %d threads\n", n,
                NB_MAX_THREADS, NB_MAX_THREADS);
    if (n > 0) {
        atomic_store(&g_requested, n > NB_MAX_THREADS ? NB_MAX_THREADS : n);
    } else {
        atomic_store(&g_default, resolve_default());
        atomic_store(&g_requested, 0);
    }
}

int nb_get_num_threads(void)
{
    int r = atomic_load(&g_requested);
    if (r > 0)
        return r;
    int d = atomic_load(&g_default);
    if (d <= 0) {
        d = resolve_default();
        atomic_store(&g_default, d);
    }
    return d;
}

/* ---- the pool ---------------------------------------------------------- */

/* A chunk is claimed by a CAS on `ticket` = (generation << 32) | next chunk,
 * so a worker that wakes late for an old job can never claim a chunk of a
 * newer one; the caller returns once `done` reaches the chunk count (it does
 * not wait for idle or descheduled workers that claimed nothing). */
typedef struct {
    _Atomic(nb_range_fn) fn; /* the job: stored after `ticket`, published by `gen` */
    _Atomic(void *) ctx;
    _Atomic int64_t n, nchunks;
    _Alignas(64) _Atomic uint64_t ticket;
    _Alignas(64) _Atomic int64_t done;
    _Alignas(64) _Atomic uint32_t gen;
    _Atomic int sleepers; /* workers in cond_wait */
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
} nb_pool;

static nb_pool g_pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv_work = PTHREAD_COND_INITIALIZER,
    .cv_done = PTHREAD_COND_INITIALIZER,
};
static pthread_mutex_t g_dispatch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t *g_workers = NULL; /* all below guarded by g_dispatch_mu */
static int g_nworkers = 0;          /* workers running */
static int g_pool_size = 0;         /* nthreads the pool was built for; 0 = none */
static bool g_atexit_done = false;
static uint32_t g_start_gen = 0; /* gen when the workers were created */
static _Thread_local bool tl_in_task = false;

/* ---- flush-to-zero (nb_set_flush_denormal) ----------------------------- */

static atomic_int g_flush = -1; /* -1: NABLA_FLUSH_DENORMAL not read yet, then 0 or 1 */
/* The mode this thread was given; -1: left as it was (a user's thread);
 * TL_FLUSH_UNSET: a worker, whose first job sets its mode whatever it
 * inherited from the thread that created it. */
enum { TL_FLUSH_UNSET = 2 };
static _Thread_local int tl_flush = -1;

bool nb_get_flush_denormal(void) { return NB_CPU_CAN_FLUSH && nb_env_flag(&g_flush, "NABLA_FLUSH_DENORMAL"); }

/* Brings the calling thread's mode to the process's: the pool's workers call
 * it before each job and callers on entering nb_parallel_for, so the workers
 * and every thread that runs an op on the pool follow nb_set_flush_denormal
 * (or the environment). A user's thread nabla never set is left alone while
 * the mode is off. */
static void flush_sync(void)
{
    int want = nb_get_flush_denormal();
    if (want != tl_flush && (tl_flush >= 0 || want) && nb_cpu_flush_denormal(want))
        tl_flush = want;
}

bool nb_set_flush_denormal(bool mode)
{
    if (!nb_cpu_flush_denormal(mode))
        return false;
    atomic_store(&g_flush, mode);
    tl_flush = mode;
    return true;
}

/* Claims and runs chunks of job `g` until none is left. */
static void run_chunks(nb_pool *p, uint32_t g, nb_range_fn fn, void *ctx, int64_t n, int64_t nc)
{
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != g)
            return;
        int64_t c = (int64_t)(uint32_t)t;
        if (c >= nc)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int64_t q = n / nc, r = n % nc; /* first r chunks get q+1 */
        int64_t b = c * q + (c < r ? c : r);
        fn(ctx, b, b + q + (c < r ? 1 : 0));
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == nc) {
            pthread_mutex_lock(&p->mu); /* the caller may be asleep */
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
        t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
}

static void *worker_main(void *arg)
{
    nb_pool *p = arg;
    tl_in_task = true; /* anything a worker runs is inside a task */
    tl_flush = TL_FLUSH_UNSET;
    uint32_t seen = g_start_gen; /* jobs are only published after creation */
    for (;;) {
        uint32_t g = seen;
        for (int i = 0; i < NB_SPIN_ITERS; i++) {
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen || atomic_load_explicit(&p->stop, memory_order_relaxed))
                break;
            NB_CPU_RELAX();
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_work, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = g;
        flush_sync();
        run_chunks(p, g, atomic_load_explicit(&p->fn, memory_order_acquire),
                   atomic_load_explicit(&p->ctx, memory_order_acquire),
                   atomic_load_explicit(&p->n, memory_order_acquire),
                   atomic_load_explicit(&p->nchunks, memory_order_acquire));
    }
    return NULL;
}

/* Joins all workers. Caller holds g_dispatch_mu. */
static void pool_stop_locked(void)
{
    nb_pool *p = &g_pool;
    if (g_nworkers > 0) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, 1);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < g_nworkers; i++)
            pthread_join(g_workers[i], NULL);
    }
    free(g_workers);
    g_workers = NULL;
    g_nworkers = 0;
    g_pool_size = 0;
    atomic_store(&p->stop, 0);
}

static void pool_atexit(void)
{
    pthread_mutex_lock(&g_dispatch_mu);
    pool_stop_locked();
    g_pool_size = -1; /* no restart during the rest of exit: run inline */
    pthread_mutex_unlock(&g_dispatch_mu);
}

/* Makes the pool match `want` threads. Caller holds g_dispatch_mu. */
static void pool_ensure_locked(int want)
{
    if (g_pool_size == want || g_pool_size < 0)
        return;
    pool_stop_locked();
    if (!g_atexit_done) {
        g_atexit_done = true;
        atexit(pool_atexit);
    }
    g_pool_size = want;
    if (want <= 1)
        return;
    g_workers = malloc(sizeof(pthread_t) * (size_t)(want - 1));
    if (!g_workers)
        return;
    g_start_gen = atomic_load(&g_pool.gen);
    for (int i = 0; i < want - 1; i++) {
        if (pthread_create(&g_workers[i], NULL, worker_main, &g_pool) != 0)
            break;
        g_nworkers++;
    }
}

void nb_parallel_for(int64_t n, int64_t grain, nb_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    flush_sync();
    int nt = nb_get_num_threads();
    if (n <= grain || nt <= 1 || tl_in_task) {
        fn(ctx, 0, n);
        return;
    }
    if (pthread_mutex_trylock(&g_dispatch_mu) != 0) {
        fn(ctx, 0, n); /* pool busy with another caller's job */
        return;
    }
    pool_ensure_locked(nt);
    int64_t nchunks = n / grain;
    int64_t maxc = 4 * (int64_t)(g_nworkers + 1);
    if (nchunks > maxc)
        nchunks = maxc;
    if (g_nworkers == 0 || nchunks < 2) {
        pthread_mutex_unlock(&g_dispatch_mu);
        fn(ctx, 0, n);
        return;
    }
    nb_pool *p = &g_pool;
    uint32_t g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    /* The ticket first, then the job's fields with release: a worker still
     * holding the previous generation that reads any of the new fields (its
     * loads acquire) then sees the new ticket and claims nothing. With the
     * ticket last, such a worker could read the new chunk count beside the
     * old ticket, claim a chunk past the old job's end and run the old
     * job's fn on its context, long returned (a crash seen under load). */
    atomic_store_explicit(&p->ticket, (uint64_t)g << 32, memory_order_release);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->fn, fn, memory_order_release);
    atomic_store_explicit(&p->ctx, ctx, memory_order_release);
    atomic_store_explicit(&p->n, n, memory_order_release);
    atomic_store_explicit(&p->nchunks, nchunks, memory_order_release);
    atomic_store(&p->gen, g); /* seq_cst: publishes the job */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
    tl_in_task = true;
    run_chunks(p, g, fn, ctx, n, nchunks);
    tl_in_task = false;
    for (int spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) < nchunks; spins++) {
        if (spins < NB_SPIN_ITERS) {
            NB_CPU_RELAX();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->done) < nchunks)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
        break;
    }
    pthread_mutex_unlock(&g_dispatch_mu);
}
