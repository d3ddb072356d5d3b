/* nn/attention.c — torch.nn.MultiheadAttention over the fused
 * scaled_dot_product_attention, or for self-attention over its packed form
 * nb_packed_self_attention (F.multi_head_attention_forward of torch 1.13,
 * torch/nn/functional.py, with need_weights=False):
 *   q, k, v = query Wq^T + bq, key Wk^T + bk, value Wv^T + bv   (rows of in_proj_weight)
 *   split into num_heads heads of head_dim = E / num_heads: [B, H, T, head_dim]
 *   o = softmax(q k^T / sqrt(head_dim) + mask) v    (dropout on the weights when training)
 *   y = concat_heads(o) Wo^T + bo                   (out_proj)
 * Masks as PyTorch merges them: a boolean attn_mask marks forbidden pairs
 * (-inf), a float one is added, key_padding_mask marks padding keys (-inf).
 * Initialisation as torch/nn/modules/activation.py _reset_parameters. */
#include <math.h>
#include <string.h>
#include "nabla/attention.h"
#include "nn/layer.h"

typedef struct mha_state {
    int64_t embed_dim, num_heads, kdim, vdim;
    double dropout;
    bool batch_first;
    nb_tensor *in_proj_weight;  /* [3E, E], or NULL with separate weights */
    nb_tensor *q_w, *k_w, *v_w; /* q_proj_weight, k_proj_weight, v_proj_weight */
    nb_tensor *in_proj_bias;    /* [3E] or NULL */
    nb_generator gen;           /* dropout's */
} mha_state;

static const char *const KIND = "MultiheadAttention";

/* [B, T, E] -> [B, H, T, E / H] */
static nb_tensor *split_heads(nb_tensor *x, int64_t h)
{
    if (!x)
        return NULL;
    int64_t b = x->shape[0], t = x->shape[1], e = x->shape[2];
    return nb_permute(nb_reshape(x, NB_SHAPE(b, t, h, e / h)), (const int[]){0, 2, 1, 3});
}

/* Rows [r0, r0 + n) of a weight or bias (a copy, or NULL for NULL). */
static nb_tensor *rows(nb_tensor *t, int64_t r0, int64_t n) { return t ? nb_slice(t, 0, r0, r0 + n) : NULL; }

/* The masks of a call as one float mask [Bm, Hm, Tq, Tk] for the attention
 * (NULL when there is none, or on error with *err set). */
static nb_tensor *merged_mask(const nb_mha_call *c, int64_t b, int64_t h, int64_t tq, int64_t tk, bool *err)
{
    nb_tensor *am = c->attn_mask, *kp = c->key_padding_mask;
    *err = false;
    if (!am && !kp)
        return NULL;
    *err = true;
    if (am && !nb_check_input(KIND, 4, am))
        return NULL;
    if (kp && !nb_check_input(KIND, 5, kp))
        return NULL;
    bool am3 = am && am->ndim == 3;
    if (am && !(am->ndim == 2 && am->shape[0] == tq && am->shape[1] == tk) &&
        !(am3 && am->shape[0] == b * h && am->shape[1] == tq && am->shape[2] == tk))
        return nb_error(NB_ERR_SHAPE, "%s: attn_mask %s must be [%lld, %lld] or [%lld, %lld, %lld]", KIND,
                        nb_shape_fmt(am), (long long)tq, (long long)tk, (long long)(b * h), (long long)tq,
                        (long long)tk);
    if (am && am->requires_grad)
        return nb_error(NB_ERR_ARG, "%s: attn_mask %s requires a gradient, but it is a constant here", KIND,
                        nb_shape_fmt(am));
    if (kp && !(kp->numel == b * tk && kp->shape[kp->ndim - 1] == tk && kp->ndim <= 2))
        return nb_error(NB_ERR_SHAPE, "%s: key_padding_mask %s must be [%lld, %lld]", KIND, nb_shape_fmt(kp),
                        (long long)b, (long long)tk);
    int64_t bm = am3 || kp ? b : 1, hm = am3 ? h : 1;
    nb_tensor *m = nb_op_output(NB_SHAPE(bm, hm, tq, tk));
    if (!m)
        return NULL;
    nb_real *out = m->data;
    for (int64_t bi = 0; bi < bm; bi++)
        for (int64_t hi = 0; hi < hm; hi++)
            for (int64_t i = 0; i < tq; i++)
                for (int64_t j = 0; j < tk; j++) {
                    nb_real v = 0;
                    if (am) {
                        nb_real a = am->data[((am3 ? bi * h + hi : 0) * tq + i) * tk + j];
                        v = !c->attn_mask_bool ? a : a != 0 ? -INFINITY : 0;
                    }
                    if ((kp && kp->data[bi * tk + j] != 0) || (c->is_causal && j > i))
                        v = -INFINITY;
                    *out++ = v;
                }
    *err = false;
    return m;
}

/* q, k, v [B, H, T, head_dim] from inputs [B, T, *] (separate projections:
 * cross-attention, or kdim/vdim). */
static bool project(nb_module *m, nb_tensor *xq, nb_tensor *xk, nb_tensor *xv, nb_tensor **q, nb_tensor **k,
                    nb_tensor **v)
{
    mha_state *s = m->user;
    int64_t e = s->embed_dim, h = s->num_heads;
    nb_tensor *b = s->in_proj_bias;
    nb_tensor *wq = s->in_proj_weight ? rows(s->in_proj_weight, 0, e) : s->q_w;
    nb_tensor *wk = s->in_proj_weight ? rows(s->in_proj_weight, e, e) : s->k_w;
    nb_tensor *wv = s->in_proj_weight ? rows(s->in_proj_weight, 2 * e, e) : s->v_w;
    *q = split_heads(nb_linear_op(xq, wq, rows(b, 0, e)), h);
    *k = split_heads(nb_linear_op(xk, wk, rows(b, e, e)), h);
    *v = split_heads(nb_linear_op(xv, wv, rows(b, 2 * e, e)), h);
    return *q && *k && *v;
}

/* x in the module's layout -> [B, T, F] (unbatched [T, F] -> [1, T, F]). */
static nb_tensor *to_batch_first(const mha_state *s, nb_tensor *x, bool batched)
{
    if (!batched)
        return nb_reshape(x, NB_SHAPE(1, x->shape[0], x->shape[1]));
    return s->batch_first ? x : nb_transpose(x, 0, 1);
}

nb_tensor *nb_multihead_attention_forward(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value,
                                          const nb_mha_call *call)
{
    if (!m || !query || !key || !value)
        return nb_error(NB_ERR_ARG, "%s: NULL module or input", KIND);
    if (strcmp(m->kind, KIND) != 0)
        return nb_error(NB_ERR_ARG, "%s forward: the module is a %s", KIND, m->kind);
    if (!nb_check_input(KIND, 1, query) || !nb_check_input(KIND, 2, key) || !nb_check_input(KIND, 3, value))
        return NULL;
    const mha_state *s = m->user;
    const nb_mha_call c = call ? *call : (nb_mha_call){0};
    int r = query->ndim;
    bool batched = r == 3, ok = (r == 2 || r == 3) && key->ndim == r && value->ndim == r;
    int bd = s->batch_first ? 0 : 1, td = batched ? 1 - bd : 0;
    ok = ok && query->shape[r - 1] == s->embed_dim && key->shape[r - 1] == s->kdim &&
         value->shape[r - 1] == s->vdim && key->shape[td] == value->shape[td];
    if (ok && batched)
        ok = key->shape[bd] == query->shape[bd] && value->shape[bd] == query->shape[bd];
    if (!ok)
        return nb_error(NB_ERR_SHAPE,
                        "%s: query %s, key %s, value %s do not fit embed_dim %lld, kdim %lld, vdim %lld "
                        "(%s, or unbatched [T, E])",
                        KIND, nb_shape_fmt(query), nb_shape_fmt(key), nb_shape_fmt(value),
                        (long long)s->embed_dim, (long long)s->kdim, (long long)s->vdim,
                        s->batch_first ? "[B, T, E]" : "[T, B, E]");
    nb_tensor *xq = to_batch_first(s, query, batched);
    nb_tensor *xk = key == query ? xq : to_batch_first(s, key, batched);
    nb_tensor *xv = value == key ? xk : to_batch_first(s, value, batched);
    if (!xq || !xk || !xv)
        return NULL;
    int64_t b = xq->shape[0], tq = xq->shape[1], tk = xk->shape[1], e = s->embed_dim;
    bool err;
    nb_tensor *mask = merged_mask(&c, b, s->num_heads, tq, tk, &err), *q, *k, *v, *y;
    if (err)
        return NULL;
    nb_sdpa_opts o =
        NB_SDPA_OPTS(.attn_mask = mask, .is_causal = c.is_causal && !mask,
                     .dropout_p = m->training ? s->dropout : 0, .generator = (nb_generator *)&s->gen);
    /* self-attention: one GEMM for q, k, v, and the heads read in place */
    if (s->in_proj_weight && xq == xk && xk == xv) {
        y = nb_packed_self_attention(nb_linear_op(xq, s->in_proj_weight, s->in_proj_bias), s->num_heads, o);
    } else {
        if (!project(m, xq, xk, xv, &q, &k, &v))
            return NULL;
        y = nb_scaled_dot_product_attention(q, k, v, o);
        y = nb_reshape(nb_permute(y, (const int[]){0, 2, 1, 3}), NB_SHAPE(b, tq, e));
    }
    y = nb_forward(m->children[0], y);
    if (!y || !batched)
        return y ? nb_reshape(y, NB_SHAPE(tq, e)) : NULL;
    return s->batch_first ? y : nb_transpose(y, 0, 1);
}

static nb_tensor *mha_forward(nb_module *m, nb_tensor *x)
{
    return nb_multihead_attention_forward(m, x, x, x, NULL);
}

/* A projection weight [rows, cols] from xavier_uniform_, registered as name. */
static nb_tensor *xavier_param(nb_module *m, const char *name, int64_t rows_, int64_t cols, nb_generator *g)
{
    nb_tensor *w = nb_module_param(m, name, nb_empty(NB_SHAPE(rows_, cols)));
    return w && nb_init_xavier_uniform_(w, 1, g) ? w : NULL;
}

nb_mha_opts nb_mha_defaults(void) { return NB_MHA_OPTS(); }

nb_module *nb_multihead_attention(int64_t embed_dim, int64_t num_heads, nb_mha_opts o)
{
    if (!nb_opts_made(KIND, o.nb_tag, "mha"))
        return NULL;
    int64_t kdim = o.kdim ? o.kdim : embed_dim, vdim = o.vdim ? o.vdim : embed_dim;
    if (embed_dim < 1 || num_heads < 1 || embed_dim % num_heads != 0 || kdim < 1 || vdim < 1)
        return nb_error(
            NB_ERR_ARG,
            "%s: embed_dim %lld must be a positive multiple of num_heads %lld (kdim %lld, vdim %lld)", KIND,
            (long long)embed_dim, (long long)num_heads, (long long)kdim, (long long)vdim);
    if (!(o.dropout >= 0 && o.dropout <= 1))
        return nb_error(NB_ERR_ARG, "%s: dropout %g must be in [0, 1]", KIND, o.dropout);
    nb_module *m = nb_layer_new(KIND, mha_forward, sizeof(mha_state));
    if (!m)
        return NULL;
    mha_state *s = m->user;
    *s = (mha_state){.embed_dim = embed_dim,
                     .num_heads = num_heads,
                     .kdim = kdim,
                     .vdim = vdim,
                     .dropout = o.dropout,
                     .batch_first = o.batch_first};
    nb_generator_seed(&s->gen, nb_generator_next(nb_default_generator()));
    m->generator = &s->gen;
    nb_generator *g = o.generator;
    /* out_proj is made (and drawn) first, as in PyTorch's __init__ */
    bool ok = nb_module_add(m, "out_proj", nb_linear_ex(embed_dim, embed_dim, o.bias, g)) == 0;
    if (ok && kdim == embed_dim && vdim == embed_dim) {
        ok = (s->in_proj_weight = xavier_param(m, "in_proj_weight", 3 * embed_dim, embed_dim, g)) != NULL;
    } else if (ok) {
        ok = (s->q_w = xavier_param(m, "q_proj_weight", embed_dim, embed_dim, g)) &&
             (s->k_w = xavier_param(m, "k_proj_weight", embed_dim, kdim, g)) &&
             (s->v_w = xavier_param(m, "v_proj_weight", embed_dim, vdim, g));
    }
    if (ok && o.bias) {
        s->in_proj_bias = nb_module_param(m, "in_proj_bias", nb_zeros(NB_SHAPE(3 * embed_dim)));
        nb_tensor *ob = nb_module_get(m, "out_proj.bias");
        ok = s->in_proj_bias && ob && nb_init_constant_(ob, 0);
    }
    if (!ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
