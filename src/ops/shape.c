/* ops/shape.c — ops that rearrange without arithmetic: reshape, view and
 * flatten (views sharing x's data: y = x read with another shape, dx += dy),
 * permute and transpose (contiguous copies: y[i_0..i_n] = x[i_perm^-1...],
 * dx = dy permuted back by the inverse permutation). */
#include <string.h>
#include "nabla/threads.h"
#include "ops/dim.h"

enum { GRAIN = 1 << 14 };

/* ---- views ---------------------------------------------------------------- */

typedef struct view_job {
    nb_real *dx;
    const nb_real *dy;
    bool fresh; /* dx holds nothing of this pass yet: copied into, not added to */
} view_job;

static void view_range(void *ctx, int64_t b, int64_t e)
{
    const view_job *j = ctx;
    if (j->fresh)
        memcpy(j->dx + b, j->dy + b, (size_t)(e - b) * sizeof *j->dx);
    else
        nb_accumulate(j->dx + b, j->dy + b, e - b);
}

static void view_backward(nb_node *n)
{
    view_job j = {.dy = n->out->grad};
    j.dx = nb_input_grad_fresh(n, 0, &j.fresh);
    if (j.dx)
        nb_parallel_for(n->out->numel, GRAIN, view_range, &j);
}

static const nb_op op_reshape = {"reshape", view_backward};
static const nb_op op_view = {"view", view_backward};
static const nb_op op_flatten = {"flatten", view_backward};

static nb_tensor *view_as(const nb_op *op, nb_tensor *x, int ndim, const int64_t *shape)
{
    nb_tensor *y = nb_tensor_view_of(op->name, x, ndim, shape);
    if (y)
        nb_record(op, y, 1, &x);
    return y;
}

/* shape with its one -1 replaced by what makes numel(x) elements (torch.reshape's
 * infer_size), into out; false with an error recorded. */
static bool infer_shape(const char *op, const nb_tensor *x, int ndim, const int64_t *shape, int64_t *out)
{
    if (ndim < 0 || ndim > NB_MAX_DIMS) {
        nb_error(NB_ERR_ARG, "%s: %s to rank %d: rank is outside 0..%d", op, nb_shape_fmt(x), ndim,
                 NB_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        nb_error(NB_ERR_NULL, "%s: %s: shape is NULL for rank %d", op, nb_shape_fmt(x), ndim);
        return false;
    }
    int infer = -1;
    int64_t known = 1; /* product of the given sizes; -1 if it overflows */
    for (int i = 0; i < ndim; i++) {
        out[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] == -1) {
            nb_error(NB_ERR_ARG, "%s: %s to %s: only one dimension can be inferred", op, nb_shape_fmt(x),
                     nb_dims_fmt(ndim, shape));
            return false;
        } else if (shape[i] < 0) {
            nb_error(NB_ERR_ARG, "%s: %s to %s: invalid size %lld at dim %d", op, nb_shape_fmt(x),
                     nb_dims_fmt(ndim, shape), (long long)shape[i], i);
            return false;
        } else if (known >= 0) {
            known = shape[i] && known > INT64_MAX / shape[i] ? -1 : known * shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0) {
            nb_error(NB_ERR_ARG, "%s: %s to %s: the size of dim %d is ambiguous with 0 elements", op,
                     nb_shape_fmt(x), nb_dims_fmt(ndim, shape), infer);
            return false;
        }
        if (known < 0 || x->numel % known != 0) {
            nb_error(NB_ERR_SHAPE, "%s: %s to %s: %lld elements cannot be divided into blocks of %s", op,
                     nb_shape_fmt(x), nb_dims_fmt(ndim, shape), (long long)x->numel,
                     known < 0 ? "more elements" : nb_dims_fmt(1, &known));
            return false;
        }
        out[infer] = x->numel / known;
    } else if (known != x->numel) {
        int64_t total = nb_shape_numel(ndim, shape);
        if (total < 0)
            nb_error(NB_ERR_SHAPE, "%s: %s to %s: %lld elements cannot become that many", op, nb_shape_fmt(x),
                     nb_dims_fmt(ndim, shape), (long long)x->numel);
        else
            nb_error(NB_ERR_SHAPE, "%s: %s to %s: %lld elements cannot become %lld", op, nb_shape_fmt(x),
                     nb_dims_fmt(ndim, shape), (long long)x->numel, (long long)total);
        return false;
    }
    return true;
}

static nb_tensor *reshape(const nb_op *op, nb_tensor *x, int ndim, const int64_t *shape)
{
    int64_t out[NB_MAX_DIMS];
    if (!nb_check_input(op->name, 1, x) || !infer_shape(op->name, x, ndim, shape, out))
        return NULL;
    return view_as(op, x, ndim, out);
}

/* Every tensor is contiguous, so view and reshape are the same operation. */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape)
{
    return reshape(&op_reshape, x, ndim, shape);
}
nb_tensor *nb_view(nb_tensor *x, int ndim, const int64_t *shape) { return reshape(&op_view, x, ndim, shape); }

/* torch.flatten: dims start_dim..end_dim merged into one; a rank-0 x becomes [1]. */
nb_tensor *nb_flatten(nb_tensor *x, int start_dim, int end_dim)
{
    if (!nb_check_input("flatten", 1, x))
        return NULL;
    int s = nb_op_dim("flatten", start_dim, x, 0);
    int e = s < 0 ? -1 : nb_op_dim("flatten", end_dim, x, 0);
    if (e < 0)
        return NULL;
    if (s > e)
        return nb_error(NB_ERR_ARG, "flatten: %s: start_dim %d comes after end_dim %d", nb_shape_fmt(x),
                        start_dim, end_dim);
    if (x->ndim == 0)
        return view_as(&op_flatten, x, 1, (const int64_t[]){1});
    int64_t shape[NB_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i <= s || i > e)
            shape[nd++] = x->shape[i];
        else
            shape[nd - 1] *= x->shape[i];
    }
    return view_as(&op_flatten, x, nd, shape);
}

/* ---- permuted copies -------------------------------------------------------- */

/* dst, contiguous with dims sh[], (+)= src read at element strides st[]; dims
 * merged so that the innermost loop is as long as possible. */
typedef struct strided {
    nb_real *dst;
    const nb_real *src;
    int nd;
    int64_t sh[NB_MAX_DIMS], st[NB_MAX_DIMS];
    bool add;
    int p;                       /* tiled: the dim read contiguously (st[p] == 1) */
    int64_t dst_st[NB_MAX_DIMS]; /* tiled: strides of dst */
    int64_t tiles;               /* tiled: tiles along dim p */
} strided;

/* Tile side: TB lines of src and of dst stay in L1 together. Small, because rows
 * a power of two apart share an L1 set (1024 floats = 4 KB apart: all of them). */
enum { TB = 8 };

/* When the last dim is read with a stride and dim p contiguously, the copy is a
 * batch of 2-D transposes: done in TB x TB tiles, a task being one strip of TB
 * indices of dim p (over all of the last dim) of one combination of the other
 * dims. */
static void strided_tiles(void *c, int64_t begin, int64_t end)
{
    const strided *s = c;
    int last = s->nd - 1;
    int64_t P = s->sh[s->p], L = s->sh[last], step = s->st[last], dp = s->dst_st[s->p];
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / s->tiles, i0 = u % s->tiles * TB, i1 = i0 + TB < P ? i0 + TB : P;
        int64_t so = 0, dof = 0;
        for (int k = last - 1; k >= 0; k--) {
            if (k == s->p)
                continue;
            so += o % s->sh[k] * s->st[k];
            dof += o % s->sh[k] * s->dst_st[k];
            o /= s->sh[k];
        }
        for (int64_t j0 = 0; j0 < L; j0 += TB) {
            int64_t j1 = j0 + TB < L ? j0 + TB : L;
            for (int64_t i = i0; i < i1; i++) {
                nb_real *restrict d = s->dst + dof + i * dp;
                const nb_real *restrict x = s->src + so + i;
                if (s->add)
                    for (int64_t j = j0; j < j1; j++)
                        d[j] += x[j * step];
                else
                    for (int64_t j = j0; j < j1; j++)
                        d[j] = x[j * step];
            }
        }
    }
}

static void strided_rows(void *c, int64_t begin, int64_t end)
{
    const strided *s = c;
    int last = s->nd - 1;
    int64_t len = s->sh[last], step = s->st[last];
    int64_t idx[NB_MAX_DIMS], off = 0, q = begin;
    for (int k = last - 1; k >= 0; k--) { /* multi-index of row `begin` */
        idx[k] = q % s->sh[k];
        q /= s->sh[k];
        off += idx[k] * s->st[k];
    }
    for (int64_t row = begin; row < end; row++) {
        nb_real *restrict d = s->dst + row * len;
        const nb_real *restrict x = s->src + off;
        if (s->add)
            for (int64_t i = 0; i < len; i++)
                d[i] += x[i * step];
        else
            for (int64_t i = 0; i < len; i++)
                d[i] = x[i * step];
        for (int k = last - 1; k >= 0; k--) { /* odometer */
            off += s->st[k];
            if (++idx[k] < s->sh[k])
                break;
            off -= s->st[k] * s->sh[k];
            idx[k] = 0;
        }
    }
}

/* dst (+)= src permuted: dst dim k is src dim perm[k] (src contiguous of shape
 * src_shape). */
static void permute_into(nb_real *dst, const nb_real *src, int nd, const int64_t *src_shape, const int *perm,
                         bool add)
{
    int64_t stride[NB_MAX_DIMS], numel = 1;
    for (int k = nd - 1; k >= 0; k--) {
        stride[k] = numel;
        numel *= src_shape[k];
    }
    if (numel == 0)
        return;
    strided s = {.dst = dst, .src = src, .add = add};
    for (int k = 0; k < nd; k++) {
        int64_t size = src_shape[perm[k]], st = stride[perm[k]];
        if (size == 1)
            continue;
        if (s.nd > 0 && s.st[s.nd - 1] == st * size) { /* one run with the previous dim */
            s.sh[s.nd - 1] *= size;
            s.st[s.nd - 1] = st;
        } else {
            s.sh[s.nd] = size;
            s.st[s.nd++] = st;
        }
    }
    if (s.nd == 0) {
        s.sh[0] = 1;
        s.st[0] = 1;
        s.nd = 1;
    }
    int last = s.nd - 1;
    s.p = -1;
    for (int k = last - 1; k >= 0 && s.st[last] != 1; k--) {
        s.dst_st[k] = k == last - 1 ? s.sh[last] : s.dst_st[k + 1] * s.sh[k + 1];
        if (s.st[k] == 1)
            s.p = k;
    }
    int64_t len = s.sh[last];
    if (s.p >= 0 && s.sh[s.p] * len >= TB * TB) {
        s.tiles = (s.sh[s.p] + TB - 1) / TB;
        int64_t units = numel / (s.sh[s.p] * len) * s.tiles;
        nb_parallel_for(units, GRAIN / (TB * len) + 1, strided_tiles, &s);
    } else {
        nb_parallel_for(numel / len, GRAIN / len + 1, strided_rows, &s);
    }
}

/* y's dim k is x's dim perm[k]. */
typedef struct permute_saved {
    int perm[NB_MAX_DIMS];
} permute_saved;

static void permute_backward(nb_node *n)
{
    const permute_saved *s = n->saved;
    bool fresh;
    nb_real *dx = nb_input_grad_fresh(n, 0, &fresh);
    if (!dx)
        return;
    int nd = n->out->ndim, inv[NB_MAX_DIMS];
    for (int k = 0; k < nd; k++)
        inv[s->perm[k]] = k;
    permute_into(dx, n->out->grad, nd, n->out->shape, inv, !fresh);
}

static const nb_op op_permute = {"permute", permute_backward};
static const nb_op op_transpose = {"transpose", permute_backward};

static nb_tensor *permute(const nb_op *op, nb_tensor *x, const int *perm)
{
    int64_t shape[NB_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++)
        shape[k] = x->shape[perm[k]];
    nb_tensor *y = nb_tensor_alloc(op->name, x->ndim, shape, false);
    if (!y)
        return NULL;
    permute_into(y->data, x->data, x->ndim, x->shape, perm, false);
    nb_node *n = nb_record_saved(op, y, 1, &x, sizeof(permute_saved));
    if (n) {
        permute_saved *s = n->saved;
        for (int k = 0; k < x->ndim; k++)
            s->perm[k] = perm[k];
    }
    return y;
}

nb_tensor *nb_permute(nb_tensor *x, const int *dims)
{
    if (!nb_check_input("permute", 1, x))
        return NULL;
    if (x->ndim > 0 && !dims)
        return nb_error(NB_ERR_NULL, "permute: %s: dims is NULL", nb_shape_fmt(x));
    int perm[NB_MAX_DIMS];
    unsigned seen = 0;
    for (int k = 0; k < x->ndim; k++) {
        perm[k] = nb_op_dim("permute", dims[k], x, 0);
        if (perm[k] < 0)
            return NULL;
        if (seen & 1u << perm[k])
            return nb_error(NB_ERR_ARG, "permute: %s: dim %d appears twice in dims", nb_shape_fmt(x),
                            dims[k]);
        seen |= 1u << perm[k];
    }
    return permute(&op_permute, x, perm);
}

nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1)
{
    if (!nb_check_input("transpose", 1, x))
        return NULL;
    int a = nb_op_dim("transpose", dim0, x, 0);
    int b = a < 0 ? -1 : nb_op_dim("transpose", dim1, x, 0);
    if (b < 0)
        return NULL;
    int perm[NB_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++)
        perm[k] = k == a ? b : k == b ? a : k;
    return permute(&op_transpose, x, perm);
}
