/* tests/test_mha.c — MultiheadAttention against torch 1.13's
 * nn.MultiheadAttention (self- and cross-attention, masks, batch_first,
 * kdim/vdim), its parameter names, shapes and initialisation, a gradcheck
 * through it in the float64 build, and its errors. */
#include "common.h"

TestSuite(mha, .init = quiet, .fini = end_step);

#ifdef NABLA_F64
#define REFTOL 1e-11 /* the PyTorch numbers have 12 decimals */
#else
#define REFTOL 2e-6
#endif

/* The reference (/usr/bin/python3, torch 1.13, float64, eval mode):
 *   fill(shape, f) = torch.tensor([f(i) for i in range(prod(shape))]).reshape(shape)
 *   in_proj_weight (or q_proj_weight) = fill(sin(0.37 i)), k_proj_weight =
 *   fill(sin(0.41 i + 1)), v_proj_weight = fill(sin(0.43 i + 2)),
 *   in_proj_bias = fill(0.1 cos(i)), out_proj.weight = fill(cos(0.23 i + 0.5)),
 *   out_proj.bias = fill(0.05 i - 0.2);  y = m(q, k, v, need_weights=False)[0]
 * self:  MultiheadAttention(4, 2), x = fill((3,2,4), sin(0.5 i)), m(x, x, x)
 * cross: the same module, kv = fill((5,2,4), cos(0.3 i + 0.2)),
 *        key_padding_mask [2,5] bool, True at [1, 3:]; attn_mask = fill((3,5), 0.3 sin(i))
 * batch_first_causal: MultiheadAttention(4, 2, batch_first=True), x =
 *        fill((2,3,4), sin(0.5 i)), attn_mask = torch.ones(3,3,dtype=bool).triu(1)
 * kdim_vdim: MultiheadAttention(4, 2, kdim=3, vdim=5), k = fill((5,2,3),
 *        cos(0.3 i + 0.2)), v = fill((5,2,5), sin(0.7 i)) */
static const double want_self[24] = {
    0.724000004435,  0.665653556733,  -0.035721273422, -0.787770860324, 0.263143383045, 0.232172197133,
    -0.100088142381, -0.432278993996, -1.678815882573, -0.907320985089, 0.461215246940, 1.387312002713,
    0.425248804246,  0.523083914352,  0.090286800608,  -0.492524755649, 0.636389330098, 0.510391587058,
    -0.136232260663, -0.754292054719, -1.720282819295, -1.027196608051, 0.357436046301, 1.381444562500};
static const double want_cross[24] = {
    0.783587645340,  0.582126036087,  -0.196514225610, -0.899066562642, 0.978824827244, 0.576725052682,
    -0.398295456739, -1.138151853338, -1.796944061960, -0.992652735048, 0.475952038075, 1.490499442899,
    0.955232315598,  0.567060825616,  -0.386412512203, -1.114089771631, 0.766519363040, 0.505920359486,
    -0.271779813181, -0.914055706145, -0.857831026772, -0.443262097237, 0.202502847400, 0.609786742031};
static const double want_batch_first_causal[24] = {
    0.813169010957,  0.805975492449,  0.045129434209,  -0.830130819317, 0.574601866044, 0.486374498735,
    -0.103544869029, -0.690669604955, -1.678607942438, -0.907170748203, 0.461189339874, 1.387130375781,
    0.544715678835,  0.701661804005,  0.187192096185,  -0.553688282611, 0.392544851859, 0.254490967969,
    -0.202447288707, -0.578620232953, -1.720625666016, -1.027468484460, 0.357449476605, 1.381732711607};
static const double want_kdim_vdim[24] = {
    0.092343737014,  -0.338130583769, -0.620290336470, -0.492274162512, -0.943369632226, -0.106492910779,
    0.696084575440,  0.871061075168,  0.741967133974,  -0.624104569858, -1.616411343528, -1.413240545486,
    -1.197342521486, -0.149996520123, 0.897346737845,  1.158422034021,  0.102092781022,  -0.354057067651,
    -0.649336550400, -0.511541242375, -1.259548329369, 0.304020705308,  1.509658118987,  1.446305962267};
static nb_tensor *fill(int ndim, const int64_t *shape, double a, double b, double c, bool use_cos)
{
    nb_tensor *t = nb_zeros(ndim, shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)(c * (use_cos ? cos(a * (double)i + b) : sin(a * (double)i + b)));
    return t;
}

static void set_fn(nb_tensor *t, double a, double b, double c, bool use_cos)
{
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)(c * (use_cos ? cos(a * (double)i + b) : sin(a * (double)i + b)));
}

static void set_weights(nb_module *m)
{
    nb_param_list p;
    cr_assert_geq(nb_module_parameters(m, &p), 4);
    for (int i = 0; i < p.count; i++) {
        const char *n = p.names[i];
        nb_tensor *t = p.tensors[i];
        if (!strcmp(n, "in_proj_weight") || !strcmp(n, "q_proj_weight"))
            set_fn(t, 0.37, 0, 1, false);
        else if (!strcmp(n, "k_proj_weight"))
            set_fn(t, 0.41, 1, 1, false);
        else if (!strcmp(n, "v_proj_weight"))
            set_fn(t, 0.43, 2, 1, false);
        else if (!strcmp(n, "in_proj_bias"))
            set_fn(t, 1, 0, 0.1, true);
        else if (!strcmp(n, "out_proj.weight"))
            set_fn(t, 0.23, 0.5, 1, true);
        else if (!strcmp(n, "out_proj.bias"))
            for (int64_t j = 0; j < t->numel; j++)
                t->data[j] = (nb_real)(0.05 * (double)j - 0.2);
    }
    nb_param_list_free(&p);
}

Test(mha, self_attention_matches_torch)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS());
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(3, 2, 4), 0.5, 0, 1, false);
    nb_tensor *y = nb_forward(m, x);
    assert_shape(y, 3, (int64_t[]){3, 2, 4});
    assert_close_array(y->data, want_self, 24, REFTOL);
    nb_free(x);
    nb_module_free(m);
}

Test(mha, cross_attention_with_masks_matches_torch)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS());
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(3, 2, 4), 0.5, 0, 1, false),
              *kv = fill(NB_SHAPE(5, 2, 4), 0.3, 0.2, 1, true);
    nb_tensor *kpm = nb_zeros(NB_SHAPE(2, 5)), *am = fill(NB_SHAPE(3, 5), 1, 0, 0.3, false);
    kpm->data[8] = kpm->data[9] = 1;
    nb_tensor *y = nb_multihead_attention_forward(m, x, kv, kv,
                                                  &(nb_mha_call){.attn_mask = am, .key_padding_mask = kpm});
    cr_assert_not_null(y, "%s", nb_last_error_message());
    assert_shape(y, 3, (int64_t[]){3, 2, 4});
    assert_close_array(y->data, want_cross, 24, REFTOL);
    nb_free(x), nb_free(kv), nb_free(kpm), nb_free(am);
    nb_module_free(m);
}

/* A boolean attn_mask marking j > i (PyTorch: True = not allowed) and
 * is_causal give PyTorch's result. */
Test(mha, batch_first_causal_matches_torch)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS(.batch_first = true));
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(2, 3, 4), 0.5, 0, 1, false), *am = nb_zeros(NB_SHAPE(3, 3));
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            am->data[i * 3 + j] = 1;
    nb_tensor *y =
        nb_multihead_attention_forward(m, x, x, x, &(nb_mha_call){.attn_mask = am, .attn_mask_bool = true});
    assert_close_array(y->data, want_batch_first_causal, 24, REFTOL);
    y = nb_multihead_attention_forward(m, x, x, x, &(nb_mha_call){.is_causal = true});
    assert_close_array(y->data, want_batch_first_causal, 24, REFTOL);
    nb_free(x), nb_free(am);
    nb_module_free(m);
}

Test(mha, kdim_vdim_match_torch)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS(.kdim = 3, .vdim = 5));
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(3, 2, 4), 0.5, 0, 1, false), *k = fill(NB_SHAPE(5, 2, 3), 0.3, 0.2, 1, true);
    nb_tensor *v = fill(NB_SHAPE(5, 2, 5), 0.7, 0, 1, false);
    nb_tensor *y = nb_multihead_attention_forward(m, x, k, v, NULL);
    cr_assert_not_null(y, "%s", nb_last_error_message());
    assert_close_array(y->data, want_kdim_vdim, 24, REFTOL);
    nb_free(x), nb_free(k), nb_free(v);
    nb_module_free(m);
}

/* Dropout on the weights in training mode only; nb_module_seed repeats it. */
Test(mha, dropout_only_in_training)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS(.dropout = 0.5));
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(3, 2, 4), 0.5, 0, 1, false);
    nb_module_seed(m, 1);
    nb_tensor *a = nb_forward(m, x), *b = nb_forward(m, x);
    nb_module_seed(m, 1);
    nb_tensor *c = nb_forward(m, x);
    cr_assert_neq(memcmp(a->data, b->data, 24 * sizeof(nb_real)), 0, "two draws, one mask");
    cr_assert_eq(memcmp(a->data, c->data, 24 * sizeof(nb_real)), 0, "the same seed, another mask");
    nb_module_train(m, false);
    assert_close_array(nb_forward(m, x)->data, want_self, 24, REFTOL);
    nb_free(x);
    nb_module_free(m);
}

/* Unbatched [T, E] is the batch of one. */
Test(mha, unbatched_is_a_batch_of_one)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS());
    set_weights(m);
    nb_tensor *x = fill(NB_SHAPE(3, 2, 4), 0.5, 0, 1, false), *x0 = nb_zeros(NB_SHAPE(3, 4));
    for (int t = 0; t < 3; t++)
        memcpy(x0->data + t * 4, x->data + t * 8, 4 * sizeof(nb_real)); /* batch 0 of [T, B, E] */
    nb_tensor *y = nb_forward(m, x0);
    assert_shape(y, 2, (int64_t[]){3, 4});
    for (int t = 0; t < 3; t++)
        assert_close_array(y->data + t * 4, want_self + t * 8, 4, REFTOL);
    nb_free(x), nb_free(x0);
    nb_module_free(m);
}

/* PyTorch's names and order; xavier_uniform_ bound sqrt(6 / (E + 3E)) for
 * in_proj_weight, zero biases, out_proj.weight within 1/sqrt(E). */
Test(mha, parameters_as_pytorch)
{
    nb_module *m = nb_multihead_attention(64, 4, NB_MHA_OPTS());
    nb_param_list p;
    cr_assert_eq(nb_module_state_dict(m, &p), 4);
    const char *names[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    int64_t numel[4] = {3 * 64 * 64, 3 * 64, 64 * 64, 64};
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(p.names[i], names[i]);
        cr_assert_eq(p.tensors[i]->numel, numel[i]);
    }
    cr_assert_eq(p.tensors[0]->shape[0], 192);
    double bound = sqrt(6.0 / (64 + 192)), mx = 0, ob = 0;
    for (int64_t i = 0; i < p.tensors[0]->numel; i++)
        mx = fmax(mx, fabs((double)p.tensors[0]->data[i]));
    cr_assert(mx <= bound && mx > 0.95 * bound, "max |w| %g, bound %g", mx, bound);
    for (int64_t i = 0; i < p.tensors[2]->numel; i++)
        ob = fmax(ob, fabs((double)p.tensors[2]->data[i]));
    cr_assert(ob <= 1 / 8.0 && ob > 0.95 / 8, "out_proj max %g", ob);
    for (int i = 1; i < 4; i += 2)
        for (int64_t j = 0; j < p.tensors[i]->numel; j++)
            cr_assert_eq(p.tensors[i]->data[j], 0);
    nb_param_list_free(&p);
    nb_module_free(m);
    m = nb_multihead_attention(4, 2, NB_MHA_OPTS(.kdim = 3, .vdim = 5, .bias = false));
    cr_assert_eq(nb_module_state_dict(m, &p), 4);
    const char *sep[4] = {"q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"};
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(p.names[i], sep[i]);
    cr_assert_eq(p.tensors[1]->shape[1], 3);
    cr_assert_eq(p.tensors[2]->shape[1], 5);
    nb_param_list_free(&p);
    nb_module_free(m);
}

#ifdef NABLA_F64
typedef struct gc_mha {
    nb_module *m;
    nb_mha_call call;
    bool cross; /* in[1] is the key and value; else self-attention on in[0] */
} gc_mha;

/* in[0] (and in[1]) are the inputs; any further ones are the module's own
 * parameters, which it reads itself. */
static nb_tensor *f_mha(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gc_mha *c = ctx;
    nb_tensor *kv = c->cross ? in[1] : in[0];
    return nb_multihead_attention_forward(c->m, in[0], kv, kv, &c->call);
}

/* Inputs and every parameter, self- and cross-attention with masks. */
Test(mha, gradcheck_through_the_layer)
{
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS(.batch_first = true));
    set_weights(m);
    nb_tensor *x = nb_requires_grad(fill(NB_SHAPE(2, 3, 4), 0.5, 0, 1, false), true);
    nb_tensor *kv = nb_requires_grad(fill(NB_SHAPE(2, 5, 4), 0.3, 0.2, 1, true), true);
    nb_tensor *kpm = nb_zeros(NB_SHAPE(2, 5));
    kpm->data[9] = 1;
    nb_param_list p;
    cr_assert_eq(nb_module_parameters(m, &p), 4);
    gc_mha c = {m, {.is_causal = true}, false};
    nb_gradcheck_result r =
        nb_gradcheck(f_mha, 5, (nb_tensor *[]){x, p.tensors[0], p.tensors[1], p.tensors[2], p.tensors[3]}, &c,
                     NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, r.checked / 2);
    c = (gc_mha){m, {.key_padding_mask = kpm}, true};
    r = nb_gradcheck(f_mha, 6, (nb_tensor *[]){x, kv, p.tensors[0], p.tensors[1], p.tensors[2], p.tensors[3]},
                     &c, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, r.checked / 2);
    nb_param_list_free(&p);
    nb_free(x), nb_free(kv), nb_free(kpm);
    nb_module_free(m);
}
#endif

Test(mha, errors_name_the_layer_and_shapes)
{
    cr_assert_null(nb_multihead_attention(6, 4, NB_MHA_OPTS()));
    assert_error(NB_ERR_ARG, "MultiheadAttention: embed_dim 6 must be a positive multiple of num_heads 4");
    nb_module *m = nb_multihead_attention(4, 2, NB_MHA_OPTS());
    nb_tensor *x = nb_zeros(NB_SHAPE(3, 2, 5));
    cr_assert_null(nb_forward(m, x));
    assert_error(NB_ERR_SHAPE,
                 "MultiheadAttention: query [3,2,5], key [3,2,5], value [3,2,5] do not fit embed_dim 4");
    nb_tensor *q = nb_zeros(NB_SHAPE(3, 2, 4)), *am = nb_zeros(NB_SHAPE(3, 4));
    cr_assert_null(nb_multihead_attention_forward(m, q, q, q, &(nb_mha_call){.attn_mask = am}));
    assert_error(NB_ERR_SHAPE, "MultiheadAttention: attn_mask [3,4] must be [3, 3] or [4, 3, 3]");
    nb_free(x), nb_free(q), nb_free(am);
    nb_module_free(m);
}
