/* activations/registry.c — the table of every activation, made from
 * activations/list.h in its order, and lookup by name. Programs add their own
 * at run time with nb_activation_register(). */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "activations/activation.h"

#define NB_ACT(name, file) &nb_act_##name,
static const nb_activation *const table[] = {
#include "activations/list.h"
};
#undef NB_ACT

#define NB_ACT(name, file) +1
enum {
    COUNT = 0
#include "activations/list.h"
    ,
    USER_MAX = 64
};
#undef NB_ACT
static_assert(sizeof table / sizeof table[0] == COUNT,
              "the table has one entry per line of activations/list.h");

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
