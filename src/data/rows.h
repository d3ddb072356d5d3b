/* data/rows.h — what the split and the loader share: random orders of row
 * indices and copying chosen rows. */
#ifndef NB_DATA_ROWS_H
#define NB_DATA_ROWS_H

#include "internal.h"
#include "nabla/data.h"

/* idx[0..n) = 0..n-1 in a random order from g (Fisher-Yates with
 * nb_generator_below: the same order for the same generator state everywhere). */
void nb_shuffled_indices(int64_t *idx, int64_t n, nb_generator *g);
/* dst = rows idx[0..n) of t (a row is t's elements at one index of dim 0), one
 * memcpy per row, the next row prefetched; blocks of rows on the thread pool. */
void nb_gather_rows(nb_real *dst, const nb_tensor *t, const int64_t *idx, int64_t n);

#endif
