/* data/dataset.c — a dataset of (x[i], y[i]) rows over two persistent tensors,
 * and its seeded random split into two datasets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/rows.h"

nb_dataset *nb_dataset_new(nb_tensor *x, nb_tensor *y, bool take_ownership)
{
    if (!nb_check_input("dataset", 1, x))
        return NULL;
    if (!x->persistent || (y && !y->persistent))
        return nb_error(NB_ERR_ARG, "dataset: x and y must be persistent tensors (nb_keep() a step tensor)");
    if (x->ndim == 0 || (y && (y->ndim == 0 || y->shape[0] != x->shape[0])))
        return nb_error(NB_ERR_SHAPE, "dataset: x %s and y %s must have rank >= 1 and the same shape[0]",
                        nb_shape_fmt(x), y ? nb_shape_fmt(y) : "(none)");
    nb_dataset *ds = malloc(sizeof *ds);
    if (!ds)
        return nb_error(NB_ERR_MEMORY, "dataset: out of memory");
    *ds = (nb_dataset){.x = x, .y = y, .owns = take_ownership};
    return ds;
}

int64_t nb_dataset_len(const nb_dataset *ds) { return ds ? ds->x->shape[0] : 0; }

void nb_dataset_free(nb_dataset *ds)
{
    if (!ds)
        return;
    if (ds->owns) {
        nb_free(ds->x);
        nb_free(ds->y);
    }
    free(ds);
}

/* A new tensor holding rows idx[0..n) of t. */
static nb_tensor *gather(const nb_tensor *t, const int64_t *idx, int64_t n)
{
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = n;
    nb_tensor *out = nb_tensor_alloc("dataset_split", t->ndim, shape, true);
    if (out)
        nb_gather_rows(out->data, t, idx, n);
    return out;
}

/* A dataset owning the rows idx[0..n) of ds. */
static nb_dataset *subset(const nb_dataset *ds, const int64_t *idx, int64_t n)
{
    nb_tensor *x = gather(ds->x, idx, n);
    nb_tensor *y = x && ds->y ? gather(ds->y, idx, n) : NULL;
    nb_dataset *out = x && (y || !ds->y) ? nb_dataset_new(x, y, true) : NULL;
    if (!out) {
        nb_free(x);
        nb_free(y);
    }
    return out;
}

int nb_dataset_split(const nb_dataset *ds, double fraction, uint64_t seed, nb_dataset **first,
                     nb_dataset **second)
{
    if (first)
        *first = NULL;
    if (second)
        *second = NULL;
    if (!ds || !first || !second) {
        nb_error(NB_ERR_NULL, "dataset_split: the dataset or an output is NULL");
        return -1;
    }
    if (!(fraction >= 0 && fraction <= 1)) {
        nb_error(NB_ERR_ARG, "dataset_split: fraction %g is outside [0, 1]", fraction);
        return -1;
    }
    int64_t n = nb_dataset_len(ds);
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx) {
        nb_error(NB_ERR_MEMORY, "dataset_split: out of memory for %lld indices", (long long)n);
        return -1;
    }
    nb_generator g;
    nb_generator_seed(&g, seed);
    nb_shuffled_indices(idx, n, &g);
    int64_t k = (int64_t)llround(fraction * (double)n);
    *first = subset(ds, idx, k);
    *second = *first ? subset(ds, idx + k, n - k) : NULL;
    free(idx);
    if (!*second) {
        nb_dataset_free(*first);
        *first = NULL;
        return -1;
    }
    return 0;
}
