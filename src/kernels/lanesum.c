/* kernels/lanesum.c — the double-precision lane sums that several levels share
 * (reductions, loss reductions, gradient norms), compiled once per ISA. The
 * clones are static: GCC would give the ifunc of an extern target_clones
 * function default visibility, exporting it from the shared library. */
#include "kernels/lanesum.h"
#include "kernels/simd.h"

NB_VECTORIZE static double sum_d(const nb_real *restrict x, int64_t n)
{
    double s;
    NB_LANE_SUM_AS(double, s, n, (double)x[nb_i]);
    return s;
}

NB_VECTORIZE static double sumsq_d(const nb_real *restrict x, int64_t n)
{
    double s;
    NB_LANE_SUM_AS(double, s, n, (double)x[nb_i] * (double)x[nb_i]);
    return s;
}

double nb_sum_d(const nb_real *x, int64_t n) { return sum_d(x, n); }
double nb_sumsq_d(const nb_real *x, int64_t n) { return sumsq_d(x, n); }
