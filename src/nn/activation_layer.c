/* nn/activation_layer.c — any activation of the registry as a layer, with its
 * scalar hyper-parameters fixed at construction and, for the learnable ones
 * (prelu's slope, swish's beta), a parameter initialised to learnable_init
 * (torch.nn.PReLU: weight [num_parameters] = 0.25). */
#include <stdlib.h>
#include "nn/layer.h"

typedef struct act_state {
    const nb_activation *act;
    nb_real params[NB_ACT_MAX_PARAMS];
    nb_tensor *weight; /* a parameter of the module, or a fixed tensor owned here */
    bool owns_weight;
} act_state;

static nb_tensor *act_forward(nb_module *m, nb_tensor *x)
{
    act_state *s = m->user;
    return s->act->apply(x, s->params, s->weight);
}

static void act_free(void *user)
{
    act_state *s = user;
    if (s->owns_weight)
        nb_free(s->weight);
    free(s);
}

/* The layer; a learnable activation gets a weight of `n` elements, registered
 * as parameter `wname`, or kept fixed when wname is NULL. */
static nb_module *act_new(const nb_activation *a, const nb_real *params, int64_t n, const char *wname)
{
    if (!a) {
        if (nb_last_error() == NB_OK)
            nb_error(NB_ERR_NULL, "act_layer: activation is NULL");
        return NULL;
    }
    nb_module *m = nb_layer_new(a->name, act_forward, sizeof(act_state));
    if (!m)
        return NULL;
    m->free_user = act_free;
    act_state *s = m->user;
    s->act = a;
    for (int i = 0; i < a->n_params && i < NB_ACT_MAX_PARAMS; i++)
        s->params[i] = params ? params[i] : a->defaults[i];
    if (!a->learnable)
        return m;
    nb_tensor *w = nb_full(NB_SHAPE(n), a->learnable_init);
    if (wname) {
        s->weight = nb_module_param(m, wname, w);
    } else {
        s->weight = w;
        s->owns_weight = true;
    }
    if (!s->weight) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_act_layer(const nb_activation *a, const nb_real *params)
{
    return act_new(a, params, 1, "weight");
}

nb_module *nb_act(const char *name) { return act_new(nb_activation_find(name), NULL, 1, "weight"); }

nb_module *nb_prelu_layer(int64_t num_parameters)
{
    if (num_parameters < 1)
        return nb_error(NB_ERR_ARG, "prelu: num_parameters %lld must be >= 1", (long long)num_parameters);
    return act_new(nb_activation_find("prelu"), NULL, num_parameters, "weight");
}

nb_module *nb_swish_layer(bool learnable)
{
    return act_new(nb_activation_find("swish"), NULL, 1, learnable ? "beta" : NULL);
}
