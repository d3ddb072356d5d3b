/* ops/sort.c — sorting along a dim, as torch.sort(input, dim, descending)
 * (https://pytorch.org/docs/stable/generated/torch.sort.html), torch.argsort
 * and torch.topk(input, k, dim, largest)
 * (https://pytorch.org/docs/stable/generated/torch.topk.html). Per lane of x
 * seen as [outer, d, inner]:
 *   y[o, j, i] = x[o, idx[o, j, i], i],  idx the order that sorts the lane
 *   (topk: its first k entries, largest or smallest first)
 *   dx[o, idx[o, j, i], i] += dy[o, j, i]      (the values' gradient; indices get none)
 * Order: NaN is larger than every number (last ascending, first descending) and
 * ties keep their index order in both directions, as torch.sort(stable=True);
 * topk returns its k values sorted (PyTorch's default sorted=True) and breaks
 * ties by the lower index. Indices are nb_real values (exact up to 2^24 in
 * float32, as nb_argmax's). Lanes are sorted independently on the threads. */
#include <math.h>
#include <stdlib.h>
#include "nabla/threads.h"
#include "ops/dim.h"

typedef struct keyed {
    nb_real v;
    int64_t i;
} keyed;

/* a before b ascending: numbers in order, NaN last, ties by index. */
static int ascending(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    bool na = isnan(a->v), nb = isnan(b->v);
    if (na != nb)
        return na ? 1 : -1;
    if (!na && a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int descending(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    bool na = isnan(a->v), nb = isnan(b->v);
    if (na != nb)
        return na ? -1 : 1;
    if (!na && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

typedef struct sort_saved {
    int64_t outer, d, inner, k; /* x as [outer, d, inner]; k kept per lane */
    const int64_t *idx;         /* [outer, k, inner] */
} sort_saved;

typedef struct job {
    sort_saved *s;
    const nb_real *x;
    nb_real *y, *yi; /* values, indices as reals (either may be NULL) */
    int64_t *idx;
    keyed *buf; /* d entries per lane */
    bool desc;
} job;

enum { GRAIN = 1 << 12 };

static void sort_lanes(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    const sort_saved *s = j->s;
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / s->inner, i = u % s->inner;
        const nb_real *x = j->x + o * s->d * s->inner + i;
        keyed *b = j->buf + u * s->d;
        for (int64_t k = 0; k < s->d; k++)
            b[k] = (keyed){x[k * s->inner], k};
        qsort(b, (size_t)s->d, sizeof *b, j->desc ? descending : ascending);
        for (int64_t k = 0; k < s->k; k++) {
            int64_t at = (o * s->k + k) * s->inner + i;
            j->idx[at] = b[k].i;
            if (j->y)
                j->y[at] = b[k].v;
            if (j->yi)
                j->yi[at] = (nb_real)b[k].i;
        }
    }
}

static void sort_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const sort_saved *s = n->saved;
    const nb_real *dy = n->out->grad;
    for (int64_t o = 0; o < s->outer; o++) /* each lane's indices are distinct: no two adds meet */
        for (int64_t k = 0; k < s->k; k++)
            for (int64_t i = 0; i < s->inner; i++) {
                int64_t at = (o * s->k + k) * s->inner + i;
                dx[(o * s->d + s->idx[at]) * s->inner + i] += dy[at];
            }
}

static const nb_op op_sort = {"sort", sort_backward};
static const nb_op op_topk = {"topk", sort_backward};

/* Sorts x's lanes along dim, keeping k per lane (topk; the others keep all); values into a
 * recorded tensor when want_values, indices into *indices when indices. */
static nb_tensor *sort_op(const nb_op *op, nb_tensor *x, int64_t k, int dim, bool desc, bool want_values,
                          nb_tensor **indices)
{
    const char *name = op ? op->name : "argsort";
    if (indices)
        *indices = NULL;
    if (!nb_check_input(name, 1, x))
        return NULL;
    int d = nb_op_dim(name, dim, x, 0);
    if (d < 0)
        return NULL;
    sort_saved s;
    nb_dim_split(x, d, &s.outer, &s.d, &s.inner);
    if (op == &op_topk && (k < 0 || k > s.d))
        return nb_error(NB_ERR_ARG,
                        "topk: x %s: k = %lld is out of range for dim %d of size %lld (valid: 0..%lld)",
                        nb_shape_fmt(x), (long long)k, d, (long long)s.d, (long long)s.d);
    s.k = op == &op_topk ? k : s.d;
    int64_t shape[NB_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        shape[i] = i == d ? s.k : x->shape[i];
    int64_t lanes = s.outer * s.inner, kept = lanes * s.k;
    job j = {.s = &s, .x = x->data, .desc = desc};
    j.idx = nb_step_alloc((size_t)(kept ? kept : 1) * sizeof *j.idx);
    j.buf = nb_step_alloc((size_t)(lanes * s.d > 0 ? lanes * s.d : 1) * sizeof *j.buf);
    nb_tensor *y = want_values ? nb_tensor_alloc(name, x->ndim, shape, false) : NULL;
    nb_tensor *yi = indices || !want_values ? nb_tensor_alloc(name, x->ndim, shape, false) : NULL;
    if (!j.idx || !j.buf || (want_values && !y) || ((indices || !want_values) && !yi))
        return NULL;
    j.y = y ? y->data : NULL;
    j.yi = yi ? yi->data : NULL;
    nb_parallel_for(lanes, GRAIN / (s.d + 1) + 1, sort_lanes, &j);
    s.idx = j.idx;
    if (indices)
        *indices = yi;
    if (!want_values)
        return yi;
    nb_node *n = nb_record_saved(op, y, 1, &x, sizeof(sort_saved));
    if (n)
        *(sort_saved *)n->saved = s;
    return y;
}

nb_tensor *nb_sort(nb_tensor *input, int dim, bool descending, nb_tensor **indices)
{
    return sort_op(&op_sort, input, 0, dim, descending, true, indices);
}

nb_tensor *nb_argsort(nb_tensor *input, int dim, bool descending)
{
    return sort_op(NULL, input, 0, dim, descending, false, NULL);
}

nb_tensor *nb_topk(nb_tensor *input, int64_t k, int dim, bool largest, nb_tensor **indices)
{
    return sort_op(&op_topk, input, k, dim, largest, true, indices);
}
