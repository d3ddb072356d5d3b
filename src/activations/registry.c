/* activations/registry.c — the table of every activation, in the order
 * nb_activation_at() lists them, and lookup by name. Adding an activation:
 * its file defines `const nb_activation nb_act_<name>` (declared in
 * activations/activation.h) and gets one line here. Programs add their own
 * at run time with nb_activation_register(). */
#include <stdio.h>
#include <string.h>
#include "activations/activation.h"

static const nb_activation *const table[] = {
    &nb_act_step,
    &nb_act_sigmoid,
    &nb_act_tanh,
    &nb_act_logsigmoid,
    &nb_act_relu,
    &nb_act_relu6,
    &nb_act_leaky_relu,
    &nb_act_hardtanh,
    &nb_act_elu,
    &nb_act_celu,
    &nb_act_selu,
    &nb_act_gelu,
    &nb_act_gelu_tanh,
    &nb_act_silu,
    &nb_act_softplus,
    &nb_act_mish,
    &nb_act_softsign,
    &nb_act_hardsigmoid,
    &nb_act_hardswish,
    &nb_act_bent_identity,
    &nb_act_sinusoid,
    &nb_act_identity,
    &nb_act_prelu,
    &nb_act_swish,
    &nb_act_softmax,
    &nb_act_log_softmax,
    &nb_act_maxout,
};

enum { COUNT = (int)(sizeof table / sizeof table[0]), USER_MAX = 64 };

/* Activations registered by the program, after the built-in ones. */
static const nb_activation *user[USER_MAX];
static int n_user;

int nb_activation_count(void) { return COUNT + n_user; }

const nb_activation *nb_activation_at(int i)
{
    if (i < 0 || i >= COUNT + n_user)
        return nb_error(NB_ERR_ARG, "act: index %d out of range [0, %d)", i, COUNT + n_user);
    return i < COUNT ? table[i] : user[i - COUNT];
}

static const nb_activation *lookup(const char *name)
{
    for (int i = 0; i < COUNT + n_user; i++) {
        const nb_activation *a = i < COUNT ? table[i] : user[i - COUNT];
        if (strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

const nb_activation *nb_activation_find(const char *name)
{
    if (!name)
        return nb_error(NB_ERR_NULL, "act: the activation name is NULL");
    const nb_activation *a = lookup(name);
    if (a)
        return a;
    char known[600];
    size_t len = 0;
    known[0] = '\0';
    for (int i = 0; i < COUNT + n_user && len < sizeof known; i++) {
        int w = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", nb_activation_at(i)->name);
        len += w > 0 ? (size_t)w : 0;
    }
    return nb_error(NB_ERR_ARG, "act: unknown activation '%.60s' (known: %s)", name, known);
}

int nb_activation_register(const nb_activation *a)
{
    if (!a || !a->name || !a->apply) {
        nb_error(NB_ERR_NULL, "act: register: the activation, its name or its apply function is NULL");
        return -1;
    }
    if (lookup(a->name)) {
        nb_error(NB_ERR_ARG, "act: register: an activation named '%.60s' exists already", a->name);
        return -1;
    }
    if (n_user == USER_MAX) {
        nb_error(NB_ERR_ARG, "act: register: '%.60s': at most %d activations can be registered", a->name,
                 USER_MAX);
        return -1;
    }
    user[n_user++] = a;
    return 0;
}

nb_tensor *nb_activation_apply(const nb_activation *a, nb_tensor *x)
{
    if (!a)
        return nb_error(NB_ERR_NULL, "act: the activation is NULL");
    if (!nb_check_input(a->name, 1, x))
        return NULL;
    nb_tensor *w = NULL;
    if (a->learnable) {
        w = nb_tensor_alloc(a->name, 1, (const int64_t[]){1}, false);
        if (!w)
            return NULL;
        w->data[0] = a->learnable_init;
    }
    return a->apply(x, a->defaults, w);
}
