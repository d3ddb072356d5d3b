/* nn/flatten.c — torch.nn.Flatten(start_dim=1, end_dim=-1) as a layer. */
#include "nn/layer.h"

typedef struct flatten_state {
    int start_dim, end_dim;
} flatten_state;

static nb_tensor *flatten_forward(nb_module *m, nb_tensor *x)
{
    flatten_state *s = m->user;
    return nb_flatten(x, s->start_dim, s->end_dim);
}

static void flatten_repr(const nb_module *m, char *buf, size_t size)
{
    const flatten_state *s = m->user;
    snprintf(buf, size, "start_dim=%d, end_dim=%d", s->start_dim, s->end_dim);
}

nb_module *nb_flatten_layer(int start_dim, int end_dim)
{
    nb_module *m = nb_layer_new("Flatten", flatten_forward, sizeof(flatten_state));
    if (m) {
        *(flatten_state *)m->user = (flatten_state){start_dim, end_dim};
        m->extra_repr = flatten_repr;
    }
    return m;
}
