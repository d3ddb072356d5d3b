/* tensor.c — tensor headers and buffers (heap or step arena), the check that
 * a tensor is usable (not NULL, not from an ended step), the creation
 * functions, fills and copies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

bool nb_check_input(const char *op, int i, const nb_tensor *t)
{
    if (!t) {
        if (nb_last_error() == NB_OK)
            nb_error(NB_ERR_NULL, "%s: argument %d is NULL", op, i);
        return false;
    }
    if (nb_tensor_stale(t)) {
        nb_error(
            NB_ERR_STATE,
            "%s: argument %d is a step tensor freed by nb_step_end() (made in step %llu, now step %llu); "
            "keep it with nb_keep()",
            op, i, (unsigned long long)t->step, (unsigned long long)nb_step_number());
        return false;
    }
    return true;
}

/* The product of the non-zero sizes is bounded too: a shape [0, 2^62, 2^62]
 * holds no element, but flatten or a reduction would multiply its sizes. */
int64_t nb_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        if (n > NB_MAX_NUMEL / shape[i])
            return -1;
        n *= shape[i];
    }
    return empty ? 0 : n;
}

int nb_norm_dim(int dim, int ndim)
{
    int d = dim < 0 ? dim + ndim : dim;
    return d >= 0 && d < ndim ? d : -1;
}

char *nb_shape_str(const nb_tensor *t, char *buf, size_t size)
{
    size_t k = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!t) {
        snprintf(buf, size, "NULL");
        return buf;
    }
    k += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

const char *nb_dims_fmt(int ndim, const int64_t *shape)
{
    static _Thread_local char ring[4][8 + 21 * NB_MAX_DIMS];
    static _Thread_local int next;
    nb_tensor t = {.ndim = ndim > NB_MAX_DIMS ? NB_MAX_DIMS : (ndim < 0 ? 0 : ndim)};
    for (int i = 0; i < t.ndim; i++)
        t.shape[i] = shape[i];
    char *buf = ring[next++ & 3];
    return nb_shape_str(&t, buf, sizeof ring[0]);
}

const char *nb_shape_fmt(const nb_tensor *t) { return t ? nb_dims_fmt(t->ndim, t->shape) : "NULL"; }

static bool check_shape(const char *op, int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > NB_MAX_DIMS) {
        nb_error(NB_ERR_ARG, "%s: rank %d is outside 0..%d", op, ndim, NB_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        nb_error(NB_ERR_NULL, "%s: shape is NULL for rank %d", op, ndim);
        return false;
    }
    *numel = nb_shape_numel(ndim, shape);
    for (int i = 0; i < ndim && *numel < 0; i++)
        if (shape[i] < 0) {
            nb_error(NB_ERR_ARG, "%s: shape %s has a negative size (%lld at dim %d)", op,
                     nb_dims_fmt(ndim, shape), (long long)shape[i], i);
            return false;
        }
    if (*numel < 0) {
        nb_error(NB_ERR_ARG, "%s: shape %s: the product of its non-zero sizes exceeds %lld elements", op,
                 nb_dims_fmt(ndim, shape), (long long)NB_MAX_NUMEL);
        return false;
    }
    return true;
}

nb_tensor *nb_tensor_alloc(const char *op, int ndim, const int64_t *shape, bool persistent)
{
    int64_t numel;
    if (!check_shape(op, ndim, shape, &numel))
        return NULL;
    size_t bytes = (size_t)numel * sizeof(nb_real);
    nb_tensor *t;
    if (persistent) {
        t = calloc(1, sizeof *t);
        nb_real *data = t ? nb_aligned_alloc(bytes) : NULL;
        if (!data) {
            free(t);
            return nb_error(NB_ERR_MEMORY, "%s: out of memory for a tensor of shape %s", op,
                            nb_dims_fmt(ndim, shape));
        }
        t->data = data;
        t->persistent = true;
    } else {
        enum { HEADER = (sizeof(nb_tensor) + NB_ALIGN - 1) / NB_ALIGN * NB_ALIGN };
        if (bytes > SIZE_MAX - HEADER)
            return nb_error(NB_ERR_MEMORY, "%s: tensor of shape %s is too large", op,
                            nb_dims_fmt(ndim, shape));
        unsigned char *block = nb_arena_alloc(HEADER + bytes); /* header, then data */
        if (!block)
            return NULL;
        t = (nb_tensor *)block;
        memset(t, 0, sizeof *t);
        t->data = (nb_real *)(block + HEADER);
        t->step = nb_step_number();
        if (nb_stale_guard_on())
            nb_stale_guard_track(t->data, bytes);
    }
    t->owns_data = true;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    return t;
}

nb_tensor *nb_tensor_view_of(const char *op, nb_tensor *base, int ndim, const int64_t *shape)
{
    int64_t numel;
    if (!check_shape(op, ndim, shape, &numel))
        return NULL;
    nb_tensor *t = nb_arena_alloc(sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->data = base->data;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    t->step = nb_step_number();
    return t;
}

nb_tensor *nb_empty(int ndim, const int64_t *shape) { return nb_tensor_alloc("empty", ndim, shape, true); }

nb_tensor *nb_fill_(nb_tensor *t, nb_real value)
{
    if (!nb_check_input("fill_", 1, t))
        return NULL;
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = value;
    return t;
}

nb_tensor *nb_full(int ndim, const int64_t *shape, nb_real value)
{
    nb_tensor *t = nb_tensor_alloc("full", ndim, shape, true);
    return t ? nb_fill_(t, value) : NULL;
}

nb_tensor *nb_zeros(int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_tensor_alloc("zeros", ndim, shape, true);
    if (t)
        memset(t->data, 0, (size_t)t->numel * sizeof(nb_real));
    return t;
}

nb_tensor *nb_ones(int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_tensor_alloc("ones", ndim, shape, true);
    return t ? nb_fill_(t, 1) : NULL;
}

nb_tensor *nb_scalar(nb_real value) { return nb_full(0, NULL, value); }

nb_tensor *nb_from_array(const nb_real *values, int ndim, const int64_t *shape)
{
    if (!values)
        return nb_error(NB_ERR_NULL, "from_array: values is NULL");
    nb_tensor *t = nb_tensor_alloc("from_array", ndim, shape, true);
    if (t)
        memcpy(t->data, values, (size_t)t->numel * sizeof(nb_real));
    return t;
}

/* torch.arange: ceil((end - start) / step) values start + i * step. */
nb_tensor *nb_arange(double start, double end, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step))
        return nb_error(NB_ERR_ARG, "arange: start %g, end %g, step %g: step must be non-zero and all finite",
                        start, end, step);
    double count = ceil((end - start) / step);
    if (count < 0)
        return nb_error(NB_ERR_ARG, "arange: start %g, end %g, step %g: step has the wrong sign", start, end,
                        step);
    if (count > (double)(INT64_MAX / 16))
        return nb_error(NB_ERR_ARG, "arange: %g elements are too many", count);
    int64_t n = (int64_t)count;
    nb_tensor *t = nb_tensor_alloc("arange", 1, &n, true);
    if (t)
        for (int64_t i = 0; i < n; i++)
            t->data[i] = (nb_real)(start + (double)i * step);
    return t;
}

/* torch.linspace: steps values from start to end inclusive; the second half is
 * computed from the end so that the last value is exactly `end`. */
nb_tensor *nb_linspace(double start, double end, int64_t steps)
{
    if (steps < 0)
        return nb_error(NB_ERR_ARG, "linspace: steps %lld must be non-negative", (long long)steps);
    nb_tensor *t = nb_tensor_alloc("linspace", 1, &steps, true);
    if (!t)
        return NULL;
    double delta = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    int64_t half = steps == 1 ? 1 : steps / 2; /* one step: just start, as torch */
    for (int64_t i = 0; i < steps; i++)
        t->data[i] = (nb_real)(i < half ? start + delta * (double)i : end - delta * (double)(steps - 1 - i));
    return t;
}

nb_tensor *nb_uniform_(nb_tensor *t, double low, double high, nb_generator *g)
{
    if (!nb_check_input("uniform_", 1, t))
        return NULL;
    if (!g)
        g = nb_default_generator();
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)(low + (high - low) * nb_generator_uniform(g));
    return t;
}

nb_tensor *nb_normal_(nb_tensor *t, double mean, double std, nb_generator *g)
{
    if (!nb_check_input("normal_", 1, t))
        return NULL;
    if (!g)
        g = nb_default_generator();
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)(mean + std * nb_generator_normal(g));
    return t;
}

nb_tensor *nb_rand(nb_generator *g, int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_tensor_alloc("rand", ndim, shape, true);
    return t ? nb_uniform_(t, 0, 1, g) : NULL;
}

nb_tensor *nb_randn(nb_generator *g, int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_tensor_alloc("randn", ndim, shape, true);
    return t ? nb_normal_(t, 0, 1, g) : NULL;
}

nb_tensor *nb_copy_(nb_tensor *dst, const nb_tensor *src)
{
    if (!nb_check_input("copy_", 1, dst) || !nb_check_input("copy_", 2, src))
        return NULL;
    if (dst->numel != src->numel)
        return nb_error(NB_ERR_SHAPE, "copy_: %s from %s: element counts differ (%lld vs %lld)",
                        nb_shape_fmt(dst), nb_shape_fmt(src), (long long)dst->numel, (long long)src->numel);
    memmove(dst->data, src->data, (size_t)src->numel * sizeof(nb_real));
    return dst;
}

nb_tensor *nb_keep(const nb_tensor *t)
{
    if (!nb_check_input("keep", 1, t))
        return NULL;
    nb_tensor *k = nb_tensor_alloc("keep", t->ndim, t->shape, true);
    if (k)
        memcpy(k->data, t->data, (size_t)t->numel * sizeof(nb_real));
    return k;
}

nb_tensor *nb_clone(const nb_tensor *t)
{
    nb_tensor *k = nb_keep(t);
    if (k)
        k->requires_grad = t->requires_grad;
    return k;
}

void nb_free(nb_tensor *t)
{
    if (!t || !t->borrowed)
        nb_tensor_destroy(t);
}

void nb_tensor_destroy(nb_tensor *t)
{
    if (!t || !t->persistent)
        return;
    if (t->owns_data)
        free(t->data);
    free(t->grad);
    free(t);
}

nb_real nb_item(const nb_tensor *t)
{
    if (!nb_check_input("item", 1, t))
        return (nb_real)NAN;
    if (t->numel != 1) {
        nb_error(NB_ERR_SHAPE, "item: tensor of shape %s has %lld elements, not 1", nb_shape_fmt(t),
                 (long long)t->numel);
        return (nb_real)NAN;
    }
    return t->data[0];
}

int64_t nb_size(const nb_tensor *t, int dim)
{
    if (!nb_check_input("size", 1, t))
        return -1;
    int d = nb_norm_dim(dim, t->ndim);
    if (d < 0) {
        nb_error(NB_ERR_ARG, "size: dim %d is out of range for shape %s", dim, nb_shape_fmt(t));
        return -1;
    }
    return t->shape[d];
}

bool nb_same_shape(const nb_tensor *a, const nb_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

void nb_accumulate(nb_real *restrict y, const nb_real *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}
