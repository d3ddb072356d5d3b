/* dist/ddp.c — nb_ddp, DistributedDataParallel: rank 0's parameters and
 * buffers broadcast at the start, then gradients averaged after each backward
 * in buckets that are reduced while backward still runs.
 *
 * A bucket is a contiguous copy of a few parameters' gradients, in the
 * order backward completes them (the reverse of the parameters' order, as
 * torch lays its buckets out). The backward hook (nb_backward_hooked) copies
 * each gradient into its bucket the moment it is final; a full bucket starts
 * its reduction at once, buckets always starting in their order so that every
 * rank issues the same MPI calls in the same order. The reduction is a
 * deterministic all-reduce in two non-blocking steps:
 *
 *   reduce-scatter  the bucket is cut into world-size shards; MPI_Ialltoallv
 *                   sends shard r of every rank to rank r, which adds the
 *                   copies in rank order and divides by the world size;
 *   all-gather      MPI_Iallgatherv sends each rank's averaged shard to all.
 *
 * Each rank sends 2 (W-1)/W of the bucket, as a ring all-reduce does, and the
 * sum of every element is taken in the same order whatever the timing. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dist/group.h"
#include "nabla/autograd.h"

enum { IDLE, FULL, SCATTERING, GATHERING };

typedef struct bucket {
    int first, count; /* its parameters: d->order[first .. first + count) */
    int64_t numel;
    nb_real *buf;  /* the packed gradients; then the averaged ones */
    nb_real *recv; /* world copies of this rank's shard (reduce-scatter) */
    /* shard r of buf: counts[r] values at displs[r]; this rank receives
     * counts[rank] values from each rank r at recv_displs[r] */
    int *counts, *displs, *recv_counts, *recv_displs;
    int pending; /* parameters not yet ready in this step */
    int state;
    MPI_Request req;
} bucket;

typedef struct slot {
    nb_tensor *param;
    int bucket;
    int64_t offset;      /* in the bucket's buf */
    uint64_t ready_step; /* the backward in which it was packed */
} slot;

typedef struct by_ptr {
    const nb_tensor *param;
    int index; /* into slots */
} by_ptr;

struct nb_ddp {
    nb_module *model;
    nb_ddp_opts opts;
    nb_param_list params, buffers;
    slot *slots;     /* one per parameter, in nb_module_parameters order */
    int *order;      /* parameter indices in bucket order */
    by_ptr *lookup;  /* parameters sorted by address, for the hook */
    bucket *buckets; /* in launch order */
    int n_buckets;
    int next_scatter, next_gather; /* the next bucket to start each step of */
    int packed;                    /* parameters packed in this step */
    uint64_t pass;
    nb_ddp_stats stats;
};

/* torch.nn.parallel.DistributedDataParallel(bucket_cap_mb=25, broadcast_buffers=True) (NB_DDP_OPTS) */
nb_ddp_opts nb_ddp_defaults(void) { return NB_DDP_OPTS(); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_ptr(const void *a, const void *b)
{
    const nb_tensor *x = ((const by_ptr *)a)->param, *y = ((const by_ptr *)b)->param;
    return (x > y) - (x < y);
}

void nb_ddp_free(nb_ddp *d)
{
    if (!d)
        return;
    for (int i = 0; d->buckets && i < d->n_buckets; i++) {
        bucket *b = &d->buckets[i];
        free(b->buf);
        free(b->recv);
        free(b->counts);
        free(b->displs);
        free(b->recv_counts);
        free(b->recv_displs);
    }
    free(d->buckets);
    free(d->slots);
    free(d->order);
    free(d->lookup);
    nb_param_list_free(&d->params);
    nb_param_list_free(&d->buffers);
    free(d);
}

/* The shards of bucket b and its buffers. */
static bool bucket_alloc(bucket *b)
{
    int world = nb__group.world, rank = nb__group.rank;
    b->counts = malloc((size_t)world * sizeof(int));
    b->displs = malloc((size_t)world * sizeof(int));
    b->recv_counts = malloc((size_t)world * sizeof(int));
    b->recv_displs = malloc((size_t)world * sizeof(int));
    b->buf = malloc((size_t)(b->numel ? b->numel : 1) * sizeof(nb_real));
    if (!b->counts || !b->displs || !b->recv_counts || !b->recv_displs || !b->buf)
        return false;
    int64_t at = 0;
    for (int r = 0; r < world; r++) {
        b->counts[r] = (int)(b->numel / world + (r < b->numel % world));
        b->displs[r] = (int)at;
        at += b->counts[r];
    }
    for (int r = 0; r < world; r++) {
        b->recv_counts[r] = b->counts[rank];
        b->recv_displs[r] = r * b->counts[rank];
    }
    b->recv = malloc((size_t)(b->counts[rank] ? b->counts[rank] : 1) * (size_t)world * sizeof(nb_real));
    return b->recv != NULL;
}

/* torch's bucket assignment (compute_bucket_assignment_by_size): parameters
 * in reverse order, a bucket closed once it holds at least its limit: 1 MiB
 * for the first (dist._DEFAULT_FIRST_BUCKET_BYTES; here bucket_cap_mb when
 * smaller, so that a small cap splits a small model), bucket_cap_mb after,
 * in MiB as torch's bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
 * (torch/nn/parallel/distributed.py). */
static bool layout_buckets(nb_ddp *d)
{
    int n = d->params.count;
    d->order = malloc((size_t)(n ? n : 1) * sizeof *d->order);
    d->buckets = calloc((size_t)(n ? n : 1), sizeof *d->buckets);
    if (!d->order || !d->buckets)
        return false;
    double mib = 1024.0 * 1024.0, cap = d->opts.bucket_cap_mb * mib, first = cap < mib ? cap : mib, bytes = 0;
    bucket *b = NULL;
    for (int k = 0; k < n; k++) {
        int i = n - 1 - k;
        d->order[k] = i;
        if (!b) {
            b = &d->buckets[d->n_buckets++];
            b->first = k;
            bytes = 0;
        }
        d->slots[i].bucket = d->n_buckets - 1;
        d->slots[i].offset = b->numel;
        b->numel += d->params.tensors[i]->numel;
        b->count++;
        bytes += (double)d->params.tensors[i]->numel * sizeof(nb_real);
        if (b->numel > INT32_MAX) {
            nb_error(NB_ERR_ARG, "ddp_new: parameter %s makes a bucket of more than 2^31 - 1 values",
                     d->params.names[i]);
            return false;
        }
        if (bytes >= (d->n_buckets == 1 ? first : cap))
            b = NULL;
    }
    for (int i = 0; i < d->n_buckets; i++)
        if (!bucket_alloc(&d->buckets[i])) {
            nb_error(NB_ERR_MEMORY, "ddp_new: out of memory for the gradient buckets");
            return false;
        }
    return true;
}

/* Every rank must have the same parameters (their count and total size),
 * and every rank must have laid out its buckets: compared across the ranks
 * before anything is broadcast into them, so that all ranks go on or all
 * fail. */
static bool same_model_everywhere(const nb_ddp *d, bool ok)
{
    int world = nb__group.world;
    int64_t mine[3] = {d->params.count, 0, ok}, *all = malloc((size_t)world * sizeof mine);
    if (!all) {
        nb_error(NB_ERR_MEMORY, "ddp_new: out of memory");
        nb_dist_abort("ddp_new: out of memory"); /* the others are waiting for this rank's answer */
    }
    for (int i = 0; i < d->params.count; i++)
        mine[1] += d->params.tensors[i]->numel;
    MPI_Request req;
    MPI_Iallgather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, nb__group.comm, &req);
    nb_group_wait(&req, "ddp_new (comparing the models)");
    for (int r = 0; r < world && ok; r++) {
        const int64_t *a = all + 3 * r;
        if (a[0] != all[0] || a[1] != all[1]) {
            nb_error(NB_ERR_SHAPE,
                     "ddp_new: rank %d has %lld parameters of %lld values in all, rank 0 has %lld of %lld: "
                     "every rank must build the same model",
                     r, (long long)a[0], (long long)a[1], (long long)all[0], (long long)all[1]);
            ok = false;
        } else if (!a[2]) {
            nb_error(NB_ERR_STATE, "ddp_new: rank %d failed to set up (its error is on its stderr)", r);
            ok = false;
        }
    }
    free(all);
    return ok;
}

static int broadcast_all(const nb_param_list *l)
{
    for (int i = 0; i < l->count; i++)
        if (nb_dist_broadcast(l->tensors[i], 0) != 0)
            return -1;
    return 0;
}

nb_ddp *nb_ddp_new(nb_module *model, nb_ddp_opts o)
{
    if (!nb_opts_made("ddp_new", o.nb_tag, "ddp") || !nb_group_check("ddp_new"))
        return NULL;
    if (!model)
        return nb_error(NB_ERR_NULL, "ddp_new: model is NULL");
    if (!(o.bucket_cap_mb >= 0) || o.bucket_cap_mb > 1e6)
        return nb_error(NB_ERR_ARG, "ddp_new: bucket_cap_mb %g must be in [0, 1e6]", o.bucket_cap_mb);
    nb_ddp *d = calloc(1, sizeof *d);
    if (!d)
        return nb_error(NB_ERR_MEMORY, "ddp_new: out of memory");
    d->model = model;
    d->opts = o;
    if (nb_module_parameters(model, &d->params) < 0 || nb_module_buffers(model, &d->buffers) < 0) {
        nb_ddp_free(d);
        return NULL;
    }
    int n = d->params.count;
    d->slots = calloc((size_t)(n ? n : 1), sizeof *d->slots);
    d->lookup = malloc((size_t)(n ? n : 1) * sizeof *d->lookup);
    if (!d->slots || !d->lookup) {
        nb_ddp_free(d);
        return nb_error(NB_ERR_MEMORY, "ddp_new: out of memory");
    }
    for (int i = 0; i < n; i++) {
        d->slots[i].param = d->params.tensors[i];
        d->lookup[i] = (by_ptr){d->params.tensors[i], i};
    }
    qsort(d->lookup, (size_t)n, sizeof *d->lookup, cmp_ptr);
    if (!same_model_everywhere(d, layout_buckets(d)) || broadcast_all(&d->params) != 0 ||
        broadcast_all(&d->buffers) != 0) {
        nb_ddp_free(d);
        return NULL;
    }
    d->stats.buckets = d->n_buckets;
    int world = nb__group.world, rank = nb__group.rank;
    for (int i = 0; i < d->n_buckets; i++) {
        const bucket *b = &d->buckets[i];
        d->stats.bytes_per_step +=
            (b->numel - b->counts[rank] + (int64_t)b->counts[rank] * (world - 1)) * (int64_t)sizeof(nb_real);
    }
    return d;
}

nb_tensor *nb_ddp_forward(nb_ddp *d, nb_tensor *x)
{
    if (!d)
        return nb_error(NB_ERR_NULL, "ddp_forward: ddp is NULL");
    if (d->opts.broadcast_buffers && broadcast_all(&d->buffers) != 0)
        return NULL;
    return nb_forward(d->model, x);
}

/* Start the reduce-scatter of every full bucket whose turn it is. */
static void launch(nb_ddp *d)
{
    while (d->next_scatter < d->n_buckets && d->buckets[d->next_scatter].state == FULL) {
        bucket *b = &d->buckets[d->next_scatter++];
        MPI_Ialltoallv(b->buf, b->counts, b->displs, NB_MPI_REAL, b->recv, b->recv_counts, b->recv_displs,
                       NB_MPI_REAL, nb__group.scatter, &b->req);
        b->state = SCATTERING;
        d->stats.early_buckets += d->packed < d->params.count;
    }
}

/* This rank's shard: the ranks' copies added in rank order, over the world
 * size (as torch divides by the world size), into buf for the all-gather. */
static void reduce_shard(bucket *b)
{
    int world = nb__group.world, me = nb__group.rank, n = b->counts[me];
    nb_real *out = b->buf + b->displs[me];
    for (int i = 0; i < n; i++) {
        nb_real s = b->recv[i];
        for (int r = 1; r < world; r++)
            s += b->recv[(size_t)r * (size_t)n + (size_t)i];
        out[i] = s / (nb_real)world;
    }
}

/* Move every bucket whose reduce-scatter is done (all of them with wait) on
 * to its all-gather, in bucket order. */
static void progress(nb_ddp *d, bool wait)
{
    while (d->next_gather < d->next_scatter) {
        bucket *b = &d->buckets[d->next_gather];
        if (wait) {
            nb_group_wait(&b->req, "ddp_backward (gradient reduce-scatter)");
        } else {
            int done = 0;
            MPI_Test(&b->req, &done, MPI_STATUS_IGNORE);
            if (!done)
                return;
        }
        reduce_shard(b);
        MPI_Iallgatherv(MPI_IN_PLACE, 0, NB_MPI_REAL, b->buf, b->counts, b->displs, NB_MPI_REAL,
                        nb__group.gather, &b->req);
        b->state = GATHERING;
        d->next_gather++;
    }
}

/* Parameter i's gradient is final: into its bucket. */
static void pack(nb_ddp *d, int i)
{
    slot *s = &d->slots[i];
    if (s->ready_step == d->pass)
        return;
    s->ready_step = d->pass;
    d->packed++;
    bucket *b = &d->buckets[s->bucket];
    size_t bytes = (size_t)s->param->numel * sizeof(nb_real);
    if (s->param->grad)
        memcpy(b->buf + s->offset, s->param->grad, bytes);
    else
        memset(b->buf + s->offset, 0, bytes);
    if (--b->pending == 0) {
        b->state = FULL;
        launch(d);
    }
    progress(d, false);
}

static void on_grad_ready(nb_tensor *leaf, void *ctx)
{
    nb_ddp *d = ctx;
    by_ptr key = {leaf, 0};
    const by_ptr *hit = bsearch(&key, d->lookup, (size_t)d->params.count, sizeof key, cmp_ptr);
    if (hit) /* an input with requires_grad is not one of the model's parameters */
        pack(d, hit->index);
}

/* The averaged gradients back into the parameters. A parameter without a
 * .grad gets one unless the average is all zeros (unused on every rank), a
 * decision every rank takes alike. */
static int unpack(nb_ddp *d)
{
    int rc = 0;
    for (int i = 0; i < d->params.count; i++) {
        slot *s = &d->slots[i];
        const nb_real *avg = d->buckets[s->bucket].buf + s->offset;
        size_t n = (size_t)s->param->numel;
        if (!s->param->grad) {
            size_t k = 0;
            while (k < n && avg[k] == 0)
                k++;
            if (k == n)
                continue;
            size_t bytes = (n * sizeof(nb_real) + NB_ALIGN - 1) / NB_ALIGN * NB_ALIGN;
            s->param->grad = aligned_alloc(NB_ALIGN, bytes); /* nb_free() frees it */
            if (!s->param->grad) {
                nb_error(NB_ERR_MEMORY, "ddp_backward: out of memory for the gradient of %s",
                         d->params.names[i]);
                rc = -1;
                continue;
            }
        }
        memcpy(s->param->grad, avg, n * sizeof(nb_real));
    }
    return rc;
}

int nb_ddp_backward(nb_ddp *d, nb_tensor *loss)
{
    if (!d) {
        nb_error(NB_ERR_NULL, "ddp_backward: ddp is NULL");
        return -1;
    }
    double t0 = now();
    d->pass++;
    d->next_scatter = d->next_gather = 0;
    for (int i = 0; i < d->n_buckets; i++) {
        d->buckets[i].pending = d->buckets[i].count;
        d->buckets[i].state = IDLE;
    }
    d->packed = 0;
    int rc = nb_backward_hooked(loss, NULL, on_grad_ready, d);
    /* Whatever backward did (a parameter it never reached, an error), every
     * bucket is reduced, so that the ranks' calls stay matched. */
    double t1 = now();
    for (int k = 0; k < d->params.count; k++)
        pack(d, d->order[k]);
    progress(d, true);
    for (int i = 0; i < d->n_buckets; i++)
        nb_group_wait(&d->buckets[i].req, "ddp_backward (gradient all-gather)");
    if (unpack(d) != 0)
        rc = -1;
    double t2 = now();
    d->stats.steps++;
    d->stats.wait_seconds += t2 - t1;
    d->stats.backward_seconds += t2 - t0;
    return rc;
}

nb_ddp_stats nb_ddp_get_stats(const nb_ddp *d) { return d ? d->stats : (nb_ddp_stats){0}; }
