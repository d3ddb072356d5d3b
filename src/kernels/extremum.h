/* kernels/extremum.h — the vector kernels of reductions along a dim: the
 * first index of a row's maximum or minimum (NaN first), and per-column sums
 * and arg-extrema over strided rows. Static: each is compiled into the one
 * reduction file that includes it, with its NB_VECTORIZE clones. */
#ifndef NB_KERNELS_EXTREMUM_H
#define NB_KERNELS_EXTREMUM_H

#include <string.h>
#include "kernels/simd.h"
#include "nabla/config.h"

enum { NB_ARG_LANES = 16, NB_ARG_SCAN = 256, NB_COL_TILE = 256 };

/* v beats the current extremum b: strictly (so the first one stays), and a NaN
 * beats any number. */
static inline bool nb_beats(bool is_max, nb_real v, nb_real b)
{
    return (is_max ? v > b : v < b) || (v != v && b == b);
}

/* Floats compared as integers: for non-NaN values, nb_key(nb_bits(v)) orders as v
 * does except that -0 < +0 (harmless below: the value found is then looked up
 * with ==, which equates them). GCC vectorizes integer max/min, but not float
 * ones without -ffinite-math-only. key is its own inverse. */
#ifdef NABLA_F64
typedef int64_t nb_bits;
#define NB_MAGNITUDE INT64_MAX
#define NB_INF_BITS INT64_C(0x7ff0000000000000)
#else
typedef int32_t nb_bits;
#define NB_MAGNITUDE INT32_MAX
#define NB_INF_BITS INT32_C(0x7f800000)
#endif

static inline nb_bits nb_bits_of(nb_real v)
{
    nb_bits b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline nb_bits nb_key(nb_bits b) { return b < 0 ? b ^ NB_MAGNITUDE : b; }

/* The first i with x[i] == v, or with x[i] a NaN when nan; one must exist.
 * Chunks of NB_ARG_SCAN elements are tested whole (vectorized), then the hit is
 * located in its chunk. */
NB_VECTORIZE static int64_t nb_first_index(const nb_real *restrict x, int64_t n, nb_real v, bool nan)
{
    int64_t i = 0;
    for (; i + NB_ARG_SCAN <= n; i += NB_ARG_SCAN) {
        int hit = 0;
        if (nan)
            for (int j = 0; j < NB_ARG_SCAN; j++)
                hit |= (nb_bits_of(x[i + j]) & NB_MAGNITUDE) > NB_INF_BITS;
        else
            for (int j = 0; j < NB_ARG_SCAN; j++)
                hit |= x[i + j] == v;
        if (hit)
            break;
    }
    while (nan ? x[i] == x[i] : x[i] != v)
        i++;
    return i;
}

/* Index of the first extremum of x[0..n), n >= 1: one vectorized pass for the
 * extremal key per lane and whether a NaN occurs, then the first index holding
 * that value (or the first NaN). */
NB_VECTORIZE static int64_t nb_block_arg(const nb_real *restrict x, int64_t n, bool is_max)
{
    nb_bits m[NB_ARG_LANES];
    int nan = 0;
    int64_t i = 0;
    if (n < 2 * NB_ARG_LANES) { /* short rows (class scores): a plain scan is faster */
        for (int64_t k = 1; k < n; k++)
            i = nb_beats(is_max, x[k], x[i]) ? k : i;
        return i;
    }
    for (int j = 0; j < NB_ARG_LANES; j++)
        m[j] = nb_key(nb_bits_of(x[0]));
    if (is_max) {
        for (; i + NB_ARG_LANES <= n; i += NB_ARG_LANES)
            for (int j = 0; j < NB_ARG_LANES; j++) {
                nb_bits b = nb_bits_of(x[i + j]), k = nb_key(b);
                m[j] = k > m[j] ? k : m[j];
                nan |= (b & NB_MAGNITUDE) > NB_INF_BITS;
            }
    } else {
        for (; i + NB_ARG_LANES <= n; i += NB_ARG_LANES)
            for (int j = 0; j < NB_ARG_LANES; j++) {
                nb_bits b = nb_bits_of(x[i + j]), k = nb_key(b);
                m[j] = k < m[j] ? k : m[j];
                nan |= (b & NB_MAGNITUDE) > NB_INF_BITS;
            }
    }
    for (; i < n; i++) {
        nb_bits b = nb_bits_of(x[i]), k = nb_key(b);
        m[0] = (is_max ? k > m[0] : k < m[0]) ? k : m[0];
        nan |= (b & NB_MAGNITUDE) > NB_INF_BITS;
    }
    if (nan)
        return nb_first_index(x, n, 0, true);
    nb_bits best = m[0];
    for (int j = 1; j < NB_ARG_LANES; j++)
        best = (is_max ? m[j] > best : m[j] < best) ? m[j] : best;
    nb_real v;
    best = nb_key(best);
    memcpy(&v, &best, sizeof v);
    return nb_first_index(x, n, v, false);
}

/* y[i] = (sum over r < d of x[r * stride + i], in double) / divisor, for
 * i < w <= NB_COL_TILE: a running sum per column, vectorized across columns. */
NB_VECTORIZE static void nb_col_sum(nb_real *restrict y, const nb_real *restrict x, int64_t d, int64_t stride,
                                    int64_t w, double divisor)
{
    double acc[NB_COL_TILE];
    for (int64_t i = 0; i < w; i++)
        acc[i] = 0;
    for (int64_t r = 0; r < d; r++)
        for (int64_t i = 0; i < w; i++)
            acc[i] += (double)x[r * stride + i];
    for (int64_t i = 0; i < w; i++)
        y[i] = (nb_real)(acc[i] / divisor);
}

/* best[i], arg[i]: the first extremum of column i of x[r * stride + i], r < d. */
NB_VECTORIZE static void nb_col_arg(nb_real *restrict best, int64_t *restrict arg, const nb_real *restrict x,
                                    int64_t d, int64_t stride, int64_t w, bool is_max)
{
    for (int64_t i = 0; i < w; i++) {
        best[i] = x[i];
        arg[i] = 0;
    }
    for (int64_t r = 1; r < d; r++)
        for (int64_t i = 0; i < w; i++) {
            nb_real v = x[r * stride + i];
            if (nb_beats(is_max, v, best[i])) {
                best[i] = v;
                arg[i] = r;
            }
        }
}

#endif
