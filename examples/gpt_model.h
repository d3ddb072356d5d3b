/* examples/gpt_model.h — char_gpt's model, optimizer, batches and training
 * step (header only; examples/char_gpt.c, and bench/gpt.c, which times the
 * same model against PyTorch): a decoder-only Transformer in GPT-2's layout
 * (Radford et al. 2019),
 *
 *   wte Embedding(V, d) + wpe Embedding(block, d) -> Dropout
 *   -> layers x TransformerEncoderLayer(d, heads, 4 d, norm_first, causal, activation)
 *   -> ln_f LayerNorm(d) -> lm_head Linear(d, V, bias=False), its weight tied to wte's
 *
 * AdamW in two parameter groups (weight decay on the matrices only, nanoGPT's
 * rule), and batches of windows at random offsets of a cd_corpus (char_data.h). */
#ifndef EXAMPLES_GPT_MODEL_H
#define EXAMPLES_GPT_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include "args.h"
#include "char_data.h"

typedef struct gpt_shape {
    int vocab, block, embed, heads, layers;
    double dropout;
    const char *activation; /* the MLP's, a name of the activation registry */
} gpt_shape;

typedef struct gpt {
    nb_tensor *positions; /* 0, 1, ..., block - 1: wpe's indices */
} gpt;

static inline void gpt_free(void *p)
{
    gpt *g = p;
    nb_free(g->positions);
    free(g);
}

/* logits [B T, V] of x [B, T] (T <= block). */
static inline nb_tensor *gpt_forward(nb_module *m, nb_tensor *x)
{
    gpt *g = m->user;
    int64_t T = x->shape[x->ndim - 1];
    nb_tensor *pos = nb_forward(nb_module_child(m, "wpe"), nb_slice(g->positions, 0, 0, T)); /* [T, d] */
    nb_tensor *h =
        nb_forward(nb_module_child(m, "drop"), nb_add(nb_forward(nb_module_child(m, "wte"), x), pos));
    nb_module *blocks = nb_module_child(m, "h");
    for (int i = 0; h && i < blocks->n_children; i++)
        h = nb_forward(blocks->children[i], h);
    h = nb_forward(nb_module_child(m, "ln_f"), h);
    return h ? nb_forward(nb_module_child(m, "lm_head"), nb_reshape(h, NB_SHAPE(-1, h->shape[h->ndim - 1])))
             : NULL;
}

/* The model, initialised from the default generator (seed it first). */
static inline nb_module *gpt_build(const gpt_shape *s)
{
    gpt *g = calloc(1, sizeof *g);
    EX_CHECK(g);
    int64_t *ids = malloc((size_t)s->block * sizeof *ids);
    EX_CHECK(ids);
    for (int i = 0; i < s->block; i++)
        ids[i] = i;
    g->positions = nb_from_int64(ids, NB_SHAPE(s->block));
    free(ids);
    nb_module *m = nb_module_new("CharGPT", gpt_forward, g);
    EX_CHECK(m && g->positions);
    m->free_user = gpt_free;
    EX_CHECK(nb_module_add(m, "wte", nb_embedding(s->vocab, s->embed)) == 0);
    EX_CHECK(nb_module_add(m, "wpe", nb_embedding(s->block, s->embed)) == 0);
    EX_CHECK(nb_module_add(m, "drop", nb_dropout(s->dropout)) == 0);
    nb_transformer_opts o = nb_transformer_defaults();
    o.dim_feedforward = 4 * s->embed;
    o.dropout = s->dropout;
    o.activation = s->activation;
    o.batch_first = true;
    o.norm_first = true;
    o.is_causal = true;
    nb_module *blocks = nb_sequential(0);
    EX_CHECK(blocks);
    for (int i = 0; i < s->layers; i++)
        EX_CHECK(nb_sequential_add(blocks, nb_transformer_encoder_layer(s->embed, s->heads, o)) == 0);
    EX_CHECK(nb_module_add(m, "h", blocks) == 0);
    EX_CHECK(nb_module_add(m, "ln_f", nb_layer_norm_layer(NB_SHAPE(s->embed))) == 0);
    EX_CHECK(nb_module_add(m, "lm_head", nb_linear_ex(s->embed, s->vocab, false, NULL)) == 0);
    /* GPT-2's initialisation of the embeddings, N(0, 0.02) (nn.Embedding's N(0, 1) would make the
     * tied output layer's first logits huge), then the tie */
    nb_tensor *wte = nb_module_get(m, "wte.weight");
    EX_CHECK(nb_init_normal_(wte, 0, 0.02, NULL) &&
             nb_init_normal_(nb_module_get(m, "wpe.weight"), 0, 0.02, NULL));
    EX_CHECK(nb_module_tie(nb_module_child(m, "lm_head"), "weight", wte));
    return m;
}

/* nanoGPT's rule: weight decay on the matrices of the linear and attention
 * layers, none on norms, biases and embeddings (and so not on the tied
 * output layer, which is wte). */
static inline bool gpt_decays(const char *name, const nb_tensor *t)
{
    return t->ndim == 2 && strncmp(name, "wte.", 4) != 0 && strncmp(name, "wpe.", 4) != 0;
}

/* AdamW over the model's parameters pl in two groups, as nanoGPT's
 * configure_optimizers: the matrices with weight decay wd (group 0), the
 * norms, biases and embeddings without (group 1). */
static inline nb_optim *gpt_adamw(const nb_param_list *pl, double lr, double wd)
{
    nb_tensor **decay = malloc(2 * (size_t)pl->count * sizeof *decay), **no_decay = decay + pl->count;
    EX_CHECK(decay);
    int n_decay = 0, n_no_decay = 0;
    for (int i = 0; i < pl->count; i++)
        if (gpt_decays(pl->names[i], pl->tensors[i]))
            decay[n_decay++] = pl->tensors[i];
        else
            no_decay[n_no_decay++] = pl->tensors[i];
    nb_optim *opt = nb_adamw(decay, n_decay, NB_ADAMW_OPTS(.lr = lr, .weight_decay = wd));
    EX_CHECK(opt && nb_optim_add_param_group(opt, no_decay, n_no_decay,
                                             NB_ADAMW_OPTS(.lr = lr, .weight_decay = 0)) == 1);
    free(decay);
    return opt;
}

/* The training batch of a step: x [B, T] holds B windows of the training
 * split at offsets drawn from (seed, step), so a resumed run reads the same
 * batches; y [B T] the character after each position. */
static inline void gpt_batch(const cd_corpus *corpus, uint64_t seed, int step, nb_tensor *x, nb_tensor *y)
{
    int64_t B = x->shape[0], T = x->shape[1];
    nb_generator g;
    nb_generator_seed(&g, seed * 1000003u + (uint64_t)step);
    for (int64_t b = 0; b < B; b++) {
        int64_t at = (int64_t)nb_generator_below(&g, (uint64_t)(corpus->n_train - T));
        for (int64_t t = 0; t < T; t++) {
            x->data[b * T + t] = (nb_real)corpus->ids[at + t];
            y->data[b * T + t] = (nb_real)corpus->ids[at + t + 1];
        }
    }
}

/* One training step on (x, y): cross-entropy, backward, the gradient norm
 * clipped to clip, AdamW's update. Returns the loss (nats per character);
 * its tensor lives until nb_step_end, which the caller calls. */
static inline double gpt_step(nb_module *model, nb_optim *opt, const nb_param_list *pl, nb_tensor *x,
                              nb_tensor *y, double clip)
{
    nb_tensor *loss = nb_cross_entropy(nb_forward(model, x), y, NB_CROSS_ENTROPY_OPTS());
    EX_CHECK(loss);
    nb_optim_zero_grad(opt);
    EX_CHECK(nb_backward(loss) == 0);
    nb_clip_grad_norm(pl->tensors, pl->count, (nb_real)clip);
    EX_CHECK(nb_optim_step(opt) == 0);
    return nb_item(loss);
}

#endif
