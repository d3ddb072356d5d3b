/* kernels/lanesum.h — sums whose rounding is fixed by the code, not by
 * the thread count or the instruction set: 16 independent accumulators (the
 * lanes of two AVX2 / one AVX-512 register, so the loop vectorizes without
 * -ffast-math), folded in a fixed order. Callers that reduce large tensors cut
 * them into blocks of NB_SUM_BLOCK elements, the same blocks for 1 or N
 * threads, and add the block sums in order. */
#ifndef NB_KERNELS_LANESUM_H
#define NB_KERNELS_LANESUM_H

#include <stdint.h>
#include "nabla/config.h"

enum { NB_SUM_BLOCK = 1 << 14, NB_LANES = 16 };

/* result = the sum over nb_i in [0, n) of EXPR, an expression in nb_i, with
 * accumulators of type T (nb_real, or double for long sums). */
#define NB_LANE_SUM_AS(T, result, n, EXPR)                                                                   \
    do {                                                                                                     \
        T nb_acc_[NB_LANES] = {0};                                                                           \
        int64_t nb_n_ = (n), nb_b_ = 0;                                                                      \
        for (; nb_b_ + NB_LANES <= nb_n_; nb_b_ += NB_LANES)                                                 \
            for (int64_t nb_i = nb_b_; nb_i < nb_b_ + NB_LANES; nb_i++)                                      \
                nb_acc_[nb_i - nb_b_] += (EXPR);                                                             \
        for (int64_t nb_i = nb_b_; nb_i < nb_n_; nb_i++)                                                     \
            nb_acc_[nb_i - nb_b_] += (EXPR);                                                                 \
        for (int nb_w_ = NB_LANES / 2; nb_w_ > 0; nb_w_ /= 2)                                                \
            for (int nb_k_ = 0; nb_k_ < nb_w_; nb_k_++)                                                      \
                nb_acc_[nb_k_] += nb_acc_[nb_k_ + nb_w_];                                                    \
        (result) = nb_acc_[0];                                                                               \
    } while (0)

#define NB_LANE_SUM(result, n, EXPR) NB_LANE_SUM_AS(nb_real, result, n, EXPR)

static inline nb_real nb_lane_sum(const nb_real *v, int64_t n)
{
    nb_real s;
    NB_LANE_SUM(s, n, v[nb_i]);
    return s;
}

static inline nb_real nb_lane_dot(const nb_real *a, const nb_real *b, int64_t n)
{
    nb_real s;
    NB_LANE_SUM(s, n, a[nb_i] * b[nb_i]);
    return s;
}

/* Double-precision sums of n values (and of their squares), for reductions
 * and norms over whole tensors; vectorized (kernels/lanesum.c). */
double nb_sum_d(const nb_real *x, int64_t n);
double nb_sumsq_d(const nb_real *x, int64_t n);

#endif
