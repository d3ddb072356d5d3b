/* nn/embedding.c — torch.nn.Embedding over nb_embedding_op, initialised as
 * torch/nn/modules/sparse.py reset_parameters(): weight ~ N(0, 1), then the
 * padding_idx row set to zeros. */
#include "nabla/embedding.h"
#include "nn/layer.h"

typedef struct embedding_state {
    nb_embedding_opts opts;
} embedding_state;

/* The weight is read from m->params, so that a tie (nb_module_tie) takes effect. */
static nb_tensor *embedding_forward(nb_module *m, nb_tensor *indices)
{
    embedding_state *s = m->user;
    return nb_embedding_op(indices, m->params[0], s->opts);
}

static void embedding_repr(const nb_module *m, char *buf, size_t size)
{
    const embedding_state *s = m->user;
    const int64_t *w = m->params[0]->shape;
    int k = snprintf(buf, size, "%lld, %lld", (long long)w[0], (long long)w[1]);
    if (s->opts.padding_idx != NB_NO_PADDING_IDX && k > 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, ", padding_idx=%lld", (long long)s->opts.padding_idx);
}

nb_module *nb_embedding_ex(int64_t num, int64_t dim, nb_embedding_opts o, nb_generator *g)
{
    if (!nb_opts_made("Embedding", o.nb_tag, "embedding"))
        return NULL;
    if (num < 1 || dim < 1)
        return nb_error(NB_ERR_ARG, "Embedding: num_embeddings %lld and embedding_dim %lld must be >= 1",
                        (long long)num, (long long)dim);
    if (o.padding_idx != NB_NO_PADDING_IDX && (o.padding_idx < -num || o.padding_idx >= num))
        return nb_error(NB_ERR_ARG, "Embedding: padding_idx %lld must be within num_embeddings %lld",
                        (long long)o.padding_idx, (long long)num);
    nb_module *m = nb_layer_new("Embedding", embedding_forward, sizeof(embedding_state));
    if (!m)
        return NULL;
    embedding_state *s = m->user;
    s->opts = o;
    m->extra_repr = embedding_repr;
    nb_tensor *w = nb_module_param(m, "weight", nb_empty(NB_SHAPE(num, dim)));
    if (!w || !nb_init_normal_(w, 0, 1, g)) {
        nb_module_free(m);
        return NULL;
    }
    if (o.padding_idx != NB_NO_PADDING_IDX) {
        int64_t row = o.padding_idx < 0 ? o.padding_idx + num : o.padding_idx;
        for (int64_t d = 0; d < dim; d++)
            w->data[row * dim + d] = 0;
    }
    return m;
}

nb_module *nb_embedding(int64_t num, int64_t dim)
{
    return nb_embedding_ex(num, dim, nb_embedding_defaults(), NULL);
}
