/* tests/test_nn.c — modules and layers: Linear against hand-computed values and
 * PyTorch's default init, parameter names and counts, custom models, summary
 * text, train/eval, dropout and alpha dropout statistics and seeding,
 * activation/flatten/maxout layers, error paths, and (float64) gradchecks of
 * the fused linear op, dropout with a fixed mask and learnable layers. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

TestSuite(nn, .init = quiet, .fini = end_step);

static void set(nb_tensor *t, const nb_real *v) { memcpy(t->data, v, (size_t)t->numel * sizeof *v); }

static bool same_bits(const nb_tensor *a, const nb_tensor *b)
{
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(nb_real)) == 0;
}

/* ---- Linear ------------------------------------------------------------ */

Test(nn, linear_forward_hand_values)
{
    nb_module *fc = nb_linear(3, 2);
    cr_assert_not_null(fc);
    cr_assert_str_eq(fc->kind, "Linear");
    set(nb_module_get(fc, "weight"), (nb_real[]){1, 2, 3, 4, 5, 6});
    set(nb_module_get(fc, "bias"), (nb_real[]){0.5, -1});
    nb_tensor *x = nb_from_array((nb_real[]){1, 0, -1, 2, 1, 0}, NB_SHAPE(2, 3));
    nb_tensor *y = nb_forward(fc, x);
    /* [1,0,-1].[1,2,3] + 0.5 = -1.5; [1,0,-1].[4,5,6] - 1 = -3; [2,1,0]: 4.5, 12 */
    assert_shape(y, 2, (int64_t[]){2, 2});
    assert_close_array(y->data, (double[]){-1.5, -3, 4.5, 12}, 4, TOL);
    /* a vector and a rank-3 input: the leading dims are kept */
    nb_tensor *v = nb_from_array((nb_real[]){2, 1, 0}, NB_SHAPE(3));
    y = nb_forward(fc, v);
    assert_shape(y, 1, (int64_t[]){2});
    assert_close_array(y->data, (double[]){4.5, 12}, 2, TOL);
    nb_tensor *x3 = nb_from_array((nb_real[]){1, 0, -1, 2, 1, 0}, NB_SHAPE(2, 1, 3));
    y = nb_forward(fc, x3);
    assert_shape(y, 3, (int64_t[]){2, 1, 2});
    assert_close_array(y->data, (double[]){-1.5, -3, 4.5, 12}, 4, TOL);
    /* without the bias */
    y = nb_linear_op(x, nb_module_get(fc, "weight"), NULL);
    assert_close_array(y->data, (double[]){-2, -2, 4, 13}, 4, TOL);
    nb_free(x), nb_free(v), nb_free(x3);
    nb_module_free(fc);
}

Test(nn, linear_backward_hand_values)
{
    nb_module *fc = nb_linear(2, 2);
    nb_tensor *w = nb_module_get(fc, "weight"), *b = nb_module_get(fc, "bias");
    set(w, (nb_real[]){1, 2, 3, 4});
    set(b, (nb_real[]){0, 0});
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){1, 2, 3, 4}, NB_SHAPE(2, 2)), true);
    cr_assert_eq(nb_backward(nb_sum(nb_forward(fc, x))), 0);
    /* L = sum(x W^T + b): dW[o][i] = sum_r x[r][i], db[o] = rows, dx[r][i] = sum_o W[o][i] */
    assert_close_array(w->grad, (double[]){4, 6, 4, 6}, 4, TOL);
    assert_close_array(b->grad, (double[]){2, 2}, 2, TOL);
    assert_close_array(x->grad, (double[]){4, 6, 4, 6}, 4, TOL);
    nb_module_zero_grad(fc);
    assert_close_array(w->grad, (double[]){0, 0, 0, 0}, 4, 0);
    assert_close_array(b->grad, (double[]){0, 0}, 2, 0);
    nb_free(x);
    nb_module_free(fc);
}

Test(nn, linear_default_init_bounds)
{
    nb_module *fc = nb_linear(100, 400);
    nb_tensor *w = nb_module_get(fc, "weight"), *b = nb_module_get(fc, "bias");
    assert_shape(w, 2, (int64_t[]){400, 100});
    assert_shape(b, 1, (int64_t[]){400});
    cr_assert(w->requires_grad && b->requires_grad);
    /* U(-1/sqrt(100), 1/sqrt(100)) for both: bound 0.1, variance 0.01 / 3 */
    double wmax = 0, bmax = 0, ss = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        wmax = fmax(wmax, fabs((double)w->data[i]));
        ss += (double)w->data[i] * w->data[i];
    }
    for (int64_t i = 0; i < b->numel; i++)
        bmax = fmax(bmax, fabs((double)b->data[i]));
    cr_assert(wmax <= 0.1 * (1 + 1e-6) && wmax > 0.099, "max |w| %g", wmax);
    cr_assert(bmax <= 0.1 * (1 + 1e-6) && bmax > 0.09, "max |b| %g", bmax);
    /* 40000 draws: relative standard error of the variance sqrt(0.8 / 40000) ~ 0.0045 */
    cr_assert(fabs(ss / (double)w->numel / (0.01 / 3) - 1) < 0.03, "var %g", ss / (double)w->numel);
    nb_module_free(fc);
}

Test(nn, linear_same_seed_same_bits)
{
    nb_generator g1, g2;
    nb_generator_seed(&g1, 11);
    nb_generator_seed(&g2, 11);
    nb_module *a = nb_linear_ex(30, 20, true, &g1), *b = nb_linear_ex(30, 20, true, &g2);
    cr_assert(same_bits(nb_module_get(a, "weight"), nb_module_get(b, "weight")));
    cr_assert(same_bits(nb_module_get(a, "bias"), nb_module_get(b, "bias")));
    nb_module *c = nb_linear_ex(30, 20, false, &g1); /* g1 moved on */
    cr_assert_eq(c->n_params, 1);
    cr_assert(!same_bits(nb_module_get(a, "weight"), nb_module_get(c, "weight")));
    nb_module_free(a), nb_module_free(b), nb_module_free(c);
    /* the default generator, through nb_manual_seed */
    nb_manual_seed(3);
    a = nb_linear(8, 4);
    nb_manual_seed(3);
    b = nb_linear(8, 4);
    cr_assert(same_bits(nb_module_get(a, "weight"), nb_module_get(b, "weight")));
    cr_assert(same_bits(nb_module_get(a, "bias"), nb_module_get(b, "bias")));
    nb_module_free(a), nb_module_free(b);
}

Test(nn, linear_errors)
{
    nb_module *fc = nb_linear(4, 3);
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 5));
    cr_assert_null(nb_forward(fc, x));
    assert_error(NB_ERR_SHAPE, "linear: input [2,5] does not end in in_features 4 of weight [3,4]");
    nb_clear_error();
    nb_tensor *b = nb_zeros(NB_SHAPE(4));
    cr_assert_null(nb_linear_op(x, nb_module_get(fc, "weight"), b));
    assert_error(NB_ERR_SHAPE, "linear: input [2,5]");
    nb_clear_error();
    nb_tensor *x4 = nb_zeros(NB_SHAPE(2, 4));
    cr_assert_null(nb_linear_op(x4, nb_module_get(fc, "weight"), b));
    assert_error(NB_ERR_SHAPE, "linear: bias [4] must be [3] for weight [3,4]");
    nb_clear_error();
    cr_assert_null(nb_linear(0, 3));
    assert_error(NB_ERR_ARG, "Linear: in_features 0 and out_features 3 must be >= 1");
    nb_clear_error();
    cr_assert_null(nb_forward(NULL, x));
    assert_error(NB_ERR_NULL, "forward: module is NULL");
    nb_clear_error();
    cr_assert_null(nb_forward(fc, NULL));
    assert_error(NB_ERR_NULL, "Linear: argument 1 is NULL");
    nb_free(x), nb_free(b), nb_free(x4);
    nb_module_free(fc);
}

/* ---- Sequential, names, counts ------------------------------------------ */

static nb_module *mlp(void)
{
    return nb_sequential(5, nb_linear(784, 256), nb_act("relu"), nb_linear(256, 128), nb_act("relu"),
                         nb_linear(128, 10));
}

Test(nn, sequential_names_and_count)
{
    nb_module *m = mlp();
    cr_assert_not_null(m);
    /* 784*256+256 + 256*128+128 + 128*10+10 */
    cr_assert_eq(nb_module_num_params(m), 235146);
    nb_param_list l;
    cr_assert_eq(nb_module_parameters(m, &l), 6);
    const char *want[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(l.names[i], want[i]);
        cr_assert_eq(l.tensors[i], nb_module_get(m, want[i]));
    }
    nb_param_list_free(&l);
    assert_shape(nb_module_get(m, "2.weight"), 2, (int64_t[]){128, 256});
    cr_assert_str_eq(nb_module_child(m, "3")->kind, "ReLU");
    cr_assert_null(nb_module_get(m, "2.wieght"));
    assert_error(NB_ERR_ARG, "module_get: Sequential has no parameter or buffer '2.wieght'");
    nb_clear_error();
    cr_assert_null(nb_module_get(m, "9.weight"));
    assert_error(NB_ERR_ARG, "'9.weight'");
    nb_clear_error();
    cr_assert_null(nb_module_child(m, "5"));
    assert_error(NB_ERR_ARG, "module_child: Sequential has no child '5'");
    nb_clear_error();
    /* forward on a batch */
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(3, 784));
    assert_shape(nb_forward(m, x), 2, (int64_t[]){3, 10});
    /* appending a layer names it by its index */
    cr_assert_eq(nb_sequential_add(m, nb_act("tanh")), 0);
    cr_assert_str_eq(m->child_names[5], "5");
    nb_free(x);
    nb_module_free(m);
}

Test(nn, sequential_with_a_null_layer_frees_the_rest)
{
    /* under LSan: the two linear layers must not leak */
    nb_module *m = nb_sequential(3, nb_linear(4, 4), nb_act("no_such_act"), nb_linear(4, 2));
    cr_assert_null(m);
    assert_error(NB_ERR_ARG, "unknown activation 'no_such_act'");
    nb_clear_error();
    nb_module *fc = nb_linear(2, 2);
    cr_assert_eq(nb_sequential_add(fc, nb_linear(2, 2)), -1); /* not a Sequential; frees the layer */
    assert_error(NB_ERR_ARG, "sequential_add: Linear is not a Sequential");
    nb_module_free(fc);
}

/* ---- A custom model: the one-neuron housing regression ------------------ */

typedef struct housing {
    nb_tensor *k1, *b1, *k2, *b2;
} housing;

/* y = k2 * sigmoid(k1 x + b1) + b2 */
static nb_tensor *housing_forward(nb_module *m, nb_tensor *x)
{
    housing *h = m->user;
    return nb_add(nb_mul(h->k2, nb_sigmoid(nb_add(nb_mul(h->k1, x), h->b1))), h->b2);
}

static nb_module *housing_new(void)
{
    housing *h = calloc(1, sizeof *h);
    nb_module *m = nb_module_new("Housing", housing_forward, h);
    m->free_user = free;
    h->k1 = nb_module_param(m, "k1", nb_scalar(2));
    h->b1 = nb_module_param(m, "b1", nb_scalar(-1));
    h->k2 = nb_module_param(m, "k2", nb_scalar(3));
    h->b2 = nb_module_param(m, "b2", nb_scalar(0.5));
    return m;
}

Test(nn, custom_model)
{
    nb_module *m = housing_new();
    cr_assert_eq(nb_module_num_params(m), 4);
    nb_tensor *x = nb_from_array((nb_real[]){0, 0.5, 1}, NB_SHAPE(3, 1));
    nb_tensor *y = nb_forward(m, x);
    /* 3 sigmoid(2x - 1) + 0.5 at x = 0, 0.5, 1 */
    double s0 = 1 / (1 + exp(1.0)), s1 = 0.5, s2 = 1 / (1 + exp(-1.0));
    assert_close_array(y->data, (double[]){3 * s0 + 0.5, 3 * s1 + 0.5, 3 * s2 + 0.5}, 3, TOL);
    cr_assert_eq(nb_backward(nb_sum(y)), 0);
    /* d/dk2 = sum sigmoid(...), d/db2 = 3 */
    cr_assert_float_eq(nb_module_get(m, "k2")->grad[0], s0 + s1 + s2, TOL * 4);
    cr_assert_float_eq(nb_module_get(m, "b2")->grad[0], 3, TOL * 4);

    /* as a named child of a bigger model: dotted names */
    nb_module *outer = nb_module_new("Outer", housing_forward, NULL);
    cr_assert_eq(nb_module_add(outer, "fc1", nb_linear(2, 3)), 0);
    cr_assert_eq(nb_module_add(outer, "head", m), 0);
    cr_assert_not_null(nb_module_param(outer, "scale", nb_ones(NB_SHAPE(3))));
    nb_param_list l;
    cr_assert_eq(nb_module_parameters(outer, &l), 7);
    const char *want[] = {"scale", "fc1.weight", "fc1.bias", "head.k1", "head.b1", "head.k2", "head.b2"};
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(l.names[i], want[i]);
    nb_param_list_free(&l);
    /* name clashes, dots, step tensors */
    cr_assert_null(nb_module_param(outer, "scale", nb_ones(NB_SHAPE(1))));
    assert_error(NB_ERR_ARG, "module_param: Outer already has a parameter named 'scale'");
    nb_clear_error();
    cr_assert_eq(nb_module_add(outer, "fc1", nb_linear(1, 1)), -1);
    assert_error(NB_ERR_ARG, "module_add: Outer already has a child named 'fc1'");
    nb_clear_error();
    cr_assert_null(nb_module_param(outer, "a.b", nb_ones(NB_SHAPE(1))));
    assert_error(NB_ERR_ARG, "name 'a.b' must be non-empty and contain no '.'");
    nb_clear_error();
    nb_tensor *step = nb_add(x, x);
    cr_assert_null(nb_module_param(outer, "s", step));
    assert_error(NB_ERR_ARG, "is a step tensor");
    nb_free(x);
    nb_module_free(outer);
}

/* ---- Summary -------------------------------------------------------------- */

static char *summary_text(nb_module *m, int ndim, const int64_t *shape, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *rc = nb_module_summary(m, f, ndim, shape);
    fclose(f);
    return buf;
}

Test(nn, summary_text)
{
    nb_module *m = nb_sequential(6, nb_flatten_layer(1, -1), nb_linear(784, 256), nb_act("relu"),
                                 nb_dropout(0.5), nb_linear(256, 10), nb_act("log_softmax"));
    int rc;
    char *s = summary_text(m, NB_SHAPE(2, 1, 28, 28), &rc);
    cr_assert_eq(rc, 0);
    const char *want[] = {
        "        Layer (type)               Output Shape         Param #\n",
        "           Flatten-1                    [2,784]               0\n",
        "            Linear-2                    [2,256]         200,960\n",
        "              ReLU-3                    [2,256]               0\n",
        "           Dropout-4                    [2,256]               0\n",
        "            Linear-5                     [2,10]           2,570\n",
        "        LogSoftmax-6                     [2,10]               0\n",
        "Input shape: [2,1,28,28]\n",
        "Output shape: [2,10]\n",
        "Total params: 203,530\n",
        "Trainable params: 203,530\n",
        "Non-trainable params: 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(s, want[i]), "summary lacks \"%s\":\n%s", want[i], s);
    free(s);
    cr_assert_eq(nb_last_error(), NB_OK);
    /* a bad input shape: -1 and the layer's error */
    s = summary_text(m, NB_SHAPE(2, 100), &rc);
    cr_assert_eq(rc, -1);
    assert_error(NB_ERR_SHAPE, "linear: input [2,100]");
    free(s);
    nb_module_free(m);
}

/* Issue 11: layers are named by torch.nn's class (torchsummary's "PReLU-2",
 * not "prelu-2"), and swish's parameter is "beta" however the layer is made. */
Test(nn, layer_kinds_are_torch_class_names_and_swish_learns_beta)
{
    nb_module *m = nb_sequential(5, nb_linear(4, 3), nb_prelu_layer(1), nb_act("leaky_relu"), nb_act("swish"),
                                 nb_act("gelu_tanh"));
    const char *kinds[] = {"Linear", "PReLU", "LeakyReLU", "Swish", "GELU"};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(m->children[i]->kind, kinds[i]);
    cr_assert_not_null(nb_module_get(m, "1.weight")); /* PReLU's name in PyTorch */
    cr_assert_not_null(nb_module_get(m, "3.beta"));
    cr_assert_null(nb_module_get(m, "3.weight"));
    nb_clear_error();
    nb_module *sw = nb_swish_layer(true);
    cr_assert_not_null(nb_module_get(sw, "beta"));
    nb_module_free(sw);
    int rc;
    char *s = summary_text(m, NB_SHAPE(2, 4), &rc);
    cr_assert_eq(rc, 0);
    const char *rows[] = {"            Linear-1", "             PReLU-2", "         LeakyReLU-3",
                          "             Swish-4", "              GELU-5"};
    for (int i = 0; i < 5; i++)
        cr_assert(strstr(s, rows[i]), "summary lacks \"%s\":\n%s", rows[i], s);
    free(s);
    nb_module_free(m);
}

/* Issue 11: an error during a forward names the module, by its path from the
 * root and as PyTorch prints it. */
static nb_tensor *mlp_forward(nb_module *m, nb_tensor *x)
{
    return nb_forward(nb_module_child(m, "head"), nb_forward(nb_module_child(m, "encoder"), x));
}

/* The pending message starts with prefix. */
static void assert_starts(const char *prefix)
{
    cr_assert(strncmp(nb_last_error_message(), prefix, strlen(prefix)) == 0,
              "message \"%s\" does not start with \"%s\"", nb_last_error_message(), prefix);
    nb_clear_error();
}

Test(nn, errors_in_a_forward_say_where_in_the_model)
{
    nb_module *m = nb_sequential(3, nb_linear(10, 128), nb_act("relu"), nb_linear(64, 32));
    nb_tensor *x = nb_zeros(NB_SHAPE(8, 10));
    cr_assert_null(nb_forward(m, x));
    cr_assert_eq(nb_last_error(), NB_ERR_SHAPE);
    cr_assert_str_eq(
        nb_last_error_message(),
        "sequential.2 Linear(in_features=64, out_features=32, bias=True): linear: input [8,128] does "
        "not end in in_features 64 of weight [32,64]");
    nb_clear_error();
    /* a model of one's own, two levels down; the hyper-parameters of other layers */
    nb_module *mlp = nb_module_new("MLP", mlp_forward, NULL);
    nb_module_add(mlp, "encoder", nb_sequential(2, nb_dropout(0.25), nb_prelu_layer(3)));
    nb_module_add(mlp, "head", nb_linear(3, 1));
    cr_assert_null(nb_forward(mlp, x));
    assert_starts("mlp.encoder.1 PReLU(num_parameters=3): prelu: x [8,10]");
    nb_module *conv = nb_sequential(1, nb_conv2d_layer(3, 8, 3, 1, 1));
    cr_assert_null(nb_forward(conv, x));
    assert_starts("sequential.0 Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)): conv2d: ");
    /* norms and recurrent layers as torch.nn prints them */
    nb_module *norms =
        nb_sequential(3, nb_batch_norm1d(4), nb_layer_norm_layer(NB_SHAPE(8)), nb_group_norm_layer(2, 8));
    cr_assert_null(nb_forward(norms, x));
    assert_starts(
        "sequential.0 BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True): ");
    cr_assert_null(nb_forward(nb_module_child(norms, "1"), x));
    assert_starts("LayerNorm((8,), eps=1e-05, elementwise_affine=True): ");
    nb_tensor *x4 = nb_zeros(NB_SHAPE(2, 4)), *x7 = nb_zeros(NB_SHAPE(2, 3, 7));
    cr_assert_null(nb_forward(nb_module_child(norms, "2"), x4));
    assert_starts("GroupNorm(2, 8, eps=1e-05, affine=True): ");
    nb_module *lstm = nb_lstm(10, 20, NB_RNN_OPTS(.num_layers = 2, .batch_first = true));
    cr_assert_null(nb_forward(lstm, x7));
    assert_starts("LSTM(10, 20, num_layers=2, batch_first=True): ");
    nb_free(x4), nb_free(x7);
    nb_module_free(norms), nb_module_free(lstm);
    /* the root alone is named by its repr; outside a forward there is no prefix */
    nb_module *fc = nb_linear_ex(64, 32, false, NULL);
    nb_tensor *x5 = nb_zeros(NB_SHAPE(2, 5));
    cr_assert_null(nb_forward(fc, x5));
    nb_free(x5);
    assert_starts("Linear(in_features=64, out_features=32, bias=False): linear: input [2,5]");
    cr_assert_null(nb_linear_op(x, nb_module_get(fc, "weight"), NULL));
    assert_starts("linear: input [8,10]");
    nb_free(x);
    nb_module_free(m), nb_module_free(mlp), nb_module_free(conv), nb_module_free(fc);
}

Test(nn, summary_leaves_no_trace)
{
    nb_module *m = nb_sequential(2, nb_linear(8, 8), nb_dropout(0.5));
    nb_module *twin = nb_sequential(2, nb_linear(8, 8), nb_dropout(0.5));
    nb_module_seed(m, 5);
    nb_module_seed(twin, 5);
    nb_copy_(nb_module_get(twin, "0.weight"), nb_module_get(m, "0.weight"));
    nb_copy_(nb_module_get(twin, "0.bias"), nb_module_get(m, "0.bias"));
    int rc;
    free(summary_text(m, NB_SHAPE(4, 8), &rc));
    cr_assert_eq(rc, 0);
    /* the same masks afterwards as a model that printed no summary */
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(4, 8));
    cr_assert(same_bits(nb_forward(m, x), nb_forward(twin, x)));
    nb_free(x);
    nb_module_free(m), nb_module_free(twin);
}

/* ---- Dropout ------------------------------------------------------------- */

Test(nn, dropout_train_eval)
{
    nb_module *m = nb_sequential(2, nb_linear(4, 64), nb_dropout(0.5));
    cr_assert(m->training && m->children[1]->training);
    nb_tensor *x = nb_ones(NB_SHAPE(2, 4));
    nb_module_train(m, false);
    cr_assert(!m->children[0]->training && !m->children[1]->training);
    nb_tensor *ref = nb_forward(m->children[0], x);
    nb_tensor *y = nb_forward(m, x);
    cr_assert(same_bits(y, ref), "eval: dropout is the identity");
    nb_module_train(m, true);
    y = nb_forward(m, x);
    int zeros = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        if (y->data[i] == 0)
            zeros++;
        else
            cr_assert_float_eq(y->data[i], 2 * ref->data[i], TOL * 4);
    }
    cr_assert(zeros > 20 && zeros < 108, "%d of 128 zeroed", zeros);
    nb_free(x);
    nb_module_free(m);
}

Test(nn, dropout_statistics)
{
    const double p = 0.3;
    const int64_t n = 100000;
    nb_tensor *x = nb_ones(NB_SHAPE(n));
    nb_generator g;
    nb_generator_seed(&g, 77);
    nb_tensor *y = nb_dropout_op(x, p, true, &g);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y->data[i] == 0)
            zeros++;
        else
            cr_assert_float_eq(y->data[i], 1 / (1 - p), TOL * 4);
    }
    /* binomial: std of the zeroed fraction sqrt(p (1-p) / n) ~ 0.00145; 5 std */
    double frac = (double)zeros / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    cr_assert(fabs(frac - p) < 5 * sd, "zeroed %g, want %g +- %g", frac, p, 5 * sd);
    /* p = 0 and eval: the input itself; p = 1: zeros */
    cr_assert_eq(nb_dropout_op(x, 0, true, &g), x);
    cr_assert_eq(nb_dropout_op(x, 0.5, false, &g), x);
    y = nb_dropout_op(x, 1, true, &g);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(y->data[i], 0);
    nb_free(x);
}

Test(nn, alpha_dropout_keeps_mean_and_variance)
{
    const int64_t n = 200000;
    nb_generator g;
    nb_generator_seed(&g, 8);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(n));
    const double ps[] = {0.1, 0.2, 0.5};
    for (int k = 0; k < 3; k++) {
        nb_tensor *y = nb_alpha_dropout_op(x, ps[k], true, &g);
        double s = 0, ss = 0;
        for (int64_t i = 0; i < n; i++)
            s += y->data[i];
        double mean = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            ss += ((double)y->data[i] - mean) * ((double)y->data[i] - mean);
        double var = ss / (double)(n - 1);
        /* std of the mean 1/sqrt(n) ~ 0.0022; of the variance ~ sqrt(3/n) ~ 0.004 */
        cr_assert(fabs(mean) < 0.012, "p %g: mean %g", ps[k], mean);
        cr_assert(fabs(var - 1) < 0.025, "p %g: variance %g", ps[k], var);
    }
    /* a dropped unit takes the value a * alpha' * (p - 1) (PyTorch's constants) */
    nb_tensor *z = nb_zeros(NB_SHAPE(1000));
    nb_tensor *y = nb_alpha_dropout_op(z, 0.5, true, &g);
    const double alpha = 1.7580993408473766, a = 1 / sqrt((alpha * alpha * 0.5 + 1) * 0.5);
    int dropped = 0;
    for (int64_t i = 0; i < 1000; i++) {
        bool is_dropped = fabs(y->data[i] - a * alpha * -0.5) < 1e-6;
        bool is_kept = fabs(y->data[i] - a * alpha * 0.5) < 1e-6;
        cr_assert(is_dropped || is_kept, "value %g", (double)y->data[i]);
        dropped += is_dropped;
    }
    cr_assert(dropped > 400 && dropped < 600);
    nb_free(x), nb_free(z);
}

Test(nn, dropout_same_seed_same_masks)
{
    nb_module *m = nb_sequential(3, nb_dropout(0.5), nb_act("tanh"), nb_alpha_dropout(0.3));
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(50, 20));
    nb_module_seed(m, 1234);
    nb_tensor *a = nb_keep(nb_forward(m, x));
    nb_tensor *b = nb_keep(nb_forward(m, x));
    cr_assert(!same_bits(a, b), "a second pass draws new masks");
    nb_module_seed(m, 1234);
    cr_assert(same_bits(a, nb_forward(m, x)));
    nb_module_seed(m, 1235);
    cr_assert(!same_bits(a, nb_forward(m, x)));
    /* layers made after the same nb_manual_seed draw the same masks */
    nb_manual_seed(99);
    nb_module *d1 = nb_dropout(0.5);
    nb_manual_seed(99);
    nb_module *d2 = nb_dropout(0.5);
    cr_assert(same_bits(nb_forward(d1, x), nb_forward(d2, x)));
    nb_free(x), nb_free(a), nb_free(b);
    nb_module_free(m), nb_module_free(d1), nb_module_free(d2);
}

Test(nn, dropout_errors)
{
    cr_assert_null(nb_dropout(1.5));
    assert_error(NB_ERR_ARG, "Dropout: probability p = 1.5 must be in [0, 1]");
    nb_clear_error();
    cr_assert_null(nb_alpha_dropout(-0.1));
    assert_error(NB_ERR_ARG, "AlphaDropout: probability p = -0.1");
    nb_clear_error();
    nb_tensor *x = nb_ones(NB_SHAPE(3));
    cr_assert_null(nb_dropout_op(x, NAN, true, NULL));
    assert_error(NB_ERR_ARG, "dropout: probability p = nan");
    nb_free(x);
}

/* ---- Activation, flatten and maxout layers ------------------------------- */

Test(nn, activation_layers)
{
    nb_tensor *x = nb_from_array((nb_real[]){-2, -0.5, 0.5, 2}, NB_SHAPE(1, 4));
    nb_module *lr = nb_act_layer(nb_activation_find("leaky_relu"), (nb_real[]){0.1});
    nb_tensor *y = nb_forward(lr, x);
    assert_close_array(y->data, (double[]){-0.2, -0.05, 0.5, 2}, 4, TOL);
    nb_module *lr_default = nb_act("leaky_relu"); /* PyTorch's 0.01 */
    y = nb_forward(lr_default, x);
    assert_close_array(y->data, (double[]){-0.02, -0.005, 0.5, 2}, 4, TOL);
    cr_assert_eq(nb_module_num_params(lr), 0);
    cr_assert_null(nb_act("nope"));
    assert_error(NB_ERR_ARG, "unknown activation 'nope'");
    nb_clear_error();

    /* prelu: one slope per channel (dim 1), 0.25 each */
    nb_module *pr = nb_prelu_layer(4);
    nb_tensor *w = nb_module_get(pr, "weight");
    assert_shape(w, 1, (int64_t[]){4});
    cr_assert(w->requires_grad);
    assert_close_array(w->data, (double[]){0.25, 0.25, 0.25, 0.25}, 4, 0);
    w->data[1] = 0.5;
    y = nb_forward(pr, x);
    assert_close_array(y->data, (double[]){-0.5, -0.25, 0.5, 2}, 4, TOL);
    /* swish: learnable beta = 1 (silu), or fixed */
    nb_module *sw = nb_swish_layer(true), *sw_fixed = nb_swish_layer(false);
    cr_assert_eq(nb_module_num_params(sw), 1);
    cr_assert_eq(nb_module_get(sw, "beta")->data[0], 1);
    cr_assert_eq(nb_module_num_params(sw_fixed), 0);
    y = nb_forward(sw_fixed, x);
    for (int i = 0; i < 4; i++) {
        double v = x->data[i];
        cr_assert_float_eq(y->data[i], v / (1 + exp(-v)), TOL * 4);
    }
    cr_assert(same_bits(nb_forward(sw, x), y));
    cr_assert_null(nb_prelu_layer(0));
    assert_error(NB_ERR_ARG, "prelu: num_parameters 0 must be >= 1");
    nb_free(x);
    nb_module_free(lr), nb_module_free(lr_default), nb_module_free(pr);
    nb_module_free(sw), nb_module_free(sw_fixed);
}

Test(nn, flatten_layer)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 3, 4, 5));
    nb_module *f = nb_flatten_layer(1, -1);
    assert_shape(nb_forward(f, x), 2, (int64_t[]){2, 60});
    nb_module *g = nb_flatten_layer(1, 2);
    assert_shape(nb_forward(g, x), 3, (int64_t[]){2, 12, 5});
    nb_module *bad = nb_flatten_layer(1, 7);
    cr_assert_null(nb_forward(bad, x));
    cr_assert_neq(nb_last_error(), NB_OK);
    nb_free(x);
    nb_module_free(f), nb_module_free(g), nb_module_free(bad);
}

Test(nn, maxout_layer)
{
    nb_module *m = nb_maxout_layer(2, 2, 3);
    cr_assert_eq(nb_module_num_params(m), 2 * 6 + 6);
    nb_tensor *w = nb_module_get(m, "linear.weight");
    assert_shape(w, 2, (int64_t[]){6, 2});
    set(w, (nb_real[]){1, 0, 0, 1, -1, -1, 2, 0, 0, 2, 1, 1});
    nb_init_constant_(nb_module_get(m, "linear.bias"), 0);
    nb_tensor *x = nb_from_array((nb_real[]){1, -3}, NB_SHAPE(1, 2));
    /* z = [1, -3, 2, 2, -6, -2]: max of [1, -3, 2] = 2, of [2, -6, -2] = 2 */
    nb_tensor *y = nb_forward(m, x);
    assert_shape(y, 2, (int64_t[]){1, 2});
    assert_close_array(y->data, (double[]){2, 2}, 2, TOL);
    cr_assert_null(nb_maxout_layer(2, 2, 0));
    assert_error(NB_ERR_ARG, "Maxout: out_features 2 x pieces 0 must be >= 1");
    nb_free(x);
    nb_module_free(m);
}

/* ---- Gradient checks (float64) ------------------------------------------ */
#ifdef NABLA_F64

static void assert_gradcheck(nb_gradcheck_fn fn, int n, nb_tensor *const *in, void *ctx)
{
    nb_gradcheck_result r = nb_gradcheck(fn, n, in, ctx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, 0, "%s", r.message);
}

static nb_tensor *linear_fn(nb_tensor *const *in, int n, void *ctx)
{
    (void)ctx;
    return nb_linear_op(in[0], in[1], n > 2 ? in[2] : NULL);
}

Test(nn, gradcheck_linear_op)
{
    nb_generator g;
    nb_generator_seed(&g, 21);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 4)), true);
    nb_tensor *w = nb_requires_grad(nb_randn(&g, NB_SHAPE(5, 4)), true);
    nb_tensor *b = nb_requires_grad(nb_randn(&g, NB_SHAPE(5)), true);
    assert_gradcheck(linear_fn, 3, (nb_tensor *[]){x, w, b}, NULL);
    assert_gradcheck(linear_fn, 2, (nb_tensor *[]){x, w}, NULL);
    /* rank-3 input, and only the weight needing a gradient */
    nb_tensor *x3 = nb_randn(&g, NB_SHAPE(2, 3, 4));
    assert_gradcheck(linear_fn, 3, (nb_tensor *[]){x3, w, b}, NULL);
    nb_requires_grad(x3, true);
    nb_requires_grad(w, false);
    assert_gradcheck(linear_fn, 3, (nb_tensor *[]){x3, w, b}, NULL);
    nb_free(x), nb_free(w), nb_free(b), nb_free(x3);
}

/* The module's forward with its generators reseeded first: the same mask on
 * every evaluation of the gradient check. */
static nb_tensor *module_fn(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    nb_module_seed(ctx, 4242);
    return nb_forward(ctx, in[0]);
}

Test(nn, gradcheck_dropout_fixed_mask)
{
    nb_tensor *x = nb_requires_grad(nb_randn(NULL, NB_SHAPE(4, 6)), true);
    nb_module *d = nb_dropout(0.4), *ad = nb_alpha_dropout(0.4);
    assert_gradcheck(module_fn, 1, &x, d);
    assert_gradcheck(module_fn, 1, &x, ad);
    /* the mask is really there: some gradients are zero */
    nb_module_seed(d, 4242);
    cr_assert_eq(nb_backward(nb_sum(nb_forward(d, x))), 0);
    int zeros = 0;
    for (int64_t i = 0; i < x->numel; i++)
        zeros += x->grad[i] == 0;
    cr_assert(zeros > 0 && zeros < 24, "%d zero gradients", zeros);
    nb_free(x);
    nb_module_free(d), nb_module_free(ad);
}

Test(nn, gradcheck_learnable_layers)
{
    /* inputs away from 0 (prelu's kink) */
    nb_tensor *x = nb_from_array(
        (nb_real[]){-1.5, 0.7, -0.3, 2.1, 1.2, -0.8, 0.4, -2.2, 0.9, -0.6, 1.7, -1.1}, NB_SHAPE(3, 4));
    nb_requires_grad(x, true);
    nb_module *pr = nb_prelu_layer(4);
    nb_tensor *pw = nb_module_get(pr, "weight");
    pw->data[2] = 0.1;
    assert_gradcheck(module_fn, 2, (nb_tensor *[]){x, pw}, pr);
    nb_module *sw = nb_swish_layer(true);
    nb_tensor *beta = nb_module_get(sw, "beta");
    beta->data[0] = 1.3;
    assert_gradcheck(module_fn, 2, (nb_tensor *[]){x, beta}, sw);
    /* maxout through its linear child: distinct pre-activations (no ties) */
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_module *mo = nb_maxout_layer(4, 3, 2);
    nb_init_normal_(nb_module_get(mo, "linear.weight"), 0, 1, &g);
    assert_gradcheck(module_fn, 3,
                     (nb_tensor *[]){x, nb_module_get(mo, "linear.weight"), nb_module_get(mo, "linear.bias")},
                     mo);
    /* a whole MLP's parameters */
    nb_module *net =
        nb_sequential(3, nb_linear_ex(4, 6, true, &g), nb_act("tanh"), nb_linear_ex(6, 2, true, &g));
    nb_param_list l;
    nb_module_parameters(net, &l);
    nb_tensor *in[5] = {x, l.tensors[0], l.tensors[1], l.tensors[2], l.tensors[3]};
    assert_gradcheck(module_fn, 5, in, net);
    nb_param_list_free(&l);
    nb_free(x);
    nb_module_free(pr), nb_module_free(sw), nb_module_free(mo), nb_module_free(net);
}

#endif
