/* nabla/data.h — datasets of (input, target) rows, train/validation splits,
 * feature normalisation, a shuffling batch loader, and MNIST/Fashion-MNIST. */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* ---- Datasets ------------------------------------------------------------
 * Row i of the dataset is (x[i], y[i]): inputs x [N, ...] and targets y [N, ...]
 * (or no targets: y NULL). Both are persistent tensors. */
typedef struct nb_dataset {
    nb_tensor *x;
    nb_tensor *y;
    bool owns; /* nb_dataset_free frees x and y */
} nb_dataset;

/* A dataset over x and y (y may be NULL), which must have the same shape[0].
 * With take_ownership, the dataset frees them; otherwise it borrows them and
 * they must outlive it. On error (NULL returned) nothing is freed. */
nb_dataset *nb_dataset_new(nb_tensor *x, nb_tensor *y, bool take_ownership);
int64_t nb_dataset_len(const nb_dataset *ds);
void nb_dataset_free(nb_dataset *ds);

/* Shuffle the rows with seed, then put the first round(fraction * N) of them in
 * *first and the rest in *second: two new datasets owning copies of the rows.
 * 0 <= fraction <= 1. Returns 0, or -1 (and both outputs NULL). */
int nb_dataset_split(const nb_dataset *ds, double fraction, uint64_t seed, nb_dataset **first,
                     nb_dataset **second);

/* ---- Normalisation -------------------------------------------------------
 * Per-feature statistics over dim 0 of x [N, ...]: every element of a row is a
 * feature. Fit them on the training split and apply the same to the others:
 *
 *   nb_norm *norm = nb_standardize(train->x);   // train->x standardised in place
 *   nb_norm_apply_(norm, val->x);                // val->x with the train statistics
 *
 * shift and scale have shape x.shape[1:]; save them with the model
 * (nb_save_safetensors) to normalise inputs the same way at inference. */
typedef struct nb_norm {
    nb_tensor *shift; /* x' = (x - shift) / scale, feature by feature */
    nb_tensor *scale;
} nb_norm;

/* shift = mean, scale = standard deviation (population, as sklearn's
 * StandardScaler; 1 where it is 0). Applied to x in place. NULL on error. */
nb_norm *nb_standardize(nb_tensor *x);
/* shift = min, scale = max - min (1 where it is 0): features to [0, 1].
 * Applied to x in place. NULL on error. */
nb_norm *nb_minmax(nb_tensor *x);
/* x = (x - shift) / scale, for x [M, ...] with rows shaped like shift. Returns x. */
nb_tensor *nb_norm_apply_(const nb_norm *norm, nb_tensor *x);
/* Frees shift, scale and the struct. */
void nb_norm_free(nb_norm *norm);
/* x = x * factor in place (e.g. 1.0 / 255 for pixels). Returns x. */
nb_tensor *nb_scale_(nb_tensor *x, double factor);

/* ---- Batches -------------------------------------------------------------
 *   nb_loader *ld = nb_loader_new(train, 64, NB_LOADER_OPTS(.shuffle = true, .seed = 1));
 *   for (int epoch = 0; epoch < 10; epoch++) {
 *       nb_tensor *xb, *yb;
 *       while (nb_loader_next(ld, &xb, &yb)) { ...one step...; nb_step_end(); }
 *   }
 *
 * The batch tensors belong to the loader and are reused: each call overwrites
 * the previous batch's values (no allocation per batch). Their shape[0] is the
 * size of the current batch. They belong to the loader (nb_free ignores
 * them); nb_keep() one to keep it. */
/* Options, made by NB_LOADER_OPTS(...) (defaults: torch.utils.data.DataLoader's). */
typedef struct nb_loader_opts {
    uint32_t nb_tag;
    bool shuffle;   /* false: rows in order; true: a new order every epoch */
    uint64_t seed;  /* with shuffle: same seed and epoch, same order on every machine; 0 */
    bool drop_last; /* false; true: skip the last batch when it is smaller than batch_size */
} nb_loader_opts;
#define NB_LOADER_OPTS(...) NB_OPTS_(nb_loader_opts, __VA_ARGS__)
nb_loader_opts nb_loader_defaults(void);

typedef struct nb_loader nb_loader;

/* A loader over ds (borrowed: it must outlive the loader). The loader starts
 * at epoch 0. */
nb_loader *nb_loader_new(const nb_dataset *ds, int64_t batch_size, nb_loader_opts opts);
/* The next batch of the epoch in *x and *y (*y NULL when the dataset has no
 * targets). Returns false when the epoch is over; the call after that starts
 * the next epoch. */
bool nb_loader_next(nb_loader *ld, nb_tensor **x, nb_tensor **y);
/* Start epoch `epoch` from its first batch (e.g. when resuming training). */
void nb_loader_reset(nb_loader *ld, uint64_t epoch);
uint64_t nb_loader_epoch(const nb_loader *ld);
/* Batches in one epoch. */
int64_t nb_loader_batches(const nb_loader *ld);
/* Data-parallel sharding, as torch.utils.data.DistributedSampler(dataset,
 * num_replicas, rank, shuffle, seed, drop_last) under the loader: every
 * replica shuffles with the same (seed, epoch), so the replicas' loaders
 * share one order per epoch, and replica `rank` takes the rows at positions
 * rank, rank + num_replicas, rank + 2 num_replicas... of it. Each epoch then
 * gives each replica ceil(N / num_replicas) rows, the order being padded by
 * repeating its first rows so that every replica gets as many; with
 * drop_last, floor(N / num_replicas) rows, the order's tail being left out
 * instead. When num_replicas divides N, each row is seen exactly once per
 * epoch over all replicas. batch_size stays the batch of one replica: with a
 * global batch G over P replicas, give each loader G / P; global batch k is
 * then rows [k G, (k+1) G) of the epoch's order, whatever P, as for one
 * process with batch G. Restarts the current epoch. Returns 0, or -1
 * (rank not in [0, num_replicas)). (nabla/dist.h's nb_dist_rank() and
 * nb_dist_world_size() give the two numbers under MPI.) */
int nb_loader_shard(nb_loader *ld, int64_t num_replicas, int64_t rank, bool drop_last);
void nb_loader_free(nb_loader *ld);

/* ---- MNIST and Fashion-MNIST ---------------------------------------------
 * Reads <dir>/train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz)
 * (or t10k-* when train is false): the four files of either dataset. Images
 * become x [N, 784] (or [N, 28, 28] with keep_shape) scaled to [0, 1], labels
 * y [N] holding the class numbers 0..9. */
#define NB_FASHION_MNIST_DIR                                                                                 \
    "/usr/share/datasets/fashion-mnist" /* Debian: apt-get install dataset-fashion-mnist */

/* Options, made by NB_MNIST_OPTS(...). */
typedef struct nb_mnist_opts {
    uint32_t nb_tag;
    bool keep_shape; /* images [N, 28, 28] rather than [N, 784]; false */
    bool raw;        /* pixel values 0..255 rather than [0, 1]; false */
} nb_mnist_opts;
#define NB_MNIST_OPTS(...) NB_OPTS_(nb_mnist_opts, __VA_ARGS__)
nb_mnist_opts nb_mnist_defaults(void);

/* dir NULL means NB_FASHION_MNIST_DIR. */
nb_dataset *nb_mnist_load(const char *dir, bool train, nb_mnist_opts opts);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
