/* nabla/dist.h — data-parallel training over MPI, as torch.distributed and
 * torch.nn.parallel.DistributedDataParallel: one process (rank) per core or
 * machine, each with the whole model and a shard of every global batch; after
 * backward the ranks' gradients are averaged, so every rank takes the same
 * optimizer step and the models stay identical.
 *
 * In libnabla_dist (pkg-config nabla_dist), built when Meson finds MPI (Open
 * MPI or MPICH; -Dmpi=enabled makes it required). docs/distributed.md is the
 * guide; the loop, run with `mpirun -np 2 ./train`:
 *
 *   nb_dist_init(&argc, &argv, NB_DIST_OPTS());
 *   int rank = nb_dist_rank(), world = nb_dist_world_size();
 *   nb_module *model = build();                      // any initialisation:
 *   nb_ddp *ddp = nb_ddp_new(model, NB_DDP_OPTS());  // rank 0's weights win
 *   nb_optim *opt = nb_adam(params, n, ...);
 *   nb_loader *ld = nb_loader_new(train, global_batch / world, opts);
 *   nb_loader_shard(ld, world, rank, false);         // DistributedSampler
 *   while (nb_loader_next(ld, &x, &y)) {
 *       nb_tensor *loss = nb_cross_entropy(nb_ddp_forward(ddp, x), y, ...);
 *       nb_optim_zero_grad(opt);
 *       nb_ddp_backward(ddp, loss);                  // averaged gradients
 *       nb_optim_step(opt);
 *       nb_step_end();
 *   }
 *   if (rank == 0) nb_save_checkpoint(...);          // one writer
 *   nb_ddp_free(ddp);
 *   nb_dist_finalize(); */
#ifndef NABLA_DIST_H
#define NABLA_DIST_H

#include "nn.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* ---- The process group (torch.distributed.init_process_group("mpi")) ----
 * Options, made by NB_DIST_OPTS(...) or nb_dist_defaults() as every options
 * struct is (nabla/config.h): NB_DIST_OPTS(.timeout = 60). */
typedef struct nb_dist_opts {
    uint32_t nb_tag;
    /* Seconds a rank waits in a collective call (a gradient reduction, a
     * broadcast, a barrier) for the others before it stops the whole job
     * with a message naming the call: a rank that hangs or died silently
     * cannot leave the others waiting forever. Positive; INFINITY waits for
     * ever. torch's default process-group timeout: 1800. */
    double timeout;
} nb_dist_opts;
#define NB_DIST_OPTS(...) NB_OPTS_(nb_dist_opts, .timeout = 1800, __VA_ARGS__)
nb_dist_opts nb_dist_defaults(void);

/* Initialise from the MPI environment mpirun sets up (MPI_Init_thread, or
 * the program's own MPI_Init before it): rank and world size. argc and argv
 * may be NULL. A program run without mpirun is a world of one. Returns 0, or
 * -1 (called twice, bad options). */
int nb_dist_init(int *argc, char ***argv, nb_dist_opts opts);
bool nb_dist_is_initialized(void);
/* This process's rank in [0, world size), and the world size (0 and 1
 * before nb_dist_init). */
int nb_dist_rank(void);
int nb_dist_world_size(void);
/* Every rank waits for the others. Returns 0, or -1 when not initialised. */
int nb_dist_barrier(void);
/* t's values on rank src copied into t on every rank (same shape everywhere).
 * Returns 0, or -1. */
int nb_dist_broadcast(nb_tensor *t, int src);
/* t = the sum of every rank's t, added in rank order (rank 0's + rank 1's +
 * ...), so that the result is bit-identical on every rank and from run to
 * run (MPI_Allreduce fixes no order). For metrics: losses, counts. */
int nb_dist_all_reduce_sum(nb_tensor *t);
/* Stop every rank of the job: "nabla dist: rank R of W: <why>" on stderr,
 * then MPI_Abort. For a rank that cannot go on (its data failed to load...):
 * the others would otherwise wait for it until the timeout. */
_Noreturn void nb_dist_abort(const char *why);
/* MPI_Finalize (unless the program called MPI_Init itself). */
void nb_dist_finalize(void);

/* ---- DistributedDataParallel --------------------------------------------
 * Options, made by NB_DDP_OPTS(...) or nb_ddp_defaults() (torch's defaults):
 * NB_DDP_OPTS(.bucket_cap_mb = 5). */
typedef struct nb_ddp_opts {
    uint32_t nb_tag;
    /* Gradients travel in buckets of about this many MiB (2^20 bytes, as
     * torch counts), filled in the order backward completes them (roughly
     * the reverse of the parameters' order) and each reduced as soon as it
     * is full, while backward goes on. A bucket is closed once it holds at
     * least its limit: 1 MiB for the first (torch's first bucket, so that
     * communication starts early) or bucket_cap_mb when that is smaller,
     * bucket_cap_mb for the others; 0 gives every parameter a bucket of its
     * own. In [0, 1e6]; torch's bucket_cap_mb: 25. */
    double bucket_cap_mb;
    /* Rank 0's buffers (BatchNorm's running statistics) copied to every rank
     * at each nb_ddp_forward, so that all ranks evaluate alike (torch's
     * broadcast_buffers, default true). */
    bool broadcast_buffers;
} nb_ddp_opts;
#define NB_DDP_OPTS(...) NB_OPTS_(nb_ddp_opts, .bucket_cap_mb = 25, .broadcast_buffers = true, __VA_ARGS__)
nb_ddp_opts nb_ddp_defaults(void);

typedef struct nb_ddp nb_ddp;
/* Wrap model (borrowed: it must outlive the ddp) for data-parallel training:
 * rank 0's parameters and buffers are broadcast to every rank, and the
 * buckets are laid out. Every rank must call it, with the same model
 * architecture. NULL on error. */
nb_ddp *nb_ddp_new(nb_module *model, nb_ddp_opts opts);
/* nb_forward(model, x), after broadcasting the buffers (broadcast_buffers). */
nb_tensor *nb_ddp_forward(nb_ddp *d, nb_tensor *x);
/* nb_backward(loss), then every parameter's .grad replaced by the mean over
 * the ranks of their .grad. The sum is taken in rank order (each bucket is
 * split in world-size shards, shard r is sent to rank r, which adds the
 * ranks' copies in rank order and divides by the world size, then the shards
 * are gathered back), so results are bit-identical from run to run for a
 * given world size. With the same loss on every rank (a mean over its batch)
 * and the same batch size, the mean gradient is the gradient of the mean
 * loss over the global batch: what one process with the global batch gets,
 * to float rounding. A parameter the loss does not reach contributes its
 * current .grad (zeros when it has none). When backward fails on one rank
 * the reduction still completes (the other ranks are not left waiting) and
 * -1 is returned with the error. */
int nb_ddp_backward(nb_ddp *d, nb_tensor *loss);

/* What the reductions cost (since nb_ddp_new). */
typedef struct nb_ddp_stats {
    int64_t steps;           /* nb_ddp_backward calls */
    int buckets;             /* buckets per step */
    int64_t bytes_per_step;  /* bytes this rank sends per step (received: the same) */
    double wait_seconds;     /* time spent after backward waiting for reductions
                             * (the communication backward did not hide) */
    double backward_seconds; /* time in nb_ddp_backward, the waiting included */
    int64_t early_buckets;   /* buckets whose reduction started before backward
                              * had finished the last gradient (the overlap),
                              * over all steps */
} nb_ddp_stats;
nb_ddp_stats nb_ddp_get_stats(const nb_ddp *d);
void nb_ddp_free(nb_ddp *d);

/* ---- SyncBatchNorm -------------------------------------------------------
 * torch.nn.SyncBatchNorm(num_features, eps=1e-5, momentum=0.1): BatchNorm
 * over [N, C, *] whose training statistics (mean, biased variance per
 * channel) are those of every rank's rows together, so that W ranks of
 * G / W rows normalise, and update the running statistics, as one process
 * of G rows with BatchNorm does (to float rounding); its backward sums the
 * statistics' gradients over the ranks. Costs three small all-reduces per
 * forward in training (the count, the sums, the squared deviations) and two
 * in backward; none in eval mode, which uses the running statistics. The
 * parameters and buffers are BatchNorm's (weight, bias, running_mean,
 * running_var, num_batches_tracked), so checkpoints load into either.
 * Every rank must run it (training mode) in the same order. */
nb_module *nb_sync_batch_norm(int64_t num_features);
nb_module *nb_sync_batch_norm_ex(int64_t num_features, double eps, double momentum);

/* ---- Optimizer state sharded over the ranks (ZeRO stage 1) ---------------
 * torch.distributed.optim.ZeroRedundancyOptimizer: each parameter belongs to
 * one rank (the largest first, each to the rank holding the fewest values so
 * far, as torch partitions them), and each rank's optimizer holds the state
 * (Adam's moments...) of its own parameters only, so that state takes
 * 1 / world of the memory. A step updates this rank's parameters from the
 * averaged gradients (nb_ddp_backward), then every parameter is broadcast
 * from its owner. The update of each parameter is the very computation the
 * unsharded optimizer does: the parameters are bit-identical to those of an
 * unsharded run. make builds this rank's optimizer over the parameters it is
 * given (any optimizer: make(params, n, ctx) may return nb_adam(params, n,
 * opts)); each rank needs at least one parameter. params are borrowed. */
typedef nb_optim *(*nb_optim_maker)(nb_tensor *const *params, int n_params, void *ctx);
typedef struct nb_zero nb_zero;
nb_zero *nb_zero_new(nb_tensor *const *params, int n_params, nb_optim_maker make, void *ctx);
/* This rank's optimizer step, then the parameters broadcast from their
 * owners. Every rank must call it. Returns 0, or -1. */
int nb_zero_step(nb_zero *z);
/* Zero the gradients of every parameter (not only this rank's). */
void nb_zero_zero_grad(nb_zero *z);
/* This rank's optimizer (for its lr and schedules: give every rank's the
 * same schedule), and the rank that owns params[i] (-1 out of range). */
nb_optim *nb_zero_local(nb_zero *z);
int nb_zero_owner(const nb_zero *z, int i);
void nb_zero_free(nb_zero *z);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
