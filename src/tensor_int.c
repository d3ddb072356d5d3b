/* tensor_int.c — integer data (class labels, token ids, indices) into tensors:
 * nabla's tensors hold nb_real, which represents every integer up to 2^24
 * (float32) or 2^53 (float64) exactly; larger magnitudes are refused rather
 * than rounded. */
#include "core.h"

/* The largest integer magnitude nb_real holds exactly. */
#define NB_EXACT_INT ((int64_t)1 << (sizeof(nb_real) == sizeof(float) ? 24 : 53))

/* values: int64_t (wide) or int32_t elements. */
static nb_tensor *from_ints(const char *op, const void *values, bool wide, int ndim, const int64_t *shape)
{
    if (!values)
        return nb_error(NB_ERR_NULL, "%s: values is NULL", op);
    nb_tensor *t = nb_tensor_alloc(op, ndim, shape, true);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = wide ? ((const int64_t *)values)[i] : ((const int32_t *)values)[i];
        if (v > NB_EXACT_INT || v < -NB_EXACT_INT) {
            nb_free(t);
            return nb_error(NB_ERR_ARG,
                            "%s: value %lld at position %lld is beyond +-%lld, the integers " NB_REAL_NAME
                            " holds exactly",
                            op, (long long)v, (long long)i, (long long)NB_EXACT_INT);
        }
        t->data[i] = (nb_real)v;
    }
    return t;
}

nb_tensor *nb_from_int64(const int64_t *values, int ndim, const int64_t *shape)
{
    return from_ints("from_int64", values, true, ndim, shape);
}

nb_tensor *nb_from_int32(const int32_t *values, int ndim, const int64_t *shape)
{
    return from_ints("from_int32", values, false, ndim, shape);
}
