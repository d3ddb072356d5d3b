/* nabla/attention.h — attention layers: torch.nn.MultiheadAttention and a
 * Transformer block (torch.nn.TransformerEncoderLayer, pre- or
 * post-LayerNorm), with PyTorch's parameter names, layouts and
 * initialisation, so a state_dict maps one to one. The ops under them are
 * nb_scaled_dot_product_attention and, for self-attention,
 * nb_packed_self_attention (nabla/ops.h).
 *
 *   nb_module *attn = nb_multihead_attention(512, 8, NB_MHA_OPTS(.batch_first = true));
 *   nb_tensor *y = nb_multihead_attention_forward(attn, x, x, x, &(nb_mha_call){.is_causal = true});
 *       // PyTorch: y, _ = attn(x, x, x, attn_mask=causal_mask, need_weights=False) */
#ifndef NABLA_ATTENTION_H
#define NABLA_ATTENTION_H

#include "nn.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Options of nb_multihead_attention, made by NB_MHA_OPTS(...) with PyTorch's
 * defaults (NB_MHA_OPTS(): all of them). */
typedef struct nb_mha_opts {
    uint32_t nb_tag;
    double dropout;          /* on the attention weights, in training mode; 0 */
    bool bias;               /* true; false: no in_proj_bias, no out_proj.bias */
    bool batch_first;        /* inputs and output [B, T, E]; else [T, B, E] */
    int64_t kdim, vdim;      /* key and value features; 0 (no size can be 0) is PyTorch's None: embed_dim */
    nb_generator *generator; /* the initialisation; NULL: the default generator */
} nb_mha_opts;
#define NB_MHA_OPTS(...) NB_OPTS_(nb_mha_opts, .bias = true, __VA_ARGS__)
nb_mha_opts nb_mha_defaults(void);

/* torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias,
 * kdim=, vdim=, batch_first=); add_bias_kv and add_zero_attn are not
 * offered. Parameters, in PyTorch's order: in_proj_weight [3E, E] (rows: q,
 * then k, then v), or q_proj_weight [E, E], k_proj_weight [E, kdim],
 * v_proj_weight [E, vdim] when kdim or vdim differs from E; in_proj_bias
 * [3E]; out_proj.weight [E, E], out_proj.bias [E]. Initialised as
 * _reset_parameters: xavier_uniform_ for the projection weights, zero biases,
 * out_proj.weight as nn.Linear's. */
nb_module *nb_multihead_attention(int64_t embed_dim, int64_t num_heads, nb_mha_opts opts);

/* The masks of one call (NULL: none). */
typedef struct nb_mha_call {
    /* [Tq, Tk], or [B num_heads, Tq, Tk] (one per batch and head). As in
     * PyTorch's MultiheadAttention (the opposite of F.sdpa's boolean mask):
     * with attn_mask_bool, non-zero means NOT allowed to attend; else added to
     * the scores. */
    nb_tensor *attn_mask;
    bool attn_mask_bool;
    /* [B, Tk]: non-zero marks a padding key, which no query attends to
     * (PyTorch's boolean key_padding_mask). */
    nb_tensor *key_padding_mask;
    /* Key j attends to query i only when j <= i, without any mask tensor
     * (PyTorch 2's is_causal, which there also wants the mask itself). */
    bool is_causal;
} nb_mha_call;

/* attn_output of PyTorch's forward(query, key, value, key_padding_mask,
 * need_weights=False, attn_mask): the head-averaged weights are not returned
 * (need_weights is always False here; the fused kernel never forms them).
 * query [Tq, B, E] (batch_first: [B, Tq, E], or [Tq, E] unbatched), key
 * [Tk, B, kdim], value [Tk, B, vdim] -> [Tq, B, E] (batch_first [B, Tq, E]).
 * In projection: q, k, v = x W^T + b with W the rows of in_proj_weight; q is
 * scaled by 1/sqrt(head_dim) after the bias (inside the attention).
 * nb_forward(m, x) is self-attention without masks. */
nb_tensor *nb_multihead_attention_forward(nb_module *m, nb_tensor *query, nb_tensor *key, nb_tensor *value,
                                          const nb_mha_call *call);

/* Options of nb_transformer_encoder_layer, PyTorch's arguments, made by
 * NB_TRANSFORMER_OPTS(...) (or nb_transformer_defaults()): dim_feedforward
 * 2048, dropout 0.1, activation "relu", layer_norm_eps 1e-5, bias true, the
 * rest false/NULL, then the fields named. */
typedef struct nb_transformer_opts {
    uint32_t nb_tag;
    int64_t dim_feedforward;
    double dropout;         /* in the attention and after each sub-block */
    const char *activation; /* any name of the activation registry: "gelu", "gelu_tanh", "silu", ... */
    double layer_norm_eps;
    bool batch_first;
    bool norm_first;         /* pre-LayerNorm (GPT-2's layout) */
    bool bias;               /* false: PyTorch 2.1's bias=False (linear, attention and LayerNorm biases) */
    bool is_causal;          /* every forward is causal self-attention (a nabla extension) */
    nb_generator *generator; /* the initialisation; NULL: the default generator */
} nb_transformer_opts;
#define NB_TRANSFORMER_OPTS(...)                                                                             \
    NB_OPTS_(nb_transformer_opts, .dim_feedforward = 2048, .dropout = 0.1, .activation = "relu",             \
             .layer_norm_eps = 1e-5, .bias = true, __VA_ARGS__)
nb_transformer_opts nb_transformer_defaults(void);

/* torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
 * activation, layer_norm_eps, batch_first, norm_first, bias):
 *   norm_first:  x = x + dropout1(self_attn(norm1(x)))
 *                x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
 *   otherwise:   x = norm1(x + dropout1(self_attn(x))), then norm2(x + ff(x))
 * Parameters as PyTorch's: self_attn.in_proj_weight, self_attn.in_proj_bias,
 * self_attn.out_proj.weight/bias, linear1.weight/bias, linear2.weight/bias,
 * norm1.weight/bias, norm2.weight/bias (and activation.beta or .weight for a
 * learnable activation). */
nb_module *nb_transformer_encoder_layer(int64_t d_model, int64_t nhead, nb_transformer_opts opts);
/* layer(x, src_mask, src_key_padding_mask, is_causal): the masks of the self-attention in call
 * (NULL: none; is_causal also when the layer was made with it). nb_forward(m, x) is the same
 * with call NULL. */
nb_tensor *nb_transformer_encoder_layer_forward(nb_module *m, nb_tensor *x, const nb_mha_call *call);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
