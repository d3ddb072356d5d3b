/* data/rows.c — shuffled index permutations and row gathers. */
#include <string.h>
#include "data/rows.h"

void nb_shuffled_indices(int64_t *idx, int64_t n, nb_generator *g)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nb_generator_below(g, (uint64_t)i + 1);
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

void nb_gather_rows(nb_real *dst, const nb_tensor *t, const int64_t *idx, int64_t n)
{
    size_t row = t->shape[0] ? (size_t)(t->numel / t->shape[0]) : 0;
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * row, t->data + (size_t)idx[i] * row, row * sizeof(nb_real));
}
