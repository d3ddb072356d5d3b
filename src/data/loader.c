/* data/loader.c — nb_loader: batches of a dataset in a seeded order that
 * depends only on (seed, epoch), gathered row by row into two loader-owned
 * tensors allocated once for a full batch and reused for every batch; and its
 * sharding by rank for data-parallel training (nb_loader_shard). */
#include <stdlib.h>
#include <string.h>
#include "data/loader.h"
#include "data/rows.h"

struct nb_loader {
    const nb_dataset *ds;
    int64_t batch;
    nb_loader_opts opts;
    int64_t *order; /* this epoch's row order */
    int64_t next;   /* position in rows of the next batch */
    /* Sharded (nb_loader_shard): this replica's rows of the epoch in shard, len
     * of them; otherwise rows = order and len = the dataset's length. */
    int64_t replicas, rank;
    bool shard_drop_last;
    int64_t *shard;
    int64_t *rows, len;
    uint64_t epoch;
    bool ended;         /* the epoch's last batch was handed out; the next call starts a new epoch */
    nb_tensor *xb, *yb; /* full-batch buffers; shape[0] set per batch */
};

/* DistributedSampler's num_samples: ceil(n / replicas), or with drop_last
 * (when replicas does not divide n) ceil((n - replicas) / replicas), which
 * is floor(n / replicas). */
static int64_t shard_len(int64_t n, int64_t replicas, bool drop_last)
{
    return drop_last ? n / replicas : (n + replicas - 1) / replicas;
}

/* The order of an epoch: a generator seeded from (seed, epoch) alone, so that
 * resuming at an epoch replays its order. */
static void start_epoch(nb_loader *ld, uint64_t epoch)
{
    int64_t n = nb_dataset_len(ld->ds);
    ld->epoch = epoch;
    ld->next = 0;
    ld->ended = false;
    if (!ld->opts.shuffle) {
        for (int64_t i = 0; i < n; i++)
            ld->order[i] = i;
    } else {
        nb_generator g;
        nb_generator_seed(&g, ld->opts.seed);
        nb_generator_seed(&g, nb_generator_next(&g) + epoch);
        nb_shuffled_indices(ld->order, n, &g);
    }
    ld->rows = ld->order;
    ld->len = n;
    if (!ld->shard)
        return;
    /* torch.utils.data.DistributedSampler.__iter__: the order padded by
     * repeating it from its start (or cut, with drop_last) to total_size =
     * len * replicas, then every replicas-th row from this rank's. */
    ld->len = shard_len(n, ld->replicas, ld->shard_drop_last);
    for (int64_t j = 0; j < ld->len; j++)
        ld->shard[j] = ld->order[(ld->rank + j * ld->replicas) % n];
    ld->rows = ld->shard;
}

static nb_tensor *batch_buffer(const nb_tensor *t, int64_t batch)
{
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = batch;
    nb_tensor *b = nb_tensor_alloc("loader", t->ndim, shape, true);
    if (b)
        b->borrowed = true; /* the loader's: a user's nb_free() leaves it alone */
    return b;
}

nb_loader_opts nb_loader_defaults(void) { return NB_LOADER_OPTS(); }

nb_loader *nb_loader_new(const nb_dataset *ds, int64_t batch_size, nb_loader_opts opts)
{
    if (!nb_opts_made("loader", opts.nb_tag, "loader"))
        return NULL;
    if (!ds)
        return nb_error(NB_ERR_NULL, "loader: dataset is NULL");
    if (batch_size <= 0)
        return nb_error(NB_ERR_ARG, "loader: batch_size %lld must be positive", (long long)batch_size);
    int64_t n = nb_dataset_len(ds);
    int64_t b = batch_size < n ? batch_size : (n ? n : 1); /* no buffer larger than the data */
    nb_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return nb_error(NB_ERR_MEMORY, "loader: out of memory");
    *ld = (nb_loader){.ds = ds, .batch = batch_size, .opts = opts};
    ld->order = malloc((size_t)(n ? n : 1) * sizeof *ld->order);
    ld->xb = ld->order ? batch_buffer(ds->x, b) : NULL;
    ld->yb = ld->xb && ds->y ? batch_buffer(ds->y, b) : NULL;
    if (!ld->xb || (ds->y && !ld->yb)) {
        if (!ld->order)
            nb_error(NB_ERR_MEMORY, "loader: out of memory for %lld indices", (long long)n);
        nb_loader_free(ld);
        return NULL;
    }
    start_epoch(ld, 0);
    return ld;
}

int64_t nb_loader_batches(const nb_loader *ld)
{
    if (!ld)
        return 0;
    int64_t n = ld->shard ? shard_len(nb_dataset_len(ld->ds), ld->replicas, ld->shard_drop_last)
                          : nb_dataset_len(ld->ds);
    return ld->opts.drop_last ? n / ld->batch : (n + ld->batch - 1) / ld->batch;
}

int nb_loader_shard(nb_loader *ld, int64_t num_replicas, int64_t rank, bool drop_last)
{
    if (!ld) {
        nb_error(NB_ERR_NULL, "loader_shard: the loader is NULL");
        return -1;
    }
    if (num_replicas < 1 || rank < 0 || rank >= num_replicas) {
        nb_error(NB_ERR_ARG, "loader_shard: rank %lld is not in [0, num_replicas %lld)", (long long)rank,
                 (long long)num_replicas);
        return -1;
    }
    int64_t n = nb_dataset_len(ld->ds);
    int64_t *shard = NULL, len = shard_len(n, num_replicas, drop_last);
    if (n > 0) {
        shard = malloc((size_t)(len ? len : 1) * sizeof *shard);
        if (!shard) {
            nb_error(NB_ERR_MEMORY, "loader_shard: out of memory for the shard's indices");
            return -1;
        }
    }
    free(ld->shard);
    ld->shard = shard;
    ld->replicas = num_replicas;
    ld->rank = rank;
    ld->shard_drop_last = drop_last;
    start_epoch(ld, ld->epoch);
    return 0;
}

uint64_t nb_loader_epoch(const nb_loader *ld) { return ld ? ld->epoch : 0; }

nb_loader_position nb_loader_get_position(const nb_loader *ld)
{
    return (nb_loader_position){.epoch = ld->epoch + ld->ended,
                                .next = ld->ended ? 0 : ld->next,
                                .rows = nb_dataset_len(ld->ds),
                                .batch = ld->batch,
                                .shuffle = ld->opts.shuffle,
                                .drop_last = ld->opts.drop_last,
                                .seed = ld->opts.seed,
                                .replicas = ld->shard ? ld->replicas : 1,
                                .rank = ld->shard ? ld->rank : 0};
}

void nb_loader_set_position(nb_loader *ld, const nb_loader_position *p)
{
    start_epoch(ld, p->epoch);
    ld->next = p->next;
}

void nb_loader_reset(nb_loader *ld, uint64_t epoch)
{
    if (ld)
        start_epoch(ld, epoch);
}

static void fill(nb_tensor *buf, const nb_tensor *src, const int64_t *idx, int64_t n)
{
    nb_gather_rows(buf->data, src, idx, n);
    buf->shape[0] = n;
    buf->numel = n * (src->numel / src->shape[0]);
}

bool nb_loader_next(nb_loader *ld, nb_tensor **x, nb_tensor **y)
{
    if (x)
        *x = NULL;
    if (y)
        *y = NULL;
    if (!ld || !x) {
        nb_error(NB_ERR_NULL, "loader_next: the loader or x is NULL");
        return false;
    }
    if (ld->ended)
        start_epoch(ld, ld->epoch + 1);
    int64_t n = ld->len;
    int64_t size = n - ld->next < ld->batch ? n - ld->next : ld->batch;
    if (size <= 0 || (ld->opts.drop_last && size < ld->batch)) {
        ld->ended = true;
        return false;
    }
    fill(ld->xb, ld->ds->x, ld->rows + ld->next, size);
    *x = ld->xb;
    if (ld->yb) {
        fill(ld->yb, ld->ds->y, ld->rows + ld->next, size);
        if (y)
            *y = ld->yb;
    }
    ld->next += size;
    return true;
}

void nb_loader_free(nb_loader *ld)
{
    if (!ld)
        return;
    nb_tensor_destroy(ld->xb);
    nb_tensor_destroy(ld->yb);
    free(ld->order);
    free(ld->shard);
    free(ld);
}
