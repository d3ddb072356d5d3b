/* dist/group.c — the process group over MPI: init from mpirun's environment,
 * rank and world size, the timeout on every wait, abort, barrier, broadcast
 * and the rank-ordered (deterministic) all-reduce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include "dist/group.h"

nb_group nb__group = {.world = 1};

/* torch.distributed's default_pg_timeout: 30 minutes (NB_DIST_OPTS). */
nb_dist_opts nb_dist_defaults(void) { return NB_DIST_OPTS(); }

int nb_dist_init(int *argc, char ***argv, nb_dist_opts o)
{
    if (!nb_opts_made("dist_init", o.nb_tag, "dist"))
        return -1;
    if (nb__group.initialized) {
        nb_error(NB_ERR_STATE, "dist_init: already initialised (rank %d of %d)", nb__group.rank,
                 nb__group.world);
        return -1;
    }
    if (!(o.timeout > 0)) {
        nb_error(NB_ERR_ARG, "dist_init: timeout %g s must be positive", o.timeout);
        return -1;
    }
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
        int provided; /* only the calling thread talks to MPI; nabla's pool threads never do */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            nb_error(NB_ERR_STATE, "dist_init: MPI_Init_thread failed");
            return -1;
        }
    }
    nb_group *g = &nb__group;
    g->owns_mpi = !done;
    g->timeout = o.timeout;
    MPI_Comm_dup(MPI_COMM_WORLD, &g->comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &g->scatter);
    MPI_Comm_dup(MPI_COMM_WORLD, &g->gather);
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->world);
    g->initialized = true;
    return 0;
}

bool nb_dist_is_initialized(void) { return nb__group.initialized; }
int nb_dist_rank(void) { return nb__group.rank; }
int nb_dist_world_size(void) { return nb__group.world; }

bool nb_group_check(const char *op)
{
    if (nb__group.initialized)
        return true;
    nb_error(NB_ERR_STATE, "%s: the process group is not initialised (call nb_dist_init first)", op);
    return false;
}

_Noreturn void nb_dist_abort(const char *why)
{
    fprintf(stderr, "nabla dist: rank %d of %d: %s\n", nb__group.rank, nb__group.world, why);
    fflush(stderr);
    fflush(stdout);
    int up = 0;
    MPI_Initialized(&up);
    if (up)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nb_group_wait(MPI_Request *req, const char *what)
{
    double start = now(), t = start;
    for (long spins = 0;; spins++) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE); /* also what moves MPI's transfers on */
        if (done)
            return;
        if (spins % 64 == 0)
            t = now();
        /* Spin for 10 ms, yielding the core at each test (the other ranks may
         * share it: mpirun --oversubscribe); past that, sleep between tests,
         * so that a rank waiting long (for a slower one) leaves its core. */
        if (t - start < 0.01)
            sched_yield();
        else
            nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
        if (t - start > nb__group.timeout) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "%s waited more than %g s for the other ranks (one of them failed, stopped or is "
                     "stuck); stopping the job",
                     what, nb__group.timeout);
            nb_dist_abort(msg);
        }
    }
}

int nb_dist_barrier(void)
{
    if (!nb_group_check("dist_barrier"))
        return -1;
    MPI_Request req;
    MPI_Ibarrier(nb__group.comm, &req);
    nb_group_wait(&req, "dist_barrier");
    return 0;
}

/* MPI counts are ints. */
static bool fits_int(const char *op, const nb_tensor *t)
{
    if (t->numel <= INT32_MAX)
        return true;
    char shape[8 + 21 * NB_MAX_DIMS];
    nb_error(NB_ERR_ARG, "%s: tensor of shape %s has more than 2^31 - 1 elements", op,
             nb_shape_str(t, shape, sizeof shape));
    return false;
}

int nb_dist_broadcast(nb_tensor *t, int src)
{
    if (!nb_group_check("dist_broadcast") || !nb_check_input("dist_broadcast", 1, t) ||
        !fits_int("dist_broadcast", t))
        return -1;
    if (src < 0 || src >= nb__group.world) {
        nb_error(NB_ERR_ARG, "dist_broadcast: src %d is not a rank of [0, %d)", src, nb__group.world);
        return -1;
    }
    MPI_Request req;
    MPI_Ibcast(t->data, (int)t->numel, NB_MPI_REAL, src, nb__group.comm, &req);
    nb_group_wait(&req, "dist_broadcast");
    return 0;
}

int nb_dist_all_reduce_sum(nb_tensor *t)
{
    if (!nb_group_check("dist_all_reduce_sum") || !nb_check_input("dist_all_reduce_sum", 1, t) ||
        !fits_int("dist_all_reduce_sum", t))
        return -1;
    int world = nb__group.world;
    size_t n = (size_t)t->numel;
    if (n > SIZE_MAX / sizeof(nb_real) / (size_t)world) {
        nb_error(NB_ERR_MEMORY, "dist_all_reduce_sum: %zu values from %d ranks are too many", n, world);
        return -1;
    }
    nb_real *all = malloc((n ? n * (size_t)world : 1) * sizeof *all);
    if (!all) {
        nb_error(NB_ERR_MEMORY, "dist_all_reduce_sum: out of memory for %d copies of %zu values", world, n);
        return -1;
    }
    /* Every rank gathers every copy and adds them in rank order itself: for
     * the small tensors of metrics, simpler than a reduce-scatter. */
    MPI_Request req;
    MPI_Iallgather(t->data, (int)n, NB_MPI_REAL, all, (int)n, NB_MPI_REAL, nb__group.comm, &req);
    nb_group_wait(&req, "dist_all_reduce_sum");
    for (size_t i = 0; i < n; i++) {
        nb_real s = all[i];
        for (int r = 1; r < world; r++)
            s += all[(size_t)r * n + i];
        t->data[i] = s;
    }
    free(all);
    return 0;
}

void nb_dist_finalize(void)
{
    nb_group *g = &nb__group;
    if (!g->initialized)
        return;
    MPI_Comm_free(&g->comm);
    MPI_Comm_free(&g->scatter);
    MPI_Comm_free(&g->gather);
    if (g->owns_mpi)
        MPI_Finalize();
    *g = (nb_group){.world = 1};
}
