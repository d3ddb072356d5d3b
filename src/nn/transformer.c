/* nn/transformer.c — torch.nn.TransformerEncoderLayer (torch 1.13,
 * torch/nn/modules/transformer.py), pre- or post-LayerNorm:
 *   norm_first:  x = x + dropout1(self_attn(norm1(x)))
 *                x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
 *   otherwise:   x = norm1(x + dropout1(self_attn(x)))
 *                x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
 * Children in PyTorch's order and names: self_attn, linear1, dropout,
 * linear2, norm1, norm2, dropout1, dropout2, activation (any activation of
 * the registry, a layer; a learnable one adds its parameter: activation.beta
 * for swish, activation.weight for prelu). */
#include "nabla/attention.h"
#include "nabla/norm.h"
#include <string.h>
#include "nn/layer.h"

typedef struct block_state {
    bool norm_first, is_causal;
} block_state;

enum { SELF_ATTN, LINEAR1, DROPOUT, LINEAR2, NORM1, NORM2, DROPOUT1, DROPOUT2, ACTIVATION, N_CHILDREN };
static const char *const CHILD[N_CHILDREN] = {"self_attn", "linear1",  "dropout",  "linear2",   "norm1",
                                              "norm2",     "dropout1", "dropout2", "activation"};

static nb_tensor *sa_block(nb_module *m, nb_tensor *x, const nb_mha_call *call)
{
    nb_tensor *y = nb_multihead_attention_forward(m->children[SELF_ATTN], x, x, x, call);
    return nb_forward(m->children[DROPOUT1], y);
}

static nb_tensor *ff_block(nb_module *m, nb_tensor *x)
{
    nb_module **c = m->children;
    nb_tensor *h = nb_forward(c[DROPOUT], nb_forward(c[ACTIVATION], nb_forward(c[LINEAR1], x)));
    return nb_forward(c[DROPOUT2], nb_forward(c[LINEAR2], h));
}

nb_tensor *nb_transformer_encoder_layer_forward(nb_module *m, nb_tensor *x, const nb_mha_call *call)
{
    if (!m || !x)
        return nb_error(NB_ERR_ARG, "TransformerEncoderLayer: NULL module or input");
    if (strcmp(m->kind, "TransformerEncoderLayer") != 0)
        return nb_error(NB_ERR_ARG, "TransformerEncoderLayer forward: the module is a %s", m->kind);
    const block_state *s = m->user;
    nb_mha_call c = call ? *call : (nb_mha_call){0};
    c.is_causal = c.is_causal || s->is_causal;
    nb_module **ch = m->children;
    if (s->norm_first) {
        x = nb_add(x, sa_block(m, nb_forward(ch[NORM1], x), &c));
        return nb_add(x, ff_block(m, nb_forward(ch[NORM2], x)));
    }
    x = nb_forward(ch[NORM1], nb_add(x, sa_block(m, x, &c)));
    return nb_forward(ch[NORM2], nb_add(x, ff_block(m, x)));
}

static nb_tensor *block_forward(nb_module *m, nb_tensor *x)
{
    return nb_transformer_encoder_layer_forward(m, x, NULL);
}

nb_transformer_opts nb_transformer_defaults(void) { return NB_TRANSFORMER_OPTS(); }

nb_module *nb_transformer_encoder_layer(int64_t d_model, int64_t nhead, nb_transformer_opts o)
{
    if (!nb_opts_made("TransformerEncoderLayer", o.nb_tag, "transformer"))
        return NULL;
    if (o.dim_feedforward < 1 || !(o.dropout >= 0 && o.dropout <= 1) || !(o.layer_norm_eps > 0))
        return nb_error(NB_ERR_ARG,
                        "TransformerEncoderLayer: dim_feedforward %lld must be >= 1, dropout %g in [0, 1], "
                        "layer_norm_eps %g > 0",
                        (long long)o.dim_feedforward, o.dropout, o.layer_norm_eps);
    nb_module *m = nb_layer_new("TransformerEncoderLayer", block_forward, sizeof(block_state));
    if (!m)
        return NULL;
    *(block_state *)m->user = (block_state){.norm_first = o.norm_first, .is_causal = o.is_causal};
    nb_generator *g = o.generator;
    nb_module *child[N_CHILDREN] = {
        nb_multihead_attention(
            d_model, nhead,
            NB_MHA_OPTS(.dropout = o.dropout, .bias = o.bias, .batch_first = o.batch_first, .generator = g)),
        nb_linear_ex(d_model, o.dim_feedforward, o.bias, g),
        nb_dropout(o.dropout),
        nb_linear_ex(o.dim_feedforward, d_model, o.bias, g),
        nb_layer_norm_layer_ex(1, &d_model, o.layer_norm_eps, true, o.bias),
        nb_layer_norm_layer_ex(1, &d_model, o.layer_norm_eps, true, o.bias),
        nb_dropout(o.dropout),
        nb_dropout(o.dropout),
        nb_act(o.activation ? o.activation : "relu"),
    };
    bool ok = true;
    for (int i = 0; i < N_CHILDREN; i++)
        ok = nb_module_add(m, CHILD[i], child[i]) == 0 && ok; /* frees a child it does not take */
    if (!ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
