/* ops/slice.c — slice, cat and stack: copies of blocks of rows.
 * With x viewed as [outer, size, inner] around the dim:
 *   slice: y[o, k, i] = x[o, start + k, i]          dx[o, start + k, i] += dy[o, k, i]
 *   cat:   y[o, off_j + k, i] = x_j[o, k, i]        dx_j[o, k, i] += dy[o, off_j + k, i]
 *   stack: cat of the x_j seen with a new dim of size 1 at dim. */
#include <string.h>
#include "nabla/threads.h"
#include "ops/dim.h"

enum { GRAIN = 1 << 14 };

/* ---- slice ---------------------------------------------------------------- */

/* y is x[start : start + y.size(dim)] along dim. */
typedef struct slice_saved {
    int64_t start;
    int dim;
} slice_saved;

static void slice_backward(nb_node *n)
{
    const slice_saved *s = n->saved;
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const nb_tensor *x = n->in[0];
    int64_t outer, size, inner;
    nb_dim_split(x, s->dim, &outer, &size, &inner);
    int64_t len = n->out->shape[s->dim] * inner;
    for (int64_t o = 0; o < outer; o++)
        nb_accumulate(dx + (o * size + s->start) * inner, n->out->grad + o * len, len);
}

static const nb_op op_slice = {"slice", slice_backward};

/* Negative bounds count from the end, as in Python; then 0 <= start <= end
 * <= size must hold, or it is an error (torch.narrow's rule: x[a:b] would
 * clamp, and a bound past the end would silently give fewer rows). */
nb_tensor *nb_slice(nb_tensor *x, int dim, int64_t start, int64_t end)
{
    if (!nb_check_input("slice", 1, x))
        return NULL;
    if (x->ndim == 0)
        return nb_error(NB_ERR_SHAPE, "slice: a rank-0 tensor cannot be sliced");
    int d = nb_op_dim("slice", dim, x, 0);
    if (d < 0)
        return NULL;
    int64_t size = x->shape[d], outer, inner, s0 = start, e0 = end;
    start = start < 0 && start >= -size ? start + size : start;
    end = end < 0 && end >= -size ? end + size : end;
    if (start < 0 || start > size || end < start || end > size)
        return nb_error(NB_ERR_ARG,
                        "slice: %s: start %lld, end %lld of dim %d (size %lld): need 0 <= start <= end <= "
                        "%lld after negative values count from the end",
                        nb_shape_fmt(x), (long long)s0, (long long)e0, d, (long long)size, (long long)size);
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = end - start;
    nb_tensor *y = nb_tensor_alloc("slice", x->ndim, shape, false);
    if (!y)
        return NULL;
    nb_dim_split(x, d, &outer, &size, &inner);
    int64_t len = (end - start) * inner;
    for (int64_t o = 0; o < outer && len > 0; o++)
        memcpy(y->data + o * len, x->data + (o * size + start) * inner, (size_t)len * sizeof(nb_real));
    nb_node *n = nb_record_saved(&op_slice, y, 1, &x, sizeof(slice_saved));
    if (n)
        *(slice_saved *)n->saved = (slice_saved){.start = start, .dim = d};
    return y;
}

/* ---- cat and stack ---------------------------------------------------------- */

/* y is [outer, row]; input j is [outer, numel_j / outer], placed at column off_j. */
typedef struct join {
    int n;
    nb_real *y;
    nb_real **x; /* data (forward) or gradient buffers, NULL if none (backward) */
    const int64_t *chunk;
    int64_t row;
    bool backward;
} join;

static void join_rows(void *c, int64_t begin, int64_t end)
{
    const join *j = c;
    for (int64_t o = begin; o < end; o++) {
        int64_t off = o * j->row;
        for (int i = 0; i < j->n; i++) {
            int64_t len = j->chunk[i];
            if (j->backward && j->x[i])
                nb_accumulate(j->x[i] + o * len, j->y + off, len);
            else if (!j->backward)
                memcpy(j->y + off, j->x[i] + o * len, (size_t)len * sizeof(nb_real));
            off += len;
        }
    }
}

/* Per-input column counts and data or gradient pointers, in step memory. */
static bool join_setup(join *j, int n, nb_tensor *const *xs, int64_t outer, nb_real *y, int64_t row)
{
    int64_t *chunk = nb_step_alloc((size_t)n * sizeof *chunk);
    nb_real **x = nb_step_alloc((size_t)n * sizeof *x);
    if (!chunk || !x)
        return false;
    for (int i = 0; i < n; i++) {
        chunk[i] = xs[i]->numel / outer;
        x[i] = xs[i]->data;
    }
    *j = (join){.n = n, .y = y, .x = x, .chunk = chunk, .row = row};
    return true;
}

static void join_run(join *j, int64_t outer)
{
    nb_parallel_for(outer, GRAIN / (j->row + 1) + 1, join_rows, j);
}

/* The output seen as [outer, ...]: outer blocks, each the inputs' rows in turn. */
typedef struct join_saved {
    int64_t outer;
} join_saved;

static void join_backward(nb_node *n)
{
    int64_t outer = ((const join_saved *)n->saved)->outer;
    join j;
    if (outer == 0 || !join_setup(&j, n->n_in, n->in, outer, n->out->grad, n->out->numel / outer))
        return;
    for (int i = 0; i < n->n_in; i++)
        j.x[i] = nb_input_grad(n, i);
    j.backward = true;
    join_run(&j, outer);
}

static const nb_op op_cat = {"cat", join_backward};
static const nb_op op_stack = {"stack", join_backward};

static bool check_list(const char *op, int n, nb_tensor *const *xs)
{
    if (n < 1 || !xs) {
        nb_error(n < 1 ? NB_ERR_ARG : NB_ERR_NULL, "%s: expected a non-empty list of tensors (n = %d%s)", op,
                 n, xs ? "" : ", xs NULL");
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!nb_check_input(op, i + 1, xs[i]))
            return false;
    return true;
}

static nb_tensor *join_tensors(const nb_op *op, int n, nb_tensor *const *xs, int ndim, const int64_t *shape,
                               int64_t outer)
{
    nb_tensor *y = nb_tensor_alloc(op->name, ndim, shape, false);
    if (!y)
        return NULL;
    join j;
    if (outer > 0 && y->numel > 0) {
        if (!join_setup(&j, n, xs, outer, y->data, y->numel / outer))
            return NULL;
        join_run(&j, outer);
    }
    nb_node *node = nb_record_saved(op, y, n, xs, sizeof(join_saved));
    if (node)
        ((join_saved *)node->saved)->outer = outer;
    return y;
}

/* torch.cat: same rank, same sizes except along dim (position = list index). */
nb_tensor *nb_cat(int n, nb_tensor *const *xs, int dim)
{
    if (!check_list("cat", n, xs))
        return NULL;
    const nb_tensor *x0 = xs[0];
    if (x0->ndim == 0)
        return nb_error(NB_ERR_SHAPE, "cat: the tensor at position 0 is rank-0 and cannot be concatenated");
    int d = nb_op_dim("cat", dim, x0, 0);
    if (d < 0)
        return NULL;
    int64_t shape[NB_MAX_DIMS], outer, size, inner;
    memcpy(shape, x0->shape, sizeof shape);
    for (int i = 1; i < n; i++) {
        const nb_tensor *x = xs[i];
        if (x->ndim != x0->ndim)
            return nb_error(NB_ERR_SHAPE, "cat: %s and %s at position %d: ranks differ (%d vs %d)",
                            nb_shape_fmt(x0), nb_shape_fmt(x), i, x0->ndim, x->ndim);
        for (int k = 0; k < x->ndim; k++)
            if (k != d && x->shape[k] != x0->shape[k])
                return nb_error(NB_ERR_SHAPE,
                                "cat: %s and %s at position %d: sizes must match except in dim %d "
                                "(dim %d: %lld vs %lld)",
                                nb_shape_fmt(x0), nb_shape_fmt(x), i, d, k, (long long)x0->shape[k],
                                (long long)x->shape[k]);
        if (shape[d] > NB_MAX_NUMEL - x->shape[d])
            return nb_error(NB_ERR_SHAPE, "cat: %s and %s at position %d: dim %d grows beyond %lld",
                            nb_shape_fmt(x0), nb_shape_fmt(x), i, d, (long long)NB_MAX_NUMEL);
        shape[d] += x->shape[d];
    }
    nb_dim_split(x0, d, &outer, &size, &inner);
    return join_tensors(&op_cat, n, xs, x0->ndim, shape, outer);
}

/* torch.stack: same shapes; the new dim of size n is inserted at dim (0..rank). */
nb_tensor *nb_stack(int n, nb_tensor *const *xs, int dim)
{
    if (!check_list("stack", n, xs))
        return NULL;
    const nb_tensor *x0 = xs[0];
    int d = nb_op_dim("stack", dim, x0, 1);
    if (d < 0)
        return NULL;
    for (int i = 1; i < n; i++)
        if (!nb_same_shape(xs[i], x0))
            return nb_error(NB_ERR_SHAPE, "stack: %s and %s at position %d: all shapes must be equal",
                            nb_shape_fmt(x0), nb_shape_fmt(xs[i]), i);
    if (x0->ndim == NB_MAX_DIMS)
        return nb_error(NB_ERR_SHAPE, "stack: %s: the result would have more than %d dims", nb_shape_fmt(x0),
                        NB_MAX_DIMS);
    int64_t shape[NB_MAX_DIMS], outer = 1;
    for (int k = 0, m = 0; k <= x0->ndim; k++) {
        if (k == d)
            shape[k] = n;
        else
            shape[k] = x0->shape[m++];
        if (k < d)
            outer *= shape[k];
    }
    return join_tensors(&op_stack, n, xs, x0->ndim + 1, shape, outer);
}
