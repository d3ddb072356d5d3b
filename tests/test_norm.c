/* tests/test_norm.c — batch_norm, layer_norm, group_norm, rms_norm and their
 * layers: small cases against values computed with numpy (the script is in
 * each test's comment), larger ones against naive loops written here,
 * running statistics (momentum and the cumulative average), eval mode,
 * buffers in state_dicts and checkpoints, errors, bit-identical results for 1
 * and 2 threads, and gradchecks in the float64 build. */
#include <stdio.h>
#include <unistd.h>
#include "common.h"

TestSuite(norm, .init = quiet, .fini = end_step);

static void set(nb_tensor *t, const nb_real *values)
{
    memcpy(t->data, values, (size_t)t->numel * sizeof *values);
}

#ifdef NABLA_F64
#define NTOL 1e-12
#else
#define NTOL 2e-6
#endif

/* x = [[1,2,3],[4,6,8]]; mu, var = x.mean(1), x.var(1);
 * (x - mu) / sqrt(var + 1e-5) * [0.5,1,2] + [0.1,0,-0.1] */
Test(norm, layer_norm_by_hand)
{
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3, 4, 6, 8}, NB_SHAPE(2, 3));
    nb_tensor *w = nb_from_array((nb_real[]){0.5, 1, 2}, NB_SHAPE(3));
    nb_tensor *b = nb_from_array((nb_real[]){0.1, 0, -0.1}, NB_SHAPE(3));
    nb_tensor *y = nb_layer_norm(x, NB_SHAPE(3), w, b, 1e-5);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data,
                       (double[]){-0.5123678429541951, 0.0, 2.3494713718167803, -0.5123712875007069, 0.0,
                                  2.3494851500028275},
                       6, NTOL);
    nb_free(x), nb_free(w), nb_free(b);
}

/* x / sqrt(mean(x^2, 1) + 1e-6) * [0.5,1,2] */
Test(norm, rms_norm_by_hand)
{
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3, 4, 6, 8}, NB_SHAPE(2, 3));
    nb_tensor *w = nb_from_array((nb_real[]){0.5, 1, 2}, NB_SHAPE(3));
    nb_tensor *y = nb_rms_norm(x, NB_SHAPE(3), w, 1e-6);
    assert_close_array(y->data,
                       (double[]){0.23145500014438916, 0.9258200005775566, 2.77746000173267,
                                  0.3216337562922813, 0.9649012688768439, 2.5730700503382504},
                       6, NTOL);
    nb_free(x), nb_free(w);
}

/* x [4,2] = [[1,-2],[3,0],[5,4],[7,2]], weight [2,0.5], bias [1,-1]:
 * y = (x - x.mean(0)) / sqrt(x.var(0) + 1e-5) * w + b; running_mean = 0.1 mean,
 * running_var = 0.9 + 0.1 x.var(0, ddof=1); then eval on [[0,1]] with those. */
Test(norm, batch_norm1d_train_then_eval)
{
    nb_module *bn = nb_batch_norm1d(2);
    cr_assert_not_null(bn);
    set(nb_module_get(bn, "weight"), (nb_real[]){2, 0.5});
    set(nb_module_get(bn, "bias"), (nb_real[]){1, -1});
    nb_tensor *x = nb_from_array((nb_real[]){1, -2, 3, 0, 5, 4, 7, 2}, NB_SHAPE(4, 2));
    nb_tensor *y = nb_forward(bn, x);
    assert_close_array(y->data,
                       (double[]){-1.6832788897221995, -1.6708197224305499, 0.10557370342593342,
                                  -1.2236065741435167, 1.8944262965740666, -0.3291802775694501,
                                  3.6832788897221995, -0.7763934258564833},
                       8, NTOL);
    assert_close_array(nb_module_get(bn, "running_mean")->data, (double[]){0.4, 0.1}, 2, NTOL);
    assert_close_array(nb_module_get(bn, "running_var")->data,
                       (double[]){1.5666666666666669, 1.5666666666666669}, 2, NTOL);
    cr_assert_eq(nb_module_get(bn, "num_batches_tracked")->data[0], 1);

    nb_module_train(bn, false);
    nb_tensor *xe = nb_from_array((nb_real[]){0, 1}, NB_SHAPE(1, 2));
    nb_tensor *ye = nb_forward(bn, xe);
    assert_close_array(ye->data, (double[]){0.360853670275888, -0.640480189530187}, 2, NTOL);
    cr_assert_eq(nb_module_get(bn, "num_batches_tracked")->data[0], 1, "eval does not count batches");
    assert_close_array(nb_module_get(bn, "running_mean")->data, (double[]){0.4, 0.1}, 2, NTOL);
    nb_free(x), nb_free(xe);
    nb_module_free(bn);
}

/* momentum=None: after batches x1, x2 the running mean is (mean1 + mean2) / 2
 * and the running var (var1 + var2) / 2, both unbiased. */
Test(norm, batch_norm_cumulative_average)
{
    nb_module *bn = nb_batch_norm1d_ex(2, 1e-5, NAN, true, true);
    nb_tensor *x1 = nb_from_array((nb_real[]){1, -2, 3, 0, 5, 4, 7, 2}, NB_SHAPE(4, 2));
    nb_tensor *x2 = nb_from_array((nb_real[]){0, 0, 2, 2, 4, -4, 6, 6}, NB_SHAPE(4, 2));
    cr_assert_not_null(nb_forward(bn, x1));
    cr_assert_not_null(nb_forward(bn, x2));
    assert_close_array(nb_module_get(bn, "running_mean")->data, (double[]){3.5, 1.0}, 2, NTOL);
    assert_close_array(nb_module_get(bn, "running_var")->data, (double[]){6.666666666666667, 12.0}, 2, NTOL);
    cr_assert_eq(nb_module_get(bn, "num_batches_tracked")->data[0], 2);
    nb_free(x1), nb_free(x2);
    nb_module_free(bn);
}

/* A naive batch norm over [N,C,H,W] in double, training mode. */
static void naive_bn(const nb_tensor *x, const nb_real *w, const nb_real *b, double eps, double *y)
{
    int64_t N = x->shape[0], C = x->shape[1], S = x->shape[2] * x->shape[3];
    for (int64_t c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++)
                m += x->data[(n * C + c) * S + i];
        m /= (double)(N * S);
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++)
                v += pow(x->data[(n * C + c) * S + i] - m, 2);
        v /= (double)(N * S);
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++)
                y[(n * C + c) * S + i] = (x->data[(n * C + c) * S + i] - m) / sqrt(v + eps) * w[c] + b[c];
    }
}

Test(norm, batch_norm2d_matches_a_naive_loop)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(3, 4, 5, 6));
    nb_tensor *w = nb_randn(&g, NB_SHAPE(4)), *b = nb_randn(&g, NB_SHAPE(4));
    double want[360];
    naive_bn(x, w->data, b->data, 1e-3, want);
    nb_tensor *y = nb_batch_norm(x, NULL, NULL, w, b, true, 0.1, 1e-3);
    assert_close_array(y->data, want, 360, NTOL);
    nb_free(x), nb_free(w), nb_free(b);
}

/* A naive group norm over [N,C,*] (S positions) in double. */
static void naive_gn(const nb_tensor *x, int64_t G, const nb_real *w, const nb_real *b, double eps, double *y)
{
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C), cpg = C / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            double m = 0, v = 0;
            const nb_real *p = x->data + (n * C + g * cpg) * S;
            for (int64_t i = 0; i < cpg * S; i++)
                m += p[i];
            m /= (double)(cpg * S);
            for (int64_t i = 0; i < cpg * S; i++)
                v += pow(p[i] - m, 2);
            v /= (double)(cpg * S);
            for (int64_t i = 0; i < cpg * S; i++) {
                int64_t c = g * cpg + i / S;
                y[(n * C + g * cpg) * S + i] = (p[i] - m) / sqrt(v + eps) * w[c] + b[c];
            }
        }
}

Test(norm, group_norm_matches_a_naive_loop_and_its_special_cases)
{
    nb_generator g;
    nb_generator_seed(&g, 4);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(2, 6, 3, 2));
    nb_tensor *w = nb_randn(&g, NB_SHAPE(6)), *b = nb_randn(&g, NB_SHAPE(6));
    double want[72];
    for (int64_t G = 1; G <= 6; G++) {
        if (6 % G)
            continue;
        naive_gn(x, G, w->data, b->data, 1e-5, want);
        nb_tensor *y = nb_group_norm(x, G, w, b, 1e-5);
        cr_assert_not_null(y, "groups %lld", (long long)G);
        assert_close_array(y->data, want, 72, NTOL);
    }
    /* one group without affine is layer_norm over [C, H, W] */
    nb_tensor *a = nb_group_norm(x, 1, NULL, NULL, 1e-5);
    nb_tensor *l = nb_layer_norm(x, NB_SHAPE(6, 3, 2), NULL, NULL, 1e-5);
    for (int64_t i = 0; i < 72; i++)
        cr_assert_float_eq(a->data[i], l->data[i], NTOL);
    nb_free(x), nb_free(w), nb_free(b);
}

Test(norm, layer_norm_over_two_dims_matches_rows)
{
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(3, 2, 4));
    nb_tensor *y = nb_layer_norm(x, NB_SHAPE(2, 4), NULL, NULL, 1e-5);
    for (int r = 0; r < 3; r++) {
        double m = 0, v = 0;
        for (int k = 0; k < 8; k++)
            m += x->data[r * 8 + k] / 8.0;
        for (int k = 0; k < 8; k++)
            v += pow(x->data[r * 8 + k] - m, 2) / 8.0;
        for (int k = 0; k < 8; k++)
            cr_assert_float_eq(y->data[r * 8 + k], (x->data[r * 8 + k] - m) / sqrt(v + 1e-5), NTOL);
    }
    nb_free(x);
}

/* Rows of 100 elements (more than the affine gradient's blocks of 64
 * channels, not a multiple of the 16 summing lanes), centred far from 0:
 * forward, dx, dw and db against the formulas in double, each row's sums
 * taken one element after the other. */
Test(norm, layer_norm_long_rows_match_the_formulas_in_double)
{
    enum { R = 7, K = 100 };
    nb_generator g;
    nb_generator_seed(&g, 12);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(R, K)), true);
    for (int i = 0; i < R * K; i++)
        x->data[i] += 30;
    nb_tensor *w = nb_requires_grad(nb_randn(&g, NB_SHAPE(K)), true);
    nb_tensor *b = nb_requires_grad(nb_randn(&g, NB_SHAPE(K)), true);
    nb_tensor *dy = nb_randn(&g, NB_SHAPE(R, K));
    nb_tensor *y = nb_layer_norm(x, NB_SHAPE(K), w, b, 1e-5);
    cr_assert_eq(nb_backward_grad(y, dy), 0);
    double want_y[R * K], want_dx[R * K], want_dw[K] = {0}, want_db[K] = {0};
    for (int r = 0; r < R; r++) {
        const nb_real *xr = x->data + r * K, *gr = dy->data + r * K;
        double m = 0, v = 0, sg = 0, sgx = 0, xhat[K];
        for (int k = 0; k < K; k++)
            m += xr[k] / (double)K;
        for (int k = 0; k < K; k++)
            v += pow(xr[k] - m, 2) / K;
        double inv = 1 / sqrt(v + 1e-5);
        for (int k = 0; k < K; k++) {
            xhat[k] = (xr[k] - m) * inv;
            want_y[r * K + k] = xhat[k] * w->data[k] + b->data[k];
            sg += (double)gr[k] * w->data[k];
            sgx += (double)gr[k] * w->data[k] * xhat[k];
            want_dw[k] += gr[k] * xhat[k];
            want_db[k] += gr[k];
        }
        for (int k = 0; k < K; k++)
            want_dx[r * K + k] = inv * ((double)gr[k] * w->data[k] - sg / K - xhat[k] * sgx / K);
    }
    assert_close_array(y->data, want_y, R * K, 4 * NTOL);
    assert_close_array(x->grad, want_dx, R * K, 4 * NTOL);
    assert_close_array(w->grad, want_dw, K, 4 * NTOL);
    assert_close_array(b->grad, want_db, K, 4 * NTOL);
    nb_free(x), nb_free(w), nb_free(b), nb_free(dy);
}

Test(norm, buffers_are_in_the_state_dict_not_the_parameters)
{
    nb_module *net = nb_sequential(3, nb_conv2d_layer(1, 2, 3, 1, 1), nb_batch_norm2d(2), nb_act("relu"));
    cr_assert_not_null(net);
    nb_param_list p, bu, sd;
    cr_assert_eq(nb_module_parameters(net, &p), 4);
    cr_assert_eq(nb_module_buffers(net, &bu), 3);
    cr_assert_eq(nb_module_state_dict(net, &sd), 7);
    const char *want[] = {"0.weight",
                          "0.bias",
                          "1.weight",
                          "1.bias",
                          "1.running_mean",
                          "1.running_var",
                          "1.num_batches_tracked"};
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(sd.names[i], want[i]);
    cr_assert_str_eq(bu.names[0], "1.running_mean");
    cr_assert_not(bu.tensors[0]->requires_grad);
    cr_assert_eq(bu.tensors[2]->ndim, 0, "num_batches_tracked is a scalar, as in PyTorch");
    nb_param_list_free(&p), nb_param_list_free(&bu), nb_param_list_free(&sd);
    cr_assert_null(nb_module_buffer(net, "0", nb_zeros(NB_SHAPE(1))));
    assert_error(NB_ERR_ARG, "already has a child named '0'");
    nb_module_free(net);
}

/* torchsummary's forward would update the running statistics; ours runs in
 * eval mode (so a batch of one works) and restores every training flag. */
Test(norm, summary_leaves_batch_norm_untouched)
{
    nb_module *net = nb_sequential(2, nb_linear(4, 3), nb_batch_norm1d(3));
    nb_module_train(net->children[0], false);
    FILE *f = tmpfile();
    cr_assert_eq(nb_module_summary(net, f, NB_SHAPE(1, 4)), 0);
    fclose(f);
    cr_assert_eq(nb_module_get(net, "1.num_batches_tracked")->data[0], 0);
    assert_close_array(nb_module_get(net, "1.running_mean")->data, (double[]){0, 0, 0}, 3, 0);
    assert_close_array(nb_module_get(net, "1.running_var")->data, (double[]){1, 1, 1}, 3, 0);
    cr_assert(net->training && !net->children[0]->training && net->children[1]->training);
    nb_module_free(net);
}

Test(norm, checkpoints_restore_running_statistics)
{
    nb_module *a = nb_sequential(2, nb_linear(3, 2), nb_batch_norm1d(2));
    nb_module *b = nb_sequential(2, nb_linear(3, 2), nb_batch_norm1d(2));
    nb_generator g;
    nb_generator_seed(&g, 6);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(8, 3));
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(nb_forward(a, x));
    nb_step_end();
    char path[64];
    snprintf(path, sizeof path, "/tmp/nb_test_norm_%ld.safetensors", (long)getpid());
    cr_assert_eq(nb_save_checkpoint(path, a, NULL, NULL), 0);
    cr_assert_eq(nb_load_checkpoint(path, b, NULL), 0);
    remove(path);
    const char *names[] = {"1.running_mean", "1.running_var", "1.num_batches_tracked", "0.weight"};
    for (int k = 0; k < 4; k++) {
        nb_tensor *ta = nb_module_get(a, names[k]), *tb = nb_module_get(b, names[k]);
        cr_assert_eq(memcmp(ta->data, tb->data, (size_t)ta->numel * sizeof(nb_real)), 0, "%s", names[k]);
    }
    cr_assert_eq(nb_module_get(b, "1.num_batches_tracked")->data[0], 3);
    nb_module_train(a, false), nb_module_train(b, false);
    nb_tensor *ya = nb_forward(a, x), *yb = nb_forward(b, x);
    cr_assert_eq(memcmp(ya->data, yb->data, 16 * sizeof(nb_real)), 0, "eval outputs equal after the load");
    nb_free(x);
    nb_module_free(a), nb_module_free(b);
}

Test(norm, one_and_two_threads_are_bit_identical)
{
    nb_generator g;
    nb_generator_seed(&g, 7);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(16, 8, 12, 12)), true);
    nb_tensor *w = nb_requires_grad(nb_randn(&g, NB_SHAPE(8)), true);
    nb_real *out[2][4];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        nb_tensor *ys[4] = {
            nb_batch_norm(x, NULL, NULL, w, NULL, true, 0.1, 1e-5), nb_group_norm(x, 4, w, NULL, 1e-5),
            nb_layer_norm(x, NB_SHAPE(12, 12), NULL, NULL, 1e-5), nb_rms_norm(x, NB_SHAPE(12), NULL, NAN)};
        for (int k = 0; k < 4; k++) {
            nb_zero_grad(x), nb_zero_grad(w);
            cr_assert_eq(nb_backward(nb_sum(nb_mul(ys[k], ys[k]))), 0);
            out[t - 1][k] = malloc((size_t)(x->numel + 8) * sizeof(nb_real));
            memcpy(out[t - 1][k], x->grad, (size_t)x->numel * sizeof(nb_real));
            memcpy(out[t - 1][k] + x->numel, w->grad, 8 * sizeof(nb_real));
        }
        nb_step_end();
    }
    nb_set_num_threads(0);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(memcmp(out[0][k], out[1][k], (size_t)(x->numel + 8) * sizeof(nb_real)), 0, "op %d", k);
        free(out[0][k]), free(out[1][k]);
    }
    nb_free(x), nb_free(w);
}

Test(norm, errors_name_the_op_and_shapes)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(4, 3, 2));
    nb_tensor *v2 = nb_ones(NB_SHAPE(2));
    cr_assert_null(nb_batch_norm(x, NULL, NULL, v2, NULL, true, 0.1, 1e-5));
    assert_error(NB_ERR_SHAPE, "batch_norm: input [4,3,2] has 3 channels but weight is [2] (expected [3])");
    cr_assert_null(nb_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5));
    assert_error(NB_ERR_ARG, "eval mode (training false) needs running_mean and running_var");
    nb_tensor *one = nb_zeros(NB_SHAPE(1, 3));
    cr_assert_null(nb_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    assert_error(NB_ERR_SHAPE, "expected more than 1 value per channel when training");
    cr_assert_null(nb_layer_norm(x, NB_SHAPE(3), NULL, NULL, 1e-5));
    assert_error(NB_ERR_SHAPE, "layer_norm: input [4,3,2] does not end in normalized_shape [3]");
    cr_assert_null(nb_layer_norm(x, NB_SHAPE(2), v2, v2, 0));
    assert_error(NB_ERR_ARG, "layer_norm: eps 0 must be > 0");
    cr_assert_null(nb_group_norm(x, 2, NULL, NULL, 1e-5));
    assert_error(NB_ERR_ARG, "group_norm: input [4,3,2]: 3 channels cannot be split into 2 groups");
    nb_tensor *v3 = nb_ones(NB_SHAPE(3));
    cr_assert_null(nb_rms_norm(x, NB_SHAPE(2), v3, NAN));
    assert_error(NB_ERR_SHAPE, "rms_norm: input [4,3,2]: weight is [3], expected [2]");
    nb_module *bn = nb_batch_norm2d(3);
    cr_assert_null(nb_forward(bn, x));
    assert_error(NB_ERR_SHAPE, "BatchNorm2d: expected [N, C, H, W] input, got [4,3,2]");
    cr_assert_null(nb_group_norm_layer(4, 6));
    assert_error(NB_ERR_ARG, "GroupNorm: num_channels 6 must be a positive multiple of num_groups 4");
    nb_module_free(bn);
    nb_free(x), nb_free(v2), nb_free(v3), nb_free(one);
}

/* ---- gradchecks (float64) ------------------------------------------------- */

#ifdef NABLA_F64
typedef struct gctx {
    int op; /* 0 batch_norm train, 1 batch_norm eval, 2 layer_norm, 3 group_norm, 4 rms_norm */
    bool affine;
    nb_tensor *rm, *rv;
} gctx;

static nb_tensor *f_norm(nb_tensor *const *in, int n, void *ctx)
{
    gctx *c = ctx;
    nb_tensor *w = n > 1 ? in[1] : NULL, *b = n > 2 ? in[2] : NULL;
    switch (c->op) {
    case 0: return nb_batch_norm(in[0], NULL, NULL, w, b, true, 0.1, 1e-5);
    case 1: return nb_batch_norm(in[0], c->rm, c->rv, w, b, false, 0.1, 1e-5);
    case 2: return nb_layer_norm(in[0], NB_SHAPE(2, 3), w, b, 1e-5);
    case 3: return nb_group_norm(in[0], 2, w, b, 1e-5);
    default: return nb_rms_norm(in[0], NB_SHAPE(2, 3), w, 1e-6);
    }
}

Test(norm, gradcheck_every_op_with_and_without_affine)
{
    nb_generator g;
    nb_generator_seed(&g, 8);
    nb_tensor *rm = nb_randn(&g, NB_SHAPE(4)), *rv = nb_uniform_(nb_zeros(NB_SHAPE(4)), 0.5, 2, &g);
    for (int op = 0; op < 5; op++)
        for (int affine = 0; affine < 2; affine++) {
            /* x [3,4,2,3]: channels 4 (batch/group norm), last dims [2,3] (layer/rms norm) */
            int64_t C = op == 2 || op == 4 ? 0 : 4;
            nb_tensor *in[3] = {nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 4, 2, 3)), true)};
            int n = 1;
            if (affine) {
                in[1] = C ? nb_randn(&g, NB_SHAPE(C)) : nb_randn(&g, NB_SHAPE(2, 3));
                in[2] = C ? nb_randn(&g, NB_SHAPE(C)) : nb_randn(&g, NB_SHAPE(2, 3));
                nb_requires_grad(in[1], true), nb_requires_grad(in[2], true);
                n = op == 4 ? 2 : 3;
            }
            gctx c = {.op = op, .affine = affine, .rm = rm, .rv = rv};
            nb_gradcheck_result r = nb_gradcheck(f_norm, n, in, &c, NB_GRADCHECK_OPTS());
            cr_assert(r.ok, "op %d affine %d: %s", op, affine, r.message);
            cr_assert_gt(r.nonzero, 50, "op %d affine %d", op, affine);
            for (int i = 0; i < (affine ? 3 : 1); i++)
                nb_free(in[i]);
            nb_step_end();
        }
    nb_free(rm), nb_free(rv);
}

/* Rows of 40 (two blocks of 16 summing lanes and a remainder), the input
 * through an op first so that its gradient buffer is fresh (stored into). */
static nb_tensor *f_long_rows(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return nb_layer_norm(nb_mul_scalar(in[0], 1.5), NB_SHAPE(40), in[1], in[2], 1e-5);
}

Test(norm, gradcheck_layer_norm_long_rows)
{
    nb_generator g;
    nb_generator_seed(&g, 9);
    nb_tensor *in[3] = {nb_randn(&g, NB_SHAPE(3, 40)), nb_randn(&g, NB_SHAPE(40)),
                        nb_randn(&g, NB_SHAPE(40))};
    for (int i = 0; i < 3; i++)
        nb_requires_grad(in[i], true);
    nb_gradcheck_result r = nb_gradcheck(f_long_rows, 3, in, NULL, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, 150);
    for (int i = 0; i < 3; i++)
        nb_free(in[i]);
}
#endif
