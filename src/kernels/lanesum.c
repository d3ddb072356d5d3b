/* kernels/lanesum.c — the double-precision lane sums that several levels share
 * (reductions, loss reductions, gradient norms), compiled once per ISA. */
#include "kernels/lanesum.h"
#include "kernels/simd.h"

NB_VECTORIZE double nb_sum_d(const nb_real *restrict x, int64_t n)
{
    double s;
    NB_LANE_SUM_AS(double, s, n, (double)x[nb_i]);
    return s;
}

NB_VECTORIZE double nb_sumsq_d(const nb_real *restrict x, int64_t n)
{
    double s;
    NB_LANE_SUM_AS(double, s, n, (double)x[nb_i] * (double)x[nb_i]);
    return s;
}
