/* nn/dropout.c — torch.nn.Dropout and torch.nn.AlphaDropout as layers: each
 * owns a generator (seeded from the default generator when made, reseeded by
 * nb_module_seed) and follows the module's train/eval flag. */
#include "nn/layer.h"

typedef struct dropout_state {
    double p;
    nb_generator gen;
} dropout_state;

static nb_tensor *dropout_forward(nb_module *m, nb_tensor *x)
{
    dropout_state *s = m->user;
    return nb_dropout_op(x, s->p, m->training, &s->gen);
}

static nb_tensor *alpha_dropout_forward(nb_module *m, nb_tensor *x)
{
    dropout_state *s = m->user;
    return nb_alpha_dropout_op(x, s->p, m->training, &s->gen);
}

static void dropout_repr(const nb_module *m, char *buf, size_t size)
{
    snprintf(buf, size, "p=%g", ((const dropout_state *)m->user)->p);
}

static nb_module *make(const char *kind, nb_forward_fn forward, double p)
{
    if (!(p >= 0 && p <= 1))
        return nb_error(NB_ERR_ARG, "%s: probability p = %g must be in [0, 1]", kind, p);
    nb_module *m = nb_layer_new(kind, forward, sizeof(dropout_state));
    if (!m)
        return NULL;
    dropout_state *s = m->user;
    s->p = p;
    m->extra_repr = dropout_repr;
    nb_generator_seed(&s->gen, nb_generator_next(nb_default_generator()));
    m->generator = &s->gen;
    return m;
}

nb_module *nb_dropout(double p) { return make("Dropout", dropout_forward, p); }

nb_module *nb_alpha_dropout(double p) { return make("AlphaDropout", alpha_dropout_forward, p); }
