/* ops/reduce.c — reductions: sum, mean, max, min over everything (rank-0
 * result) or along one dim (keepdim as PyTorch), and argmax.
 *
 * x is viewed as [outer, d, inner] and reduced over d (everything: [1, numel, 1]).
 *   sum:  y = Σ_k x[k]          dx[k] += dy
 *   mean: y = Σ_k x[k] / d      dx[k] += dy / d    (the mean of nothing is NaN, as PyTorch)
 *   max:  y = x[k*], k* the first k where x is maximal;   dx[k*] += dy
 *   min:  the same with minimal.
 * Max/min send the whole gradient to the first extremal element. For the dim
 * variants this is PyTorch's behaviour (torch.max(x, dim) returns the first
 * index and its backward scatters to it). For the full reduction PyTorch's
 * max()/min() spread the gradient evenly over tied elements
 * (evenly_distribute_backward, torch/csrc/autograd/FunctionsManual.cpp); here it
 * goes to the first one too, so that max and max_dim agree. NaN propagates as in
 * PyTorch: any NaN makes the result NaN, and the first NaN is the arg-extremum.
 * A max/min over no elements is an error (PyTorch: no identity for max).
 *
 * Determinism: sums accumulate in double, in an order that does not depend on
 * the thread count. Along a contiguous dim (inner == 1) a row is cut into blocks
 * of BLOCK elements; a block is summed in LANES independent accumulators (which
 * vectorize without reassociation), the lanes are combined pairwise, and the
 * blocks added left to right. Along a strided dim (inner > 1) each output is a
 * running sum over k, vectorized across neighbouring outputs. Threads split
 * rows, blocks or column tiles, never one accumulation. */
#include <string.h>
#include "kernels/extremum.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "ops/dim.h"

typedef enum kind { SUM, MEAN, MAX, MIN } kind;

enum { BLOCK = 4096, TILE = NB_COL_TILE, GRAIN = 1 << 14 };

static nb_real finish(kind k, double s, int64_t d) { return (nb_real)(k == MEAN ? s / (double)d : s); }

/* One reduction: y[outer, inner] (values, may be NULL for argmax) and idx (the
 * arg-extremum along d, for max/min when wanted, else NULL). */
typedef struct job {
    kind k;
    const nb_real *x;
    nb_real *y;
    int64_t *idx;
    int64_t outer, d, inner;
    int64_t nb;    /* blocks per row (inner == 1) or tiles per row (inner > 1) */
    double *psum;  /* per-block partial sums when nb > 1 */
    int64_t *pidx; /* per-block arg-extrema when nb > 1 */
} job;

/* inner == 1: task t is block t % nb of row t / nb. */
static void rows_task(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    bool is_max = j->k == MAX;
    for (int64_t t = begin; t < end; t++) {
        int64_t o = t / j->nb, b0 = t % j->nb * BLOCK;
        const nb_real *row = j->x + o * j->d;
        int64_t len = j->d - b0 < BLOCK ? j->d - b0 : BLOCK;
        if (j->k == SUM || j->k == MEAN) {
            double s = nb_sum_d(row + b0, len);
            if (j->nb > 1)
                j->psum[t] = s;
            else
                j->y[o] = finish(j->k, s, j->d);
        } else {
            int64_t i = b0 + nb_block_arg(row + b0, len, is_max);
            if (j->nb > 1) {
                j->pidx[t] = i;
                continue;
            }
            if (j->y)
                j->y[o] = row[i];
            if (j->idx)
                j->idx[o] = i;
        }
    }
}

/* Blocks of a row combined in order (serial: one value per block). */
static void rows_fold(const job *j)
{
    bool is_max = j->k == MAX;
    for (int64_t o = 0; o < j->outer; o++) {
        const nb_real *row = j->x + o * j->d;
        if (j->k == SUM || j->k == MEAN) {
            double s = 0;
            for (int64_t b = 0; b < j->nb; b++)
                s += j->psum[o * j->nb + b];
            j->y[o] = finish(j->k, s, j->d);
            continue;
        }
        int64_t i = j->pidx[o * j->nb];
        for (int64_t b = 1; b < j->nb; b++) {
            int64_t c = j->pidx[o * j->nb + b];
            if (nb_beats(is_max, row[c], row[i]))
                i = c;
        }
        if (j->y)
            j->y[o] = row[i];
        if (j->idx)
            j->idx[o] = i;
    }
}

/* inner > 1: task t is column tile t % nb of slab t / nb. */
static void cols_task(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    for (int64_t t = begin; t < end; t++) {
        int64_t o = t / j->nb, c0 = t % j->nb * TILE;
        int64_t w = j->inner - c0 < TILE ? j->inner - c0 : TILE;
        const nb_real *x = j->x + o * j->d * j->inner + c0;
        int64_t out = o * j->inner + c0;
        if (j->k == SUM || j->k == MEAN) {
            nb_col_sum(j->y + out, x, j->d, j->inner, w, j->k == MEAN ? (double)j->d : 1);
            continue;
        }
        nb_real best[TILE];
        int64_t arg[TILE];
        nb_col_arg(best, arg, x, j->d, j->inner, w, j->k == MAX);
        if (j->y)
            memcpy(j->y + out, best, (size_t)w * sizeof *best);
        if (j->idx)
            memcpy(j->idx + out, arg, (size_t)w * sizeof *arg);
    }
}

static bool run(job *j)
{
    if (j->outer == 0 || j->inner == 0)
        return true;
    if (j->inner == 1) {
        j->nb = j->d > 0 ? (j->d + BLOCK - 1) / BLOCK : 1;
        int64_t tasks = j->outer * j->nb;
        if (j->nb > 1) {
            if (j->k == SUM || j->k == MEAN)
                j->psum = nb_step_alloc((size_t)tasks * sizeof *j->psum);
            else
                j->pidx = nb_step_alloc((size_t)tasks * sizeof *j->pidx);
            if (!j->psum && !j->pidx)
                return false;
        }
        int64_t work = j->d < BLOCK ? (j->d > 0 ? j->d : 1) : BLOCK;
        nb_parallel_for(tasks, GRAIN / work + 1, rows_task, j);
        if (j->nb > 1)
            rows_fold(j);
    } else {
        j->nb = (j->inner + TILE - 1) / TILE;
        int64_t work = (j->d > 0 ? j->d : 1) * (j->inner < TILE ? j->inner : TILE);
        nb_parallel_for(j->outer * j->nb, GRAIN / work + 1, cols_task, j);
    }
    return true;
}

typedef struct reduce_op {
    nb_op op;
    kind k;
} reduce_op;

/* sum, mean: dx[o,k,i] += dy[o,i] / (1 or d); x rows in parallel. */
typedef struct bwd_job {
    nb_real *dx;
    const nb_real *dy;
    int64_t d, inner;
    nb_real div;
} bwd_job;

NB_VECTORIZE static void spread_task(void *c, int64_t begin, int64_t end)
{
    const bwd_job *j = c;
    if (j->inner == 1) { /* unit: an output o and its d inputs */
        for (int64_t o = begin; o < end; o++) {
            nb_real g = j->dy[o] / j->div, *restrict dx = j->dx + o * j->d;
            for (int64_t k = 0; k < j->d; k++)
                dx[k] += g;
        }
    } else { /* unit: an input row (o, k) of inner elements */
        for (int64_t r = begin; r < end; r++) {
            nb_real *restrict dx = j->dx + r * j->inner;
            const nb_real *restrict dy = j->dy + r / j->d * j->inner;
            for (int64_t i = 0; i < j->inner; i++)
                dx[i] += dy[i] / j->div;
        }
    }
}

/* What the backward of a reduction reads: x seen as [outer, d, inner] reduced
 * over d, and for max/min the winner's index along d of each output. */
typedef struct reduce_saved {
    int64_t outer, d, inner;
    const int64_t *idx; /* [outer * inner], max and min only */
} reduce_saved;

static void reduce_backward(nb_node *n)
{
    const reduce_op *op = (const reduce_op *)n->op;
    const reduce_saved *s = n->saved;
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    int64_t outer = s->outer, d = s->d, inner = s->inner;
    const nb_real *dy = n->out->grad;
    if (op->k == MAX || op->k == MIN) {
        const int64_t *idx = s->idx;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                dx[(o * d + idx[o * inner + i]) * inner + i] += dy[o * inner + i];
        return;
    }
    bwd_job j = {dx, dy, d, inner, op->k == MEAN ? (nb_real)d : 1};
    int64_t units = inner == 1 ? outer : outer * d;
    int64_t len = inner == 1 ? d : inner;
    nb_parallel_for(units, GRAIN / (len > 0 ? len : 1) + 1, spread_task, &j);
}

static const reduce_op op_sum = {{"sum", reduce_backward}, SUM};
static const reduce_op op_mean = {{"mean", reduce_backward}, MEAN};
static const reduce_op op_max = {{"max", reduce_backward}, MAX};
static const reduce_op op_min = {{"min", reduce_backward}, MIN};
static const reduce_op op_sum_dim = {{"sum_dim", reduce_backward}, SUM};
static const reduce_op op_mean_dim = {{"mean_dim", reduce_backward}, MEAN};
static const reduce_op op_max_dim = {{"max_dim", reduce_backward}, MAX};
static const reduce_op op_min_dim = {{"min_dim", reduce_backward}, MIN};

/* The geometry and result shape of a reduction over dim (all: over everything).
 * Returns false with an error recorded. */
static bool setup(const char *name, kind k, nb_tensor *x, bool all, int dim, bool keepdim, job *j, int *ndim,
                  int64_t *shape)
{
    if (!nb_check_input(name, 1, x))
        return false;
    *j = (job){.k = k, .x = x->data};
    *ndim = 0;
    if (all) {
        j->outer = j->inner = 1;
        j->d = x->numel;
    } else {
        int d = nb_op_dim(name, dim, x, 0);
        if (d < 0)
            return false;
        nb_dim_split(x, d, &j->outer, &j->d, &j->inner);
        *ndim = nb_dim_reduced_shape(x, d, keepdim, shape);
    }
    if (k != SUM && k != MEAN && j->d == 0) {
        if (all)
            nb_error(NB_ERR_SHAPE, "%s: tensor of shape %s is empty: the %s of no elements is undefined",
                     name, nb_shape_fmt(x), k == MAX ? "maximum" : "minimum");
        else
            nb_error(NB_ERR_SHAPE, "%s: shape %s: dim %d has size 0: the %s of no elements is undefined",
                     name, nb_shape_fmt(x), dim, k == MAX ? "maximum" : "minimum");
        return false;
    }
    return true;
}

static nb_tensor *reduce(const reduce_op *op, nb_tensor *x, bool all, int dim, bool keepdim)
{
    const char *name = op->op.name;
    job j;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (!setup(name, op->k, x, all, dim, keepdim, &j, &ndim, shape))
        return NULL;
    nb_tensor *y = nb_tensor_alloc(name, ndim, shape, false);
    if (!y)
        return NULL;
    j.y = y->data;
    bool extremum = op->k == MAX || op->k == MIN;
    if (extremum && x->requires_grad && nb_is_grad_enabled()) {
        j.idx = nb_step_alloc((size_t)(y->numel ? y->numel : 1) * sizeof *j.idx);
        if (!j.idx)
            return NULL;
    }
    if (!run(&j))
        return NULL;
    nb_node *n = nb_record_saved(&op->op, y, 1, &x, sizeof(reduce_saved));
    if (n)
        *(reduce_saved *)n->saved = (reduce_saved){j.outer, j.d, j.inner, j.idx};
    return y;
}

nb_tensor *nb_sum(nb_tensor *x) { return reduce(&op_sum, x, true, 0, false); }
nb_tensor *nb_mean(nb_tensor *x) { return reduce(&op_mean, x, true, 0, false); }
nb_tensor *nb_max(nb_tensor *x) { return reduce(&op_max, x, true, 0, false); }
nb_tensor *nb_min(nb_tensor *x) { return reduce(&op_min, x, true, 0, false); }
nb_tensor *nb_sum_dim(nb_tensor *x, int dim, bool keepdim)
{
    return reduce(&op_sum_dim, x, false, dim, keepdim);
}
nb_tensor *nb_mean_dim(nb_tensor *x, int dim, bool keepdim)
{
    return reduce(&op_mean_dim, x, false, dim, keepdim);
}
nb_tensor *nb_max_dim(nb_tensor *x, int dim, bool keepdim)
{
    return reduce(&op_max_dim, x, false, dim, keepdim);
}
nb_tensor *nb_min_dim(nb_tensor *x, int dim, bool keepdim)
{
    return reduce(&op_min_dim, x, false, dim, keepdim);
}

/* argmax: the first index of the maximum along dim (first NaN if any, as
 * torch.argmax), as nb_real values; not differentiable (records nothing). */
nb_tensor *nb_argmax(nb_tensor *x, int dim, bool keepdim)
{
    job j;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (!setup("argmax", MAX, x, false, dim, keepdim, &j, &ndim, shape))
        return NULL;
    nb_tensor *y = nb_tensor_alloc("argmax", ndim, shape, false);
    if (!y)
        return NULL;
    j.idx = nb_step_alloc((size_t)(y->numel ? y->numel : 1) * sizeof *j.idx);
    if (!j.idx || !run(&j))
        return NULL;
    for (int64_t i = 0; i < y->numel; i++)
        y->data[i] = (nb_real)j.idx[i];
    return y;
}
