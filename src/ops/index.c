/* ops/index.c — rows picked or added by a 1-D index along a dim, as
 * torch.index_select(input, dim, index)
 * (https://pytorch.org/docs/stable/generated/torch.index_select.html) and
 * torch.index_add(input, dim, index, source, alpha)
 * (https://pytorch.org/docs/stable/generated/torch.Tensor.index_add_.html).
 * x is viewed as [outer, S, inner], index holds n integral values in [0, S):
 *   index_select: y[o, i, :] = x[o, index[i], :]                y: [outer, n, inner]
 *                 dx[o, index[i], :] += dy[o, i, :]
 *   index_add:    y = x;  y[o, index[i], :] += alpha source[o, i, :]
 *                 dx = dy;  dsource[o, i, :] += alpha dy[o, index[i], :]
 * Repeated indices add up. The adds are split over the threads by column
 * (o, c) and each column adds its rows in index order, as embedding's
 * backward does: the same sums for any thread count. index gets no gradient. */
#include <string.h>
#include "nabla/threads.h"
#include "ops/dim.h"

typedef struct index_saved {
    int64_t outer, size, inner; /* x as [outer, size, inner] */
    int64_t n;                  /* index entries */
    const int64_t *idx;
    nb_real alpha; /* index_add */
} index_saved;

/* dense [outer, n, inner] and mapped [outer, size, inner]: */
typedef enum dir { GATHER, SCATTER_ADD } dir;
typedef struct rows_job {
    const index_saved *s;
    dir d;
    nb_real *dense, *mapped;
    nb_real scale;
} rows_job;

enum { GRAIN = 1 << 14 };

/* Columns u in [begin, end) (u = o inner + c): GATHER writes dense += scale
 * mapped rows (dense is zeroed first when it is an output); SCATTER_ADD adds
 * scale dense rows into mapped, in index order. */
static void rows_task(void *c, int64_t begin, int64_t end)
{
    const rows_job *j = c;
    const index_saved *s = j->s;
    for (int64_t u = begin; u < end;) {
        int64_t o = u / s->inner, c0 = u % s->inner;
        int64_t c1 = c0 + (end - u) < s->inner ? c0 + (end - u) : s->inner;
        for (int64_t i = 0; i < s->n; i++) {
            nb_real *dn = j->dense + (o * s->n + i) * s->inner,
                    *mp = j->mapped + (o * s->size + s->idx[i]) * s->inner;
            if (j->d == GATHER)
                for (int64_t k = c0; k < c1; k++)
                    dn[k] += j->scale * mp[k];
            else
                for (int64_t k = c0; k < c1; k++)
                    mp[k] += j->scale * dn[k];
        }
        u += c1 - c0;
    }
}

static void run_rows(const index_saved *s, dir d, nb_real *dense, nb_real *mapped, nb_real scale)
{
    rows_job j = {s, d, dense, mapped, scale};
    nb_parallel_for(s->outer * s->inner, GRAIN / (s->n + 1) + 1, rows_task, &j);
}

static void index_select_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (dx)
        run_rows(n->saved, SCATTER_ADD, n->out->grad, dx, 1);
}

static void index_add_backward(nb_node *n)
{
    const index_saved *s = n->saved;
    nb_real *dx = nb_input_grad(n, 0), *dsrc = nb_input_grad(n, 1);
    if (dx)
        nb_accumulate(dx, n->out->grad, n->out->numel);
    if (dsrc)
        run_rows(s, GATHER, dsrc, n->out->grad, s->alpha);
}

static const nb_op op_index_select = {"index_select", index_select_backward};
static const nb_op op_index_add = {"index_add", index_add_backward};

/* Checks x, dim and index, fills s (idx in the step arena); false with an error. */
static bool setup(const char *op, nb_tensor *x, int dim, nb_tensor *index, index_saved *s, int *d)
{
    *d = nb_op_dim(op, dim, x, 0);
    if (*d < 0)
        return false;
    if (index->ndim > 1) {
        nb_error(NB_ERR_SHAPE, "%s: x %s, index %s: index must be 1-D (or rank 0)", op, nb_shape_fmt(x),
                 nb_shape_fmt(index));
        return false;
    }
    *s = (index_saved){.n = index->numel};
    nb_dim_split(x, *d, &s->outer, &s->size, &s->inner);
    int64_t *idx = nb_step_alloc((size_t)(s->n ? s->n : 1) * sizeof *idx);
    if (!idx)
        return false;
    for (int64_t i = 0; i < s->n; i++) {
        nb_real v = index->data[i];
        if (!(v >= 0 && v < (nb_real)s->size) || v != (nb_real)(int64_t)v || (int64_t)v >= s->size) {
            nb_error(
                NB_ERR_ARG,
                "%s: index %s holds %g at position %lld: out of range for dim %d of x %s (valid: integers "
                "0..%lld)",
                op, nb_shape_fmt(index), (double)v, (long long)i, *d, nb_shape_fmt(x),
                (long long)s->size - 1);
            return false;
        }
        idx[i] = (int64_t)v;
    }
    s->idx = idx;
    return true;
}

nb_tensor *nb_index_select(nb_tensor *input, int dim, nb_tensor *index)
{
    if (!nb_check_input("index_select", 1, input) || !nb_check_input("index_select", 3, index))
        return NULL;
    index_saved s;
    int d;
    if (!setup("index_select", input, dim, index, &s, &d))
        return NULL;
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, input->shape, sizeof(int64_t) * (size_t)input->ndim);
    if (input->ndim)
        shape[d] = s.n;
    else if (s.n != 1) /* rank 0 is [1]: one pick, of element 0 */
        return nb_error(NB_ERR_SHAPE, "index_select: x [] has one element: index %s must too",
                        nb_shape_fmt(index));
    nb_tensor *y = nb_tensor_alloc("index_select", input->ndim, shape, false);
    if (!y)
        return NULL;
    memset(y->data, 0, (size_t)y->numel * sizeof *y->data);
    run_rows(&s, GATHER, y->data, input->data, 1);
    nb_node *n = nb_record_saved(&op_index_select, y, 1, &input, sizeof(index_saved));
    if (n)
        *(index_saved *)n->saved = s;
    return y;
}

nb_tensor *nb_index_add(nb_tensor *input, int dim, nb_tensor *index, nb_tensor *source, nb_real alpha)
{
    if (!nb_check_input("index_add", 1, input) || !nb_check_input("index_add", 3, index) ||
        !nb_check_input("index_add", 4, source))
        return NULL;
    index_saved s;
    int d;
    if (!setup("index_add", input, dim, index, &s, &d))
        return NULL;
    bool ok = source->ndim == input->ndim;
    for (int k = 0; ok && k < input->ndim; k++)
        ok = source->shape[k] == (k == d ? s.n : input->shape[k]);
    if (!ok || (input->ndim == 0 && source->numel != s.n))
        return nb_error(
            NB_ERR_SHAPE,
            "index_add: input %s, index %s, source %s: source must be input's shape with dim %d of "
            "size %lld (index's length)",
            nb_shape_fmt(input), nb_shape_fmt(index), nb_shape_fmt(source), d, (long long)s.n);
    nb_tensor *y = nb_tensor_alloc("index_add", input->ndim, input->shape, false);
    if (!y)
        return NULL;
    memcpy(y->data, input->data, (size_t)y->numel * sizeof *y->data);
    s.alpha = alpha;
    run_rows(&s, SCATTER_ADD, source->data, y->data, alpha);
    nb_node *n = nb_record_saved(&op_index_add, y, 2, (nb_tensor *[]){input, source}, sizeof(index_saved));
    if (n)
        *(index_saved *)n->saved = s;
    return y;
}
