/* optim/optim.c — the optimizer object every algorithm shares: parameters,
 * named state tensors allocated at creation, the step loop (parameters without
 * a gradient skipped), zero_grad, lr, and freeing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "optim/optim.h"

double nb_opt_default(double v, double dflt) { return v == 0 && !signbit(v) ? dflt : v; }

bool nb_optim_check(bool ok, const char *op, const char *what, double v, const char *rule)
{
    if (!ok)
        nb_error(NB_ERR_ARG, "%s: %s %g is invalid (%s)", op, what, v, rule);
    return ok;
}

void nb_optim_free(nb_optim *o)
{
    if (!o)
        return;
    int n = o->n_params * (o->n_slots + 1);
    for (int k = 0; o->state && k < n; k++)
        nb_free(o->state[k]);
    for (int k = 0; o->names && k < n; k++)
        free(o->names[k]);
    free(o->state);
    free(o->names);
    free(o->params);
    free(o);
}

static bool check_params(const char *op, nb_tensor *const *params, int n)
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

nb_optim *nb_optim_new(const char *name, nb_tensor *const *params, int n_params, double lr, int n_slots,
                       const char *const *slot_names, nb_optim_update update)
{
    if (!check_params(name, params, n_params) || !nb_optim_check(lr >= 0, name, "lr", lr, "must be >= 0"))
        return NULL;
    nb_optim *o = calloc(1, sizeof *o);
    int n = n_params * (n_slots + 1);
    if (o) {
        o->params = malloc((size_t)n_params * sizeof *o->params);
        o->state = calloc((size_t)n, sizeof *o->state);
        o->names = calloc((size_t)n, sizeof *o->names);
    }
    if (!o || !o->params || !o->state || !o->names) {
        nb_optim_free(o);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for %d parameters", name, n_params);
    }
    memcpy(o->params, params, (size_t)n_params * sizeof *params);
    o->name = name;
    o->update = update;
    o->n_params = n_params;
    o->n_slots = n_slots;
    o->lr = lr;
    for (int i = 0; i < n_params; i++) {
        nb_tensor **st = o->state + i * (n_slots + 1);
        char **nm = o->names + i * (n_slots + 1);
        st[0] = nb_zeros(0, NULL);
        nm[0] = state_name(i, "step");
        for (int k = 0; k < n_slots; k++) {
            st[k + 1] = nb_zeros(params[i]->ndim, params[i]->shape);
            nm[k + 1] = state_name(i, slot_names[k]);
        }
        for (int k = 0; k <= n_slots; k++)
            if (!st[k] || !nm[k]) {
                nb_optim_free(o);
                return nb_error(NB_ERR_MEMORY, "%s: out of memory for the state of params[%d] %s", name, i,
                                nb_shape_fmt(params[i]));
            }
    }
    return o;
}

int nb_optim_step(nb_optim *o)
{
    if (!o) {
        nb_error(NB_ERR_NULL, "optim_step: optimizer is NULL");
        return -1;
    }
    for (int i = 0; i < o->n_params; i++) {
        nb_tensor *p = o->params[i];
        if (!p->grad)
            continue;
        nb_tensor **st = o->state + i * (o->n_slots + 1);
        nb_real *slot[NB_OPTIM_MAX_SLOTS];
        for (int k = 0; k < o->n_slots; k++)
            slot[k] = st[k + 1]->data;
        st[0]->data[0] += 1;
        o->update(o, p, slot, (double)st[0]->data[0]);
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
    if (o)
        o->lr = lr;
}

double nb_optim_get_lr(const nb_optim *o) { return o ? o->lr : NAN; }

int nb_optim_state_count(const nb_optim *o) { return o ? o->n_params * (o->n_slots + 1) : 0; }

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
