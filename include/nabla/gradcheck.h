/* nabla/gradcheck.h — nb_gradcheck, the counterpart of torch.autograd.gradcheck:
 * central finite differences against the analytic gradient of every input.
 * Meaningful in the float64 build (link nabla64). */
#ifndef NABLA_GRADCHECK_H
#define NABLA_GRADCHECK_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* The function under test: builds its output from the inputs with nabla ops. */
typedef nb_tensor *(*nb_gradcheck_fn)(nb_tensor *const *inputs, int n_inputs, void *ctx);

/* Options, made by NB_GRADCHECK_OPTS(...) with torch.autograd.gradcheck's
 * defaults: NB_GRADCHECK_OPTS(.atol = 0, .quiet = true). */
typedef struct nb_gradcheck_opts {
    uint32_t nb_tag;
    double eps;  /* finite-difference step (> 0), default 1e-6 */
    double atol; /* default 1e-5 */
    double rtol; /* default 1e-3 */
    bool quiet;  /* do not print the report of a failure to stderr */
} nb_gradcheck_opts;
#define NB_GRADCHECK_OPTS(...)                                                                               \
    NB_OPTS_(nb_gradcheck_opts, .eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, __VA_ARGS__)
nb_gradcheck_opts nb_gradcheck_defaults(void);

typedef struct nb_gradcheck_result {
    bool ok;
    int64_t checked; /* gradient elements compared */
    int64_t nonzero; /* of which had a non-zero numeric or analytic value */
    /* The worst element: largest |analytic - numeric| - (atol + rtol |numeric|). */
    int worst_input;
    int64_t worst_index;
    double analytic, numeric;
    char message[256]; /* a sentence describing the worst element */
} nb_gradcheck_result;

/* Checks d(sum(fn(inputs) * w))/d(input) for every input with requires_grad,
 * w a fixed pseudo-random weighting (so non-scalar outputs are checked in every
 * component). Inputs are modified during the check and restored. */
nb_gradcheck_result nb_gradcheck(nb_gradcheck_fn fn, int n_inputs, nb_tensor *const *inputs, void *ctx,
                                 nb_gradcheck_opts opts);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
