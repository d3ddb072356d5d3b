/* optim/optim.h — what the optimizer files share: the optimizer object, its
 * parameter groups and state layout, and the per-parameter update hook. */
#ifndef NB_OPTIM_OPTIM_H
#define NB_OPTIM_OPTIM_H

#include <math.h>
#include "internal.h"
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "nabla/optim.h"

enum { NB_OPTIM_MAX_SLOTS = 3, NB_OPTIM_GRAIN = 1 << 14 };

/* Updates parameter p (whose grad is set) for its step-th update (1, 2, ...)
 * with its group's options; slot[k] is the data of its k-th state buffer. */
typedef void (*nb_optim_update)(const nb_optim_opts *o, nb_tensor *p, nb_real *const *slot, double step);

/* The state buffers a parameter of a group with these options has, by
 * PyTorch's state keys; returns their count. */
typedef int (*nb_optim_slots)(const nb_optim_opts *o, const char **names);

/* One of torch.optim's param_groups: its options and its parameters,
 * params[first .. first + count). */
typedef struct nb_optim_group {
    nb_optim_opts opts;
    double initial_lr;   /* the base of schedules (PyTorch's group['initial_lr']), */
    bool has_initial_lr; /* set by the first scheduler step that sees the group */
    int first, count;
} nb_optim_group;

/* What each algorithm file gives the shared code: its name, its update and
 * buffers, and the check of its options (PyTorch's, with an error naming the
 * option; false when invalid). */
typedef struct nb_optim_algo {
    const char *name;
    nb_optim_update update;
    nb_optim_slots slots;
    bool (*check)(const char *op, const nb_optim_opts *o);
    void (*init_state)(const nb_optim_opts *o, nb_tensor *const *slot, int n); /* NULL: zeros */
} nb_optim_algo;

struct nb_optim {
    const char *name; /* "adam": for error messages */
    nb_optim_kind kind;
    const nb_optim_algo *algo;
    nb_tensor **params;
    int n_params;
    nb_optim_group *groups;
    int n_groups;
    /* parameter i owns state[at[i] .. at[i + 1]): its rank-0 step count, then
     * its buffers; names[] runs parallel ("state.<i>.<key>") */
    int *at;
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

/* The optimizer of algo over params (group 0), NULL with an error. */
nb_optim *nb_optim_make(const nb_optim_algo *algo, nb_optim_kind kind, nb_tensor *const *params, int n_params,
                        nb_optim_opts opts);

/* For training checkpoints (io/): check opts as a group of o would be
 * checked (kind, fields, values, and the same state buffers as group g);
 * false with an error naming op. */
bool nb_optim_group_opts_fit(const char *op, const nb_optim *o, int g, const nb_optim_opts *opts);
/* The name of a scheduler's kind ("step_lr"), and setting its epoch without
 * touching the optimizer (whose lrs are restored with it). */
const char *nb_scheduler_kind_name(const nb_scheduler *s);
void nb_scheduler_restore_epoch(nb_scheduler *s, int64_t epoch);

/* Records "<op>: <what> <v> is invalid (<rule>)" unless ok; returns ok. */
bool nb_optim_check(bool ok, const char *op, const char *what, double v, const char *rule);

#endif
