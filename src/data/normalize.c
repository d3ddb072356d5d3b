/* data/normalize.c — per-feature normalisation fitted on one tensor (the
 * training split) and applied to others: standardisation (mean/std, computed
 * in double, two passes) and min-max scaling; plus a plain in-place scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "nabla/data.h"

/* A norm with shift and scale shaped like a row of x. */
static nb_norm *norm_for(const char *op, const nb_tensor *x)
{
    if (!nb_check_input(op, 1, x))
        return NULL;
    if (x->ndim < 1 || x->shape[0] < 1)
        return nb_error(NB_ERR_SHAPE, "%s: x of shape %s has no rows to compute statistics from", op,
                        nb_shape_fmt(x));
    nb_norm *norm = calloc(1, sizeof *norm);
    if (!norm)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", op);
    norm->shift = nb_tensor_alloc(op, x->ndim - 1, x->shape + 1, true);
    norm->scale = norm->shift ? nb_tensor_alloc(op, x->ndim - 1, x->shape + 1, true) : NULL;
    if (!norm->scale) {
        nb_norm_free(norm);
        return NULL;
    }
    return norm;
}

/* Apply a freshly fitted norm to x; frees it on failure. */
static nb_norm *fitted(nb_norm *norm, nb_tensor *x)
{
    if (nb_norm_apply_(norm, x))
        return norm;
    nb_norm_free(norm);
    return NULL;
}

nb_norm *nb_standardize(nb_tensor *x)
{
    nb_norm *norm = norm_for("standardize", x);
    if (!norm)
        return NULL;
    int64_t n = x->shape[0], f = norm->shift->numel;
    double *acc = calloc((size_t)(f ? f : 1), 2 * sizeof *acc);
    if (!acc) {
        nb_norm_free(norm);
        return nb_error(NB_ERR_MEMORY, "standardize: out of memory");
    }
    double *mean = acc, *var = acc + f;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++)
            mean[j] += x->data[i * f + j];
    for (int64_t j = 0; j < f; j++)
        mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            double d = x->data[i * f + j] - mean[j];
            var[j] += d * d;
        }
    for (int64_t j = 0; j < f; j++) {
        double sd = sqrt(var[j] / (double)n);
        norm->shift->data[j] = (nb_real)mean[j];
        norm->scale->data[j] = sd > 0 ? (nb_real)sd : 1;
    }
    free(acc);
    return fitted(norm, x);
}

nb_norm *nb_minmax(nb_tensor *x)
{
    nb_norm *norm = norm_for("minmax", x);
    if (!norm)
        return NULL;
    int64_t n = x->shape[0], f = norm->shift->numel;
    nb_real *lo = norm->shift->data, *range = norm->scale->data;
    memcpy(lo, x->data, (size_t)f * sizeof(nb_real));
    memcpy(range, x->data, (size_t)f * sizeof(nb_real)); /* the max, for now */
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            nb_real v = x->data[i * f + j];
            lo[j] = v < lo[j] ? v : lo[j];
            range[j] = v > range[j] ? v : range[j];
        }
    for (int64_t j = 0; j < f; j++)
        range[j] = range[j] > lo[j] ? range[j] - lo[j] : 1;
    return fitted(norm, x);
}

nb_tensor *nb_norm_apply_(const nb_norm *norm, nb_tensor *x)
{
    if (!norm)
        return nb_error(NB_ERR_NULL, "norm_apply_: norm is NULL");
    if (!nb_check_input("norm_apply_", 1, norm->shift) || !nb_check_input("norm_apply_", 1, norm->scale) ||
        !nb_check_input("norm_apply_", 2, x))
        return NULL;
    const nb_tensor *s = norm->shift;
    bool rows_match = x->ndim == s->ndim + 1 && nb_same_shape(s, norm->scale) &&
                      memcmp(x->shape + 1, s->shape, (size_t)s->ndim * sizeof s->shape[0]) == 0;
    if (!rows_match)
        return nb_error(NB_ERR_SHAPE, "norm_apply_: x of shape %s does not have rows of shape %s (scale %s)",
                        nb_shape_fmt(x), nb_shape_fmt(s), nb_shape_fmt(norm->scale));
    int64_t f = s->numel, n = f ? x->numel / f : 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++)
            x->data[i * f + j] = (x->data[i * f + j] - s->data[j]) / norm->scale->data[j];
    return x;
}

void nb_norm_free(nb_norm *norm)
{
    if (!norm)
        return;
    nb_free(norm->shift);
    nb_free(norm->scale);
    free(norm);
}

nb_tensor *nb_scale_(nb_tensor *x, double factor)
{
    if (!nb_check_input("scale_", 1, x))
        return NULL;
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)(x->data[i] * factor);
    return x;
}
