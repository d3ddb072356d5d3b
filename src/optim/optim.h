/* optim/optim.h — what the optimizer files share: the optimizer object, its
 * state layout, option defaults, and the per-parameter update hook. */
#ifndef NB_OPTIM_OPTIM_H
#define NB_OPTIM_OPTIM_H

#include <math.h>
#include "internal.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"
#include "nabla/optim.h"

enum { NB_OPTIM_MAX_SLOTS = 3, NB_OPTIM_GRAIN = 1 << 14 };

/* Updates parameter p (whose grad is set) for its step-th update (1, 2, ...);
 * slot[k] is the data of its k-th state buffer. */
typedef void (*nb_optim_update)(const nb_optim *o, nb_tensor *p, nb_real *const *slot, double step);

struct nb_optim {
    const char *name; /* "adam": for error messages */
    nb_optim_update update;
    nb_tensor **params;
    int n_params;
    double lr;
    double initial_lr; /* the base of schedules: lr when the first was made */
    bool has_initial_lr;
    union {
        nb_sgd_opts sgd;
        nb_adam_opts adam;
        nb_rmsprop_opts rmsprop;
        nb_adagrad_opts adagrad;
    } opts;
    bool decoupled; /* AdamW */
    int n_slots;
    /* per parameter i: state[i * (n_slots + 1)] is the rank-0 step count, then
     * the n_slots buffers; names[] runs parallel */
    nb_tensor **state;
    char **names;
};

/* √x in nb_real (sqrtf in the float32 build, so loops stay in float lanes). */
static inline nb_real nb_sqrt_real(nb_real x)
{
#ifdef NABLA_F64
    return sqrt(x);
#else
    return sqrtf(x);
#endif
}

/* v, or dflt when v is +0 (a zero-initialised field); NB_ZERO (-0.0) is 0. */
double nb_opt_default(double v, double dflt);

/* A new optimizer named `name` over params, with n_slots zeroed buffers per
 * parameter called slot_names (PyTorch's state keys). Checks the parameters
 * and lr; NULL with an error. */
nb_optim *nb_optim_new(const char *name, nb_tensor *const *params, int n_params, double lr, int n_slots,
                       const char *const *slot_names, nb_optim_update update);

/* Records "<op>: <what> <v> is invalid (<rule>)" unless ok; returns ok. */
bool nb_optim_check(bool ok, const char *op, const char *what, double v, const char *rule);

#endif
