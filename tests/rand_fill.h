/* tests/rand_fill.h — the GEMM tests' data: a xorshift64 stream in [-1, 1)
 * and arrays filled from it (the same values on every machine). */
#ifndef NB_TESTS_RAND_FILL_H
#define NB_TESTS_RAND_FILL_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include "nabla/config.h"

static uint64_t rng_state = 88172645463325252ull;

static inline double urand(void)
{ /* xorshift64, in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

/* n values of urand() (at least one element allocated). */
static inline nb_real *alloc_fill(int64_t n)
{
    nb_real *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(nb_real));
    cr_assert_not_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (nb_real)urand();
    return p;
}

#endif
