/* tests/test_transformer.c — TransformerEncoderLayer (pre- and post-LayerNorm)
 * against torch 1.13's with the same weights, its parameter names, causal
 * self-attention from the call or the layer, weight tying (one tensor, two
 * state_dict keys, listed once, gradients of both uses summed), and gradient
 * checks through a block in the float64 build. */
#include "common.h"

TestSuite(transformer, .init = quiet, .fini = end_step);

#ifdef NABLA_F64
#define REFTOL 1e-11 /* the PyTorch numbers have 12 decimals */
#else
#define REFTOL 5e-6
#endif

/* The reference (/usr/bin/python3, torch 1.13, float64, eval mode):
 *   fill(shape, f) = torch.tensor([f(i) for i in range(prod(shape))]).reshape(shape)
 *   for k, (name, p) in enumerate(m.named_parameters()):
 *       norm*.weight: fill(1 + 0.1 sin(i + k)); norm*.bias: fill(0.05 cos(i + k));
 *       others: fill(0.5 sin(0.1 (k + 1) i + k))
 *   x = fill((2,3,4), sin(0.5 i))
 * pre_ln_gelu_causal: TransformerEncoderLayer(4, 2, dim_feedforward=6,
 *   dropout=0.0, activation='gelu', batch_first=True, norm_first=True),
 *   m(x, src_mask=torch.ones(3,3,dtype=torch.bool).triu(1))
 * post_ln_relu: TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0,
 *   batch_first=True), m(x) */
static const double want_pre_ln_gelu_causal[24] = {
    0.913074973832,  0.945774836364,  0.146861498940,  0.944913022700,  1.854188766504,  1.135478954578,
    -0.594284293017, -0.578365608779, 0.116939024529,  -0.447187457801, -1.630979440937, -1.000551734227,
    0.629621004836,  0.681681891742,  -0.035864289823, 0.882502787595,  1.933269090668,  1.336510747326,
    -0.323883613484, -0.301214790108, 0.391216560982,  -0.344881234878, -1.719901101157, -1.159524787572};
static const double want_post_ln_relu[24] = {
    -1.529476102734, 0.904717959353,  0.690029741742, -0.015947574213, 0.819436186367,  0.967693174610,
    -0.429487516936, -1.444582427359, 1.416222363767, -0.210195690244, -1.178700968500, 0.086491377932,
    -1.618267928442, 0.696658773561,  0.670952357338, 0.343793980830,  0.498616410133,  1.126580894073,
    -0.186704893920, -1.542336992863, 1.450485891950, -0.099112157556, -1.155995899587, -0.104878353135};
static const char *const NAMES[12] = {"self_attn.in_proj_weight",
                                      "self_attn.in_proj_bias",
                                      "self_attn.out_proj.weight",
                                      "self_attn.out_proj.bias",
                                      "linear1.weight",
                                      "linear1.bias",
                                      "linear2.weight",
                                      "linear2.bias",
                                      "norm1.weight",
                                      "norm1.bias",
                                      "norm2.weight",
                                      "norm2.bias"};

static nb_tensor *input(void)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 3, 4));
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)sin(0.5 * (double)i);
    return x;
}

/* The reference's weights; checks PyTorch's names and order on the way. */
static void set_weights(nb_module *m)
{
    nb_param_list p;
    cr_assert_eq(nb_module_state_dict(m, &p), 12);
    for (int k = 0; k < 12; k++) {
        cr_assert_str_eq(p.names[k], NAMES[k]);
        nb_tensor *t = p.tensors[k];
        for (int64_t i = 0; i < t->numel; i++) {
            double di = (double)i;
            t->data[i] = (nb_real)(k >= 8 ? (k % 2 == 0 ? 1 + 0.1 * sin(di + k) : 0.05 * cos(di + k))
                                          : 0.5 * sin(0.1 * (k + 1) * di + k));
        }
    }
    nb_param_list_free(&p);
}

static nb_transformer_opts small_opts(const char *act, bool norm_first)
{
    nb_transformer_opts o = nb_transformer_defaults();
    o.dim_feedforward = 6;
    o.dropout = 0;
    o.activation = act;
    o.batch_first = true;
    o.norm_first = norm_first;
    return o;
}

Test(transformer, pre_layernorm_causal_matches_torch)
{
    nb_transformer_opts o = small_opts("gelu", true);
    nb_module *m = nb_transformer_encoder_layer(4, 2, o);
    cr_assert_not_null(m, "%s", nb_last_error_message());
    set_weights(m);
    nb_tensor *x = input();
    nb_tensor *y = nb_transformer_encoder_layer_forward(m, x, &(nb_mha_call){.is_causal = true});
    assert_shape(y, 3, (int64_t[]){2, 3, 4});
    assert_close_array(y->data, want_pre_ln_gelu_causal, 24, REFTOL);
    nb_module_free(m);
    o.is_causal = true; /* the layer's own flag: nb_forward is causal */
    m = nb_transformer_encoder_layer(4, 2, o);
    set_weights(m);
    assert_close_array(nb_forward(m, x)->data, want_pre_ln_gelu_causal, 24, REFTOL);
    nb_free(x);
    nb_module_free(m);
}

Test(transformer, post_layernorm_matches_torch)
{
    nb_transformer_opts o = small_opts("relu", false);
    nb_module *m = nb_transformer_encoder_layer(4, 2, o);
    set_weights(m);
    nb_tensor *x = input();
    assert_close_array(nb_forward(m, x)->data, want_post_ln_relu, 24, REFTOL);
    nb_free(x);
    nb_module_free(m);
}

/* PyTorch's defaults: d_model 8 -> linear1 [2048, 8]; a learnable activation
 * adds its parameter after the twelve (activation.beta for swish). */
Test(transformer, defaults_and_learnable_activation)
{
    nb_module *m = nb_transformer_encoder_layer(8, 2, NB_TRANSFORMER_OPTS());
    nb_param_list p;
    cr_assert_eq(nb_module_state_dict(m, &p), 12);
    assert_shape(p.tensors[4], 2, (int64_t[]){2048, 8});
    nb_param_list_free(&p);
    nb_module_free(m);
    nb_transformer_opts o = small_opts("swish", true);
    m = nb_transformer_encoder_layer(4, 2, o);
    cr_assert_not_null(m, "%s", nb_last_error_message());
    cr_assert_eq(nb_module_state_dict(m, &p), 13);
    cr_assert_str_eq(p.names[12], "activation.beta"); /* swish's learnable_name */
    nb_param_list_free(&p);
    nb_module_free(m);
    o.activation = "no_such";
    cr_assert_null(nb_transformer_encoder_layer(4, 2, o));
}

/* A GPT's tie: the output layer's weight is the token embedding's. */
Test(transformer, weight_tying_shares_one_tensor)
{
    nb_module *model = nb_sequential(2, nb_embedding(10, 4), nb_linear_ex(4, 10, false, NULL));
    nb_tensor *wte = nb_module_get(model, "0.weight");
    cr_assert_eq(nb_module_tie(nb_module_child(model, "1"), "weight", wte), wte);
    nb_param_list p;
    cr_assert_eq(nb_module_state_dict(model, &p), 2);
    cr_assert_str_eq(p.names[1], "1.weight");
    cr_assert_eq(p.tensors[0], p.tensors[1]);
    nb_param_list_free(&p);
    cr_assert_eq(nb_module_parameters(model, &p), 1);
    cr_assert_str_eq(p.names[0], "0.weight");
    nb_param_list_free(&p);
    cr_assert_eq(nb_module_num_params(model), 40);
    /* logits[t, v] = wte[v] . wte[id_t]: the gradient of both uses lands in wte */
    nb_tensor *ids = nb_from_int64((int64_t[]){3, 7}, NB_SHAPE(2));
    nb_tensor *logits = nb_forward(model, ids);
    cr_assert_eq(nb_backward(nb_sum(logits)), 0);
    /* d/dwte[v] = sum_t wte[id_t] (output use) + [v in ids] sum_v' wte[v'] (lookup use) */
    for (int d = 0; d < 4; d++) {
        double lookup_sum = 0, col = 0;
        for (int v = 0; v < 10; v++)
            col += (double)wte->data[v * 4 + d];
        lookup_sum = (double)wte->data[3 * 4 + d] + (double)wte->data[7 * 4 + d];
        cr_assert(fabs((double)wte->grad[0 * 4 + d] - lookup_sum) < 1e-5);
        cr_assert(fabs((double)wte->grad[3 * 4 + d] - (lookup_sum + col)) < 1e-5);
    }
    cr_assert_null(nb_module_tie(nb_module_child(model, "1"), "bias", wte));
    assert_error(NB_ERR_ARG, "module_tie: Linear has no parameter named 'bias'");
    nb_tensor *other = nb_requires_grad(nb_zeros(NB_SHAPE(3, 4)), true);
    cr_assert_null(nb_module_tie(nb_module_child(model, "1"), "weight", other));
    assert_error(NB_ERR_ARG, "the tensor [3,4] must be a parameter of that shape");
    nb_free(other), nb_free(ids);
    nb_module_free(model); /* frees wte once (valgrind and ASan check) */
}

#ifdef NABLA_F64
typedef struct gc_block {
    nb_module *m;
} gc_block;

/* in[0] is the input; the rest are the block's parameters, which it reads itself. */
static nb_tensor *f_block(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return nb_forward(((gc_block *)ctx)->m, in[0]);
}

Test(transformer, gradcheck_through_a_block)
{
    const char *acts[2] = {"gelu_tanh", "silu"};
    for (int pre = 0; pre < 2; pre++) {
        nb_transformer_opts o = small_opts(acts[pre], pre);
        o.is_causal = pre;
        nb_module *m = nb_transformer_encoder_layer(4, 2, o);
        set_weights(m);
        nb_tensor *x = nb_requires_grad(input(), true);
        nb_param_list p;
        nb_module_parameters(m, &p);
        nb_tensor *in[13] = {x};
        for (int i = 0; i < 12; i++)
            in[i + 1] = p.tensors[i];
        gc_block c = {m};
        nb_gradcheck_result r = nb_gradcheck(f_block, 13, in, &c, NB_GRADCHECK_OPTS());
        cr_assert(r.ok, "norm_first %d: %s", pre, r.message);
        cr_assert_gt(r.nonzero, r.checked / 2);
        nb_param_list_free(&p);
        nb_free(x);
        nb_module_free(m);
        nb_step_end();
    }
}
#endif
