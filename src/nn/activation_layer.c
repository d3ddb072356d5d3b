/* nn/activation_layer.c — any activation of the registry as a layer of
 * torch.nn's class name (kind "LeakyReLU" for "leaky_relu"), with its scalar
 * hyper-parameters fixed at construction and, for the learnable ones
 * (prelu's slope, swish's beta), a parameter initialised to learnable_init
 * under the activation's learnable_name (torch.nn.PReLU: weight
 * [num_parameters] = 0.25; swish: beta [1] = 1). */
#include <stdlib.h>
#include <string.h>
#include "nn/layer.h"
#include "activations/activation.h" /* nb_act_relu, the registry's entry */

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

bool nb_is_relu_layer(const nb_module *m)
{
    return m && m->forward == act_forward && ((const act_state *)m->user)->act == &nb_act_relu;
}

/* "negative_slope=0.01", "num_parameters=3", as torch.nn prints them */
static void act_repr(const nb_module *m, char *buf, size_t size)
{
    const act_state *s = m->user;
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->act->n_params && i < NB_ACT_MAX_PARAMS && k + 1 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s=%g", i ? ", " : "", s->act->param_names[i],
                              (double)s->params[i]);
    if (m->n_params && strcmp(s->act->name, "prelu") == 0 && k + 1 < size)
        snprintf(buf + k, size - k, "num_parameters=%lld", (long long)m->params[0]->numel);
}

static void act_free(void *user)
{
    act_state *s = user;
    if (s->owns_weight)
        nb_free(s->weight);
    free(s);
}

/* The layer; a learnable activation gets a weight of `n` elements, registered
 * as its parameter when `learn`, or kept fixed. */
static nb_module *act_new(const nb_activation *a, const nb_real *params, int64_t n, bool learn)
{
    if (!a) {
        if (nb_last_error() == NB_OK)
            nb_error(NB_ERR_NULL, "act_layer: activation is NULL");
        return NULL;
    }
    nb_module *m = nb_layer_new(a->class_name ? a->class_name : a->name, act_forward, sizeof(act_state));
    if (!m)
        return NULL;
    m->free_user = act_free;
    m->extra_repr = act_repr;
    act_state *s = m->user;
    s->act = a;
    for (int i = 0; i < a->n_params && i < NB_ACT_MAX_PARAMS; i++)
        s->params[i] = params ? params[i] : a->defaults[i];
    if (!a->learnable)
        return m;
    nb_tensor *w = nb_full(NB_SHAPE(n), a->learnable_init);
    if (learn) {
        s->weight = nb_module_param(m, a->learnable_name ? a->learnable_name : "weight", w);
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

nb_module *nb_act_layer(const nb_activation *a, const nb_real *params) { return act_new(a, params, 1, true); }

nb_module *nb_act(const char *name) { return act_new(nb_activation_find(name), NULL, 1, true); }

nb_module *nb_prelu_layer(int64_t num_parameters)
{
    if (num_parameters < 1)
        return nb_error(NB_ERR_ARG, "prelu: num_parameters %lld must be >= 1", (long long)num_parameters);
    return act_new(nb_activation_find("prelu"), NULL, num_parameters, true);
}

nb_module *nb_swish_layer(bool learnable) { return act_new(nb_activation_find("swish"), NULL, 1, learnable); }
