/* optim/optim.c — the optimizer object every algorithm shares: its parameter
 * groups (torch.optim's param_groups, each with its own options), named state
 * tensors allocated when a group is added, the step loop (parameters without a
 * gradient skipped), zero_grad, lr, options read back, and freeing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "optim/optim.h"

bool nb_optim_check(bool ok, const char *op, const char *what, double v, const char *rule)
{
    if (!ok)
        nb_error(NB_ERR_ARG, "%s: %s %g is invalid (%s)", op, what, v, rule);
    return ok;
}

static const char *const kind_macro[] = {
    "", "NB_SGD_OPTS", "NB_ADAM_OPTS", "NB_ADAMW_OPTS", "NB_RMSPROP_OPTS", "NB_ADAGRAD_OPTS"};

/* The fields an algorithm has (PyTorch's keyword arguments); any other must be 0. */
typedef struct field {
    const char *name;
    size_t offset;
    bool is_bool;
    unsigned kinds; /* bit k: nb_optim_kind k has it */
} field;

#define K(k) (1u << (k))
#define FIELD(f, b, kinds)                                                                                   \
    {                                                                                                        \
#f, offsetof(nb_optim_opts, f), b, kinds                                                             \
    }
static const field fields[] = {
    FIELD(momentum, false, K(NB_SGD) | K(NB_RMSPROP)),
    FIELD(dampening, false, K(NB_SGD)),
    FIELD(nesterov, true, K(NB_SGD)),
    FIELD(betas[0], false, K(NB_ADAM) | K(NB_ADAMW)),
    FIELD(betas[1], false, K(NB_ADAM) | K(NB_ADAMW)),
    FIELD(eps, false, K(NB_ADAM) | K(NB_ADAMW) | K(NB_RMSPROP) | K(NB_ADAGRAD)),
    FIELD(amsgrad, true, K(NB_ADAM) | K(NB_ADAMW)),
    FIELD(alpha, false, K(NB_RMSPROP)),
    FIELD(centered, true, K(NB_RMSPROP)),
    FIELD(lr_decay, false, K(NB_ADAGRAD)),
    FIELD(initial_accumulator_value, false, K(NB_ADAGRAD)),
};

/* opts made by the macro of `kind` (or its nb_<name>_defaults()), with no field
 * of another algorithm set, and a valid lr and weight_decay. */
static bool check_opts(const char *op, nb_optim_kind kind, const nb_optim_opts *o)
{
    if (o->nb_tag != NB_OPTS_TAG || o->kind != kind) {
        if (o->nb_tag == NB_OPTS_TAG && o->kind > NB_OPTIM_NONE && o->kind <= NB_ADAGRAD)
            nb_error(NB_ERR_ARG, "%s: options made by %s() are not %s's: use %s()", op, kind_macro[o->kind],
                     op, kind_macro[kind]);
        else
            nb_opts_made(op, 0, op);
        return false;
    }
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        const char *at = (const char *)o + fields[k].offset;
        bool set = fields[k].is_bool ? *(const bool *)at : *(const double *)at != 0;
        if (set && !(fields[k].kinds & K(kind))) {
            nb_error(NB_ERR_ARG, "%s: has no option %s (PyTorch's %s takes no such argument)", op,
                     fields[k].name, op);
            return false;
        }
    }
    return nb_optim_check(o->lr >= 0, op, "lr", o->lr, "must be >= 0") &&
           nb_optim_check(o->weight_decay >= 0, op, "weight_decay", o->weight_decay, "must be >= 0");
}

void nb_optim_free(nb_optim *o)
{
    if (!o)
        return;
    int n = o->at ? o->at[o->n_params] : 0;
    for (int k = 0; o->state && k < n; k++)
        nb_free(o->state[k]);
    for (int k = 0; o->names && k < n; k++)
        free(o->names[k]);
    free(o->state);
    free(o->names);
    free(o->at);
    free(o->params);
    free(o->groups);
    free(o);
}

static bool check_params(const char *op, const nb_optim *o, nb_tensor *const *params, int n)
{
    if (n <= 0 || !params) {
        nb_error(NB_ERR_ARG, "%s: got an empty parameter list (%d parameters)", op, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            nb_error(NB_ERR_NULL, "%s: params[%d] is NULL", op, i);
            return false;
        }
        if (!params[i]->persistent) {
            nb_error(NB_ERR_ARG,
                     "%s: params[%d] of shape %s is a step tensor; parameters are "
                     "persistent tensors (nb_clone)",
                     op, i, nb_shape_fmt(params[i]));
            return false;
        }
        /* torch.optim: "some parameters appear in more than one parameter group" */
        for (int j = 0; j < i + (o ? o->n_params : 0); j++) {
            nb_tensor *q = j < i ? params[j] : o->params[j - i];
            if (q == params[i]) {
                nb_error(NB_ERR_ARG, "%s: params[%d] %s is %s", op, i, nb_shape_fmt(params[i]),
                         j < i ? "given twice" : "already in another parameter group");
                return false;
            }
        }
    }
    return true;
}

static char *state_name(int i, const char *slot)
{
    size_t len = strlen(slot) + 32;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "state.%d.%s", i, slot);
    return s;
}

/* Append a group over params with opts (checked): parameters, offsets and
 * state grow; on failure the optimizer is as it was. */
static int add_group(nb_optim *o, nb_tensor *const *params, int n, nb_optim_opts opts)
{
    const char *op = o->name;
    const nb_optim_algo *algo = o->algo;
    if (!check_opts(op, o->kind, &opts) || !algo->check(op, &opts) || !check_params(op, o, params, n))
        return -1;
    const char *slot_names[NB_OPTIM_MAX_SLOTS];
    int n_slots = algo->slots(&opts, slot_names);
    int total = o->n_params + n, old_state = o->n_params ? o->at[o->n_params] : 0;
    int new_state = old_state + n * (n_slots + 1);
    nb_tensor **p = realloc(o->params, (size_t)total * sizeof *p);
    if (p)
        o->params = p;
    int *at = p ? realloc(o->at, (size_t)(total + 1) * sizeof *at) : NULL;
    if (at && !o->n_params)
        at[0] = 0; /* what nb_optim_free reads, before anything else can fail */
    if (at)
        o->at = at;
    nb_tensor **st = at ? realloc(o->state, (size_t)new_state * sizeof *st) : NULL;
    if (st)
        o->state = st;
    char **nm = st ? realloc(o->names, (size_t)new_state * sizeof *nm) : NULL;
    if (nm)
        o->names = nm;
    nb_optim_group *g = nm ? realloc(o->groups, (size_t)(o->n_groups + 1) * sizeof *g) : NULL;
    if (g)
        o->groups = g;
    if (!g) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory for %d parameters", op, total);
        return -1;
    }
    memset(st + old_state, 0, (size_t)(new_state - old_state) * sizeof *st);
    memset(nm + old_state, 0, (size_t)(new_state - old_state) * sizeof *nm);
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        int index = o->n_params + i, s = old_state + i * (n_slots + 1);
        at[index + 1] = s + n_slots + 1;
        st[s] = nb_zeros(0, NULL);
        nm[s] = state_name(index, "step");
        for (int k = 0; k < n_slots; k++) {
            st[s + 1 + k] = nb_zeros(params[i]->ndim, params[i]->shape);
            nm[s + 1 + k] = state_name(index, slot_names[k]);
        }
        for (int k = 0; k <= n_slots; k++)
            ok = ok && st[s + k] && nm[s + k];
        if (ok && algo->init_state)
            algo->init_state(&opts, st + s + 1, n_slots);
        if (!ok)
            nb_error(NB_ERR_MEMORY, "%s: out of memory for the state of params[%d] %s", op, i,
                     nb_shape_fmt(params[i]));
    }
    if (!ok) {
        for (int k = old_state; k < new_state; k++) {
            nb_free(st[k]);
            free(nm[k]);
        }
        return -1;
    }
    memcpy(p + o->n_params, params, (size_t)n * sizeof *params);
    g[o->n_groups] = (nb_optim_group){.opts = opts, .first = o->n_params, .count = n};
    o->n_params = total;
    return o->n_groups++;
}

nb_optim *nb_optim_make(const nb_optim_algo *algo, nb_optim_kind kind, nb_tensor *const *params, int n_params,
                        nb_optim_opts opts)
{
    nb_optim *o = calloc(1, sizeof *o);
    if (!o)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", algo->name);
    o->name = algo->name;
    o->kind = kind;
    o->algo = algo;
    if (add_group(o, params, n_params, opts) < 0) {
        nb_optim_free(o);
        return NULL;
    }
    return o;
}

int nb_optim_add_param_group(nb_optim *o, nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    if (!o) {
        nb_error(NB_ERR_NULL, "add_param_group: optimizer is NULL");
        return -1;
    }
    return add_group(o, params, n_params, opts);
}

int nb_optim_group_count(const nb_optim *o) { return o ? o->n_groups : 0; }

static bool group_ok(const char *op, const nb_optim *o, int g)
{
    if (!o)
        nb_error(NB_ERR_NULL, "%s: optimizer is NULL", op);
    else if (g < 0 || g >= o->n_groups)
        nb_error(NB_ERR_ARG, "%s: group %d is outside 0..%d", op, g, o->n_groups - 1);
    return o && g >= 0 && g < o->n_groups;
}

nb_optim_opts nb_optim_group_opts(const nb_optim *o, int g)
{
    return group_ok("optim_group_opts", o, g) ? o->groups[g].opts : (nb_optim_opts){0};
}

nb_tensor *const *nb_optim_group_params(const nb_optim *o, int g, int *n_params)
{
    if (n_params)
        *n_params = 0;
    if (!group_ok("optim_group_params", o, g))
        return NULL;
    if (n_params)
        *n_params = o->groups[g].count;
    return o->params + o->groups[g].first;
}

bool nb_optim_group_opts_fit(const char *op, const nb_optim *o, int g, const nb_optim_opts *opts)
{
    if (!check_opts(o->name, o->kind, opts) || !o->algo->check(o->name, opts))
        return false;
    const char *a[NB_OPTIM_MAX_SLOTS], *b[NB_OPTIM_MAX_SLOTS];
    int na = o->algo->slots(&o->groups[g].opts, a), nb = o->algo->slots(opts, b);
    bool same = na == nb;
    for (int k = 0; same && k < na; k++)
        same = strcmp(a[k], b[k]) == 0;
    if (!same) {
        nb_error(NB_ERR_ARG,
                 "%s: %s group %d: these options need other state buffers (%d instead of %d: amsgrad, "
                 "momentum 0 or not, centered are fixed when the group is made)",
                 op, o->name, g, nb, na);
        return false;
    }
    return true;
}

int nb_optim_set_group_opts(nb_optim *o, int g, nb_optim_opts opts)
{
    const char *op = "optim_set_group_opts";
    if (!group_ok(op, o, g) || !nb_optim_group_opts_fit(op, o, g, &opts))
        return -1;
    o->groups[g].opts = opts;
    return 0;
}

int nb_optim_step(nb_optim *o)
{
    if (!o) {
        nb_error(NB_ERR_NULL, "optim_step: optimizer is NULL");
        return -1;
    }
    for (int g = 0; g < o->n_groups; g++) {
        const nb_optim_group *gr = &o->groups[g];
        for (int i = gr->first; i < gr->first + gr->count; i++) {
            nb_tensor *p = o->params[i];
            if (!p->grad)
                continue;
            nb_tensor **st = o->state + o->at[i];
            nb_real *slot[NB_OPTIM_MAX_SLOTS];
            for (int k = 0; k + 1 < o->at[i + 1] - o->at[i]; k++)
                slot[k] = st[k + 1]->data;
            st[0]->data[0] += 1;
            o->algo->update(&gr->opts, p, slot, (double)st[0]->data[0]);
        }
    }
    return 0;
}

void nb_optim_zero_grad(nb_optim *o)
{
    for (int i = 0; o && i < o->n_params; i++)
        nb_zero_grad(o->params[i]);
}

void nb_optim_set_lr(nb_optim *o, double lr)
{
    for (int g = 0; o && g < o->n_groups; g++)
        o->groups[g].opts.lr = lr;
}

double nb_optim_get_lr(const nb_optim *o) { return o ? o->groups[0].opts.lr : NAN; }

int nb_optim_state_count(const nb_optim *o) { return o ? o->at[o->n_params] : 0; }

nb_tensor *nb_optim_state(nb_optim *o, int k, const char **name)
{
    if (!o)
        return nb_error(NB_ERR_NULL, "optim_state: optimizer is NULL");
    if (k < 0 || k >= nb_optim_state_count(o))
        return nb_error(NB_ERR_ARG, "optim_state: index %d is outside 0..%d", k, nb_optim_state_count(o) - 1);
    if (name)
        *name = o->names[k];
    return o->state[k];
}
