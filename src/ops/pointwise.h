/* ops/pointwise.h — the shape every pointwise op shares: y = f(x; p) forward,
 * dx += dy * f'(x, y; p) backward, as two vectorized loops. An op (or an
 * activation) writes its mathematics as two static inline functions and one
 * NB_DEFINE_POINTWISE line; nb_pointwise() does the rest (output, threads, node). */
#ifndef NB_OPS_POINTWISE_H
#define NB_OPS_POINTWISE_H

#include "ops/op.h"
#include "kernels/simd.h"

#define NB_POINTWISE_MAX_PARAMS 4

typedef struct nb_pointwise_op {
    nb_op op; /* first: nodes point at it */
    void (*forward)(nb_real *restrict y, const nb_real *restrict x, int64_t n, const nb_real *p);
    /* dx[i] += dy[i] * f'(x[i]) (given y[i] = f(x[i]) too) */
    void (*backward)(nb_real *restrict dx, const nb_real *restrict x, const nb_real *restrict y,
                     const nb_real *restrict dy, int64_t n, const nb_real *p);
    int n_params;
    /* NULL, or the check of the parameters (records the error, returns false) */
    bool (*check)(const nb_tensor *x, const nb_real *p);
} nb_pointwise_op;

/* Apply pw to x with its scalar parameters p (n_params of them). */
nb_tensor *nb_pointwise(const nb_pointwise_op *pw, nb_tensor *x, const nb_real *p);
void nb_pointwise_backward(nb_node *n);

/* Define nb_pw_<name> from
 *   static inline nb_real FWD(nb_real x, const nb_real *p)               -> f(x)
 *   static inline nb_real BWD(nb_real x, nb_real y, nb_real dy, const nb_real *p) -> dy * f'(x)
 * NB_DEFINE_POINTWISE_FMA: the same with a*b + c contracted to a fused
 * multiply-add in the AVX2 and AVX-512 clones (NB_VECTORIZE_FMA, kernels/simd.h),
 * for the transcendental activations, whose loops are bound by the latency of
 * their polynomial chains. */
#define NB_DEFINE_POINTWISE(name, FWD, BWD, nparams)                                                         \
    NB__DEFINE_POINTWISE(name, FWD, BWD, nparams, NB_VECTORIZE, NULL)
#define NB_DEFINE_POINTWISE_FMA(name, FWD, BWD, nparams)                                                     \
    NB__DEFINE_POINTWISE(name, FWD, BWD, nparams, NB_VECTORIZE_FMA, NULL)
/* ... with CHECK(x, p), which nb_pointwise() runs before anything else */
#define NB_DEFINE_POINTWISE_CHECKED(name, FWD, BWD, nparams, CHECK)                                          \
    NB__DEFINE_POINTWISE(name, FWD, BWD, nparams, NB_VECTORIZE, CHECK)
#define NB_DEFINE_POINTWISE_FMA_CHECKED(name, FWD, BWD, nparams, CHECK)                                      \
    NB__DEFINE_POINTWISE(name, FWD, BWD, nparams, NB_VECTORIZE_FMA, CHECK)
#define NB__DEFINE_POINTWISE(name, FWD, BWD, nparams, ATTR, CHECK)                                           \
    enum { name##_n_params = nparams };                                                                      \
    ATTR static void name##_forward(nb_real *restrict y, const nb_real *restrict x, int64_t n,               \
                                    const nb_real *p)                                                        \
    {                                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                                      \
            y[i] = FWD(x[i], p);                                                                             \
    }                                                                                                        \
    ATTR static void name##_backward(nb_real *restrict dx, const nb_real *restrict x,                        \
                                     const nb_real *restrict y, const nb_real *restrict dy, int64_t n,       \
                                     const nb_real *p)                                                       \
    {                                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                                      \
            dx[i] += BWD(x[i], y[i], dy[i], p);                                                              \
    }                                                                                                        \
    const nb_pointwise_op nb_pw_##name = {                                                                   \
        {#name, nb_pointwise_backward}, name##_forward, name##_backward, nparams, CHECK}

#endif
