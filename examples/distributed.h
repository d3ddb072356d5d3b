/* examples/distributed.h — --distributed for the Fashion-MNIST examples (header
 * only): the example's own training loop, run data-parallel over MPI
 * (nabla/dist.h), as torch's DistributedDataParallel runs a PyTorch loop:
 *
 *   mpirun -np 2 build/examples/fashion_mnist --distributed
 *
 * Every rank builds the model; rank 0's weights are broadcast to all; --batch
 * stays the global batch, of which each of the W ranks loads batch / W rows
 * (its shard of the epoch's one shared order), so that W ranks train on the
 * batches one process with --batch trains on; the gradients are averaged
 * after each backward; one rank (0) evaluates, prints and saves. The loop
 * calls these in place of nb_forward, nb_backward and nb_loader_new:
 *
 *   ex_dist_start(argv[0], threads)     after the flags (EX_DIST_ARGS)
 *   ex_loader(ds, batch, opts)          this rank's shard, batch / W rows
 *   ex_dist_wrap(model)                 rank 0's weights everywhere
 *   ex_forward(model, x), ex_backward(loss)
 *   ex_dist_sum(values, n)              metrics summed over the ranks
 *   ex_dist_rank0()                     the rank that evaluates, prints, saves
 *   ex_dist_report()                    what communication cost
 *   ex_dist_unwrap(), ex_dist_end()
 *
 * The examples are built against libnabla_dist when Meson found MPI
 * (EX_HAVE_MPI); without it the same calls train in one process, and
 * --distributed stops with a message saying how to get MPI. */
#ifndef EXAMPLES_DISTRIBUTED_H
#define EXAMPLES_DISTRIBUTED_H

#include <stdio.h>
#include <stdlib.h>
#include <nabla/nabla.h>
#include "args.h"
#ifdef EX_HAVE_MPI
#include <nabla/dist.h>
#endif

static struct ex_dist {
    bool on, sync_bn; /* --distributed, --sync-bn */
    double bucket_mb; /* --bucket-mb */
    int rank, world;
#ifdef EX_HAVE_MPI
    nb_ddp *ddp;
#endif
} ex_dist = {.bucket_mb = 25, .world = 1};

/* The flags, for the example's table. */
#define EX_DIST_ARGS                                                                                         \
    {"distributed", EX_FLAG, &ex_dist.on,                                                                    \
     "data-parallel over MPI: mpirun -np N ... --distributed (1 thread per rank unless --threads)"},         \
    {                                                                                                        \
        "bucket-mb", EX_DOUBLE, &ex_dist.bucket_mb,                                                          \
            "with --distributed: gradient bucket size in MiB (torch's bucket_cap_mb)"                        \
    }

/* Join the MPI job when --distributed was given; the other ranks' standard
 * output is dropped, so that one rank prints the run (their errors still
 * show). threads: the --threads flag (0: one per rank with --distributed). */
static inline void ex_dist_start(const char *prog, int threads)
{
    if (ex_dist.sync_bn && !ex_dist.on) {
        fprintf(stderr, "%s: --sync-bn synchronises BatchNorm across ranks: it needs --distributed\n", prog);
        exit(2);
    }
    if (!ex_dist.on)
        return;
#ifdef EX_HAVE_MPI
    EX_CHECK(nb_dist_init(NULL, NULL, NB_DIST_OPTS()) == 0);
    ex_dist.rank = nb_dist_rank();
    ex_dist.world = nb_dist_world_size();
    if (threads <= 0)
        nb_set_num_threads(1); /* one rank per core */
    if (ex_dist.rank != 0 && !freopen("/dev/null", "w", stdout)) {
        perror("/dev/null");
        exit(1);
    }
#else
    (void)threads;
    fprintf(stderr,
            "%s: --distributed trains over MPI with nabla's distributed part (libnabla_dist), which this\n"
            "build does not have: MPI was not found when it was set up. Install it with\n"
            "    sudo apt-get install libopenmpi-dev openmpi-bin    (or scripts/install-deps --test)\n"
            "then rebuild (meson setup --reconfigure build && meson compile -C build) and run\n"
            "    mpirun -np 2 %s --distributed\n",
            prog, prog);
    exit(2);
#endif
}

static inline bool ex_dist_rank0(void) { return ex_dist.rank == 0; }

/* "data-parallel on 2 rank(s): each takes 64 rows of every batch of 128", when distributed. */
static inline void ex_dist_banner(int batch)
{
    if (ex_dist.on)
        printf("data-parallel on %d rank(s): each takes %d rows of every batch of %d\n", ex_dist.world,
               batch / ex_dist.world, batch);
}

/* A loader of this rank's shard of every global batch of `batch` rows
 * (nb_loader_shard: torch's DistributedSampler); the whole batch in one
 * process. */
static inline nb_loader *ex_loader(const nb_dataset *ds, int batch, nb_loader_opts opts)
{
    if (batch % ex_dist.world != 0) {
        fprintf(stderr, "--batch %d is not a multiple of the %d ranks: each rank takes batch / ranks rows\n",
                batch, ex_dist.world);
        exit(2);
    }
    nb_loader *ld = nb_loader_new(ds, batch / ex_dist.world, opts);
    EX_CHECK(ld);
    if (ex_dist.on)
        EX_CHECK(nb_loader_shard(ld, ex_dist.world, ex_dist.rank, false) == 0);
    return ld;
}

/* BatchNorm over C channels (of images or of features); with --sync-bn,
 * SyncBatchNorm, whose statistics are the global batch's. */
static inline nb_module *ex_batch_norm(int64_t c, bool images)
{
#ifdef EX_HAVE_MPI
    if (ex_dist.sync_bn)
        return nb_sync_batch_norm(c);
#endif
    return images ? nb_batch_norm2d(c) : nb_batch_norm1d(c);
}

/* Train model data-parallel from here on (every rank calls it): rank 0's
 * parameters and buffers become every rank's. */
static inline void ex_dist_wrap(nb_module *model)
{
#ifdef EX_HAVE_MPI
    if (ex_dist.on)
        EX_CHECK(ex_dist.ddp = nb_ddp_new(model, NB_DDP_OPTS(.bucket_cap_mb = ex_dist.bucket_mb)));
#else
    (void)model;
#endif
}

static inline nb_tensor *ex_forward(nb_module *model, nb_tensor *x)
{
#ifdef EX_HAVE_MPI
    if (ex_dist.ddp)
        return nb_ddp_forward(ex_dist.ddp, x);
#endif
    return nb_forward(model, x);
}

/* Backward; distributed, the gradients are then every rank's average. */
static inline int ex_backward(nb_tensor *loss)
{
#ifdef EX_HAVE_MPI
    if (ex_dist.ddp)
        return nb_ddp_backward(ex_dist.ddp, loss);
#endif
    return nb_backward(loss);
}

/* values[i] = their sum over the ranks (in rank order, the same on every
 * rank): an epoch's loss sum and row count. */
static inline void ex_dist_sum(double *values, int n)
{
#ifdef EX_HAVE_MPI
    if (!ex_dist.on)
        return;
    nb_tensor *t = nb_zeros(NB_SHAPE(n));
    EX_CHECK(t);
    for (int i = 0; i < n; i++)
        t->data[i] = (nb_real)values[i];
    EX_CHECK(nb_dist_all_reduce_sum(t) == 0);
    for (int i = 0; i < n; i++)
        values[i] = t->data[i];
    nb_free(t);
#else
    (void)values, (void)n;
#endif
}

/* "communication: 1 bucket(s), 0.94 MB sent per step and rank, 0.86 s of the
 * training time waiting for it", when distributed. */
static inline void ex_dist_report(void)
{
#ifdef EX_HAVE_MPI
    if (!ex_dist.ddp)
        return;
    nb_ddp_stats st = nb_ddp_get_stats(ex_dist.ddp);
    printf("communication: %d bucket(s), %.2f MB sent per step and rank, %.2f s of the training time "
           "waiting for it\n",
           st.buckets, (double)st.bytes_per_step / 1e6, st.wait_seconds);
#endif
}

/* The model trains on its own again (before it is freed). */
static inline void ex_dist_unwrap(void)
{
#ifdef EX_HAVE_MPI
    nb_ddp_free(ex_dist.ddp);
    ex_dist.ddp = NULL;
#endif
}

/* Leave the MPI job (after the last collective call). */
static inline void ex_dist_end(void)
{
    ex_dist_unwrap();
#ifdef EX_HAVE_MPI
    if (ex_dist.on)
        nb_dist_finalize();
#endif
}

#endif
