/* tests/test_rnn.c — RNN (tanh, relu), LSTM and GRU: forward values against a
 * hand-written float64 reference loop of PyTorch's equations, for every
 * option (layers, bidirectional, batch_first, initial states, no bias,
 * lengths); variable lengths equal to running each sequence alone, in values
 * and in gradients; cells
 * equal to a one-layer module stepped by hand; parameter names, shapes and
 * init bounds; error messages; constant memory over training steps; the same
 * bits for 1 and 2 threads; and (float64) gradchecks of every kind and option. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

TestSuite(rnn, .init = quiet, .fini = end_step);

enum { TANH, RELU, LSTM, GRU };
static const char *const kind_names[] = {"RNN tanh", "RNN relu", "LSTM", "GRU"};

static nb_module *make(int kind, int64_t in, int64_t H, nb_rnn_opts o)
{
    if (kind == RELU)
        o.nonlinearity = "relu";
    return kind == LSTM ? nb_lstm(in, H, o) : kind == GRU ? nb_gru(in, H, o) : nb_rnn(in, H, o);
}

static int gates(int kind) { return kind == LSTM ? 4 : kind == GRU ? 3 : 1; }
static double sig(double v) { return 1 / (1 + exp(-v)); }

/* ---- the reference: PyTorch's equations, one scalar at a time ------------ */

/* One layer, one direction. x [T][B][in], out [T][B][H] (0 past the end),
 * h, c [B][H]: initial state in, final state out. */
static void ref_layer(int kind, int T, int B, int in, int H, const double *x, const nb_real *wih,
                      const nb_real *whh, const nb_real *bih, const nb_real *bhh, bool reverse,
                      const int64_t *len, double *out, double *h, double *c)
{
    int G = gates(kind);
    double *a = calloc((size_t)(G * H), sizeof *a), *bb = calloc((size_t)(G * H), sizeof *bb);
    double *hn = calloc((size_t)H, sizeof *hn);
    for (int s = 0; s < T; s++) {
        int t = reverse ? T - 1 - s : s;
        for (int b = 0; b < B; b++) {
            double *hb = h + b * H, *cb = c + b * H, *o = out + (t * B + b) * H;
            if (len && t >= len[b]) {
                for (int j = 0; j < H; j++)
                    o[j] = 0;
                continue;
            }
            for (int r = 0; r < G * H; r++) {
                a[r] = bih ? bih[r] : 0;
                bb[r] = bhh ? bhh[r] : 0;
                for (int k = 0; k < in; k++)
                    a[r] += wih[r * in + k] * x[(t * B + b) * in + k];
                for (int k = 0; k < H; k++)
                    bb[r] += whh[r * H + k] * hb[k];
            }
            for (int j = 0; j < H; j++) {
                if (kind == TANH)
                    hn[j] = tanh(a[j] + bb[j]);
                else if (kind == RELU)
                    hn[j] = fmax(a[j] + bb[j], 0);
                else if (kind == LSTM) {
                    double i = sig(a[j] + bb[j]), f = sig(a[H + j] + bb[H + j]);
                    double g = tanh(a[2 * H + j] + bb[2 * H + j]), og = sig(a[3 * H + j] + bb[3 * H + j]);
                    cb[j] = f * cb[j] + i * g;
                    hn[j] = og * tanh(cb[j]);
                } else {
                    double r = sig(a[j] + bb[j]), z = sig(a[H + j] + bb[H + j]);
                    double n = tanh(a[2 * H + j] + r * bb[2 * H + j]);
                    hn[j] = (1 - z) * n + z * hb[j];
                }
            }
            for (int j = 0; j < H; j++)
                hb[j] = o[j] = hn[j];
        }
    }
    free(a), free(bb), free(hn);
}

static const nb_real *param(nb_module *m, const char *fmt, int l, const char *sfx)
{
    char name[64];
    snprintf(name, sizeof name, fmt, l, sfx);
    nb_clear_error();
    nb_tensor *t = nb_module_get(m, name);
    nb_clear_error();
    return t ? t->data : NULL;
}

/* The whole module: x time-major [T][B][in]; out [T][B][D H]; hn, cn [L D][B][H]
 * (h0, c0 NULL: zeros). */
static void ref_module(int kind, nb_module *m, int L, int D, int T, int B, int in, int H, const double *x,
                       const double *h0, const double *c0, const int64_t *len, double *out, double *hn,
                       double *cn)
{
    double *seq = malloc(sizeof(double) * (size_t)(T * B * (in > D * H ? in : D * H)));
    double *o = malloc(sizeof(double) * (size_t)(T * B * H));
    memcpy(seq, x, sizeof(double) * (size_t)(T * B * in));
    for (int l = 0; l < L; l++) {
        int lin = l ? D * H : in;
        double *next = calloc((size_t)(T * B * D * H), sizeof *next);
        for (int d = 0; d < D; d++) {
            const char *sfx = d ? "_reverse" : "";
            int k = l * D + d;
            double *h = hn + k * B * H, *c = cn + k * B * H;
            for (int i = 0; i < B * H; i++)
                h[i] = h0 ? h0[k * B * H + i] : 0, c[i] = c0 ? c0[k * B * H + i] : 0;
            ref_layer(kind, T, B, lin, H, seq, param(m, "weight_ih_l%d%s", l, sfx),
                      param(m, "weight_hh_l%d%s", l, sfx), param(m, "bias_ih_l%d%s", l, sfx),
                      param(m, "bias_hh_l%d%s", l, sfx), d == 1, len, o, h, c);
            for (int tb = 0; tb < T * B; tb++)
                for (int j = 0; j < H; j++)
                    next[tb * D * H + d * H + j] = o[tb * H + j];
        }
        memcpy(seq, next, sizeof(double) * (size_t)(T * B * D * H));
        free(next);
    }
    memcpy(out, seq, sizeof(double) * (size_t)(T * B * D * H));
    free(seq), free(o);
}

static double *random_doubles(nb_generator *g, int n)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++)
        v[i] = 2 * nb_generator_uniform(g) - 1;
    return v;
}

static nb_tensor *tensor_of(const double *v, int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_zeros(ndim, shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)v[i];
    return t;
}

/* [T][B][F] to [B][T][F] */
static double *batch_major(const double *v, int T, int B, int F)
{
    double *w = malloc(sizeof(double) * (size_t)(T * B * F));
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            memcpy(w + (b * T + t) * F, v + (t * B + b) * F, sizeof(double) * (size_t)F);
    return w;
}

typedef struct config {
    int layers;
    bool bidirectional, batch_first, states, no_bias, lengths;
} config;

static const config configs[] = {
    {1, false, false, false, false, false}, {2, true, false, true, false, false},
    {1, false, true, true, true, false},    {2, false, false, false, false, true},
    {1, true, true, true, false, true},
};
enum { NCONFIGS = sizeof configs / sizeof configs[0] };

static const int64_t lens[3] = {4, 2, 3};

Test(rnn, forward_matches_the_reference_for_every_kind_and_option)
{
    const int T = 4, B = 3, in = 5, H = 3;
    nb_generator g;
    nb_generator_seed(&g, 3);
    for (int kind = 0; kind < 4; kind++)
        for (int c = 0; c < NCONFIGS; c++) {
            const config *cf = &configs[c];
            int D = cf->bidirectional ? 2 : 1, L = cf->layers;
            nb_module *m = make(kind, in, H,
                                NB_RNN_OPTS(.num_layers = L, .bidirectional = cf->bidirectional,
                                            .batch_first = cf->batch_first, .bias = !cf->no_bias));
            cr_assert_not_null(m);
            double *x = random_doubles(&g, T * B * in), *h0 = random_doubles(&g, L * D * B * H);
            double *c0 = random_doubles(&g, L * D * B * H);
            double *want = malloc(sizeof(double) * (size_t)(T * B * D * H));
            double *hn = malloc(sizeof(double) * (size_t)(L * D * B * H)),
                   *cn = malloc(sizeof(double) * (size_t)(L * D * B * H));
            const int64_t *len = cf->lengths ? lens : NULL;
            ref_module(kind, m, L, D, T, B, in, H, x, cf->states ? h0 : NULL, cf->states ? c0 : NULL, len,
                       want, hn, cn);
            double *xin = cf->batch_first ? batch_major(x, T, B, in) : x;
            nb_tensor *xt = tensor_of(
                xin, 3, cf->batch_first ? (const int64_t[]){B, T, in} : (const int64_t[]){T, B, in});
            nb_tensor *h0t = cf->states ? tensor_of(h0, NB_SHAPE(L * D, B, H)) : NULL;
            nb_tensor *c0t = cf->states && kind == LSTM ? tensor_of(c0, NB_SHAPE(L * D, B, H)) : NULL;
            nb_tensor *h_n, *c_n = NULL;
            nb_tensor *y = nb_recurrent_forward(m, xt, len, h0t, c0t, &h_n, kind == LSTM ? &c_n : NULL);
            cr_assert_not_null(y, "%s config %d: %s", kind_names[kind], c, nb_last_error_message());
            assert_shape(y, 3,
                         cf->batch_first ? (const int64_t[]){B, T, D * H} : (const int64_t[]){T, B, D * H});
            assert_shape(h_n, NB_SHAPE(L * D, B, H));
            double *w = cf->batch_first ? batch_major(want, T, B, D * H) : want;
            assert_close_array(y->data, w, T * B * D * H, 1e-5);
            assert_close_array(h_n->data, hn, L * D * B * H, 1e-5);
            if (kind == LSTM)
                assert_close_array(c_n->data, cn, L * D * B * H, 1e-5);
            if (cf->batch_first)
                free(xin), free(w);
            free(x), free(h0), free(c0), free(want), free(hn), free(cn);
            nb_free(xt), nb_free(h0t), nb_free(c0t);
            nb_module_free(m);
            nb_step_end();
        }
}

/* L(y, h_n[, c_n]) = sum y^2 + sum h_n^2 (+ sum c_n^2): zero padding adds nothing. */
static nb_tensor *sq_loss(nb_tensor *y, nb_tensor *h_n, nb_tensor *c_n)
{
    nb_tensor *l = nb_add(nb_sum(nb_mul(y, y)), nb_sum(nb_mul(h_n, h_n)));
    return c_n ? nb_add(l, nb_sum(nb_mul(c_n, c_n))) : l;
}

Test(rnn, lengths_equal_each_sequence_alone)
{
    const int T = 5, B = 3, in = 2, H = 3;
    const int64_t len[3] = {2, 5, 3};
    nb_generator g;
    nb_generator_seed(&g, 5);
    for (int kind = 0; kind < 4; kind++) {
        nb_module *m = make(kind, in, H, NB_RNN_OPTS(.num_layers = 2, .bidirectional = true));
        nb_tensor *x = nb_randn(&g, NB_SHAPE(T, B, in)), *h0 = nb_randn(&g, NB_SHAPE(4, B, H));
        nb_tensor *c0 = kind == LSTM ? nb_randn(&g, NB_SHAPE(4, B, H)) : NULL;
        nb_tensor *h_n, *c_n = NULL;
        nb_tensor *y = nb_recurrent_forward(m, x, len, h0, c0, &h_n, kind == LSTM ? &c_n : NULL);
        cr_assert_not_null(y, "%s", nb_last_error_message());
        cr_assert_eq(nb_backward(sq_loss(y, h_n, c_n)), 0);
        nb_param_list pl;
        nb_module_parameters(m, &pl);
        nb_real *batched[16];
        for (int p = 0; p < pl.count; p++) {
            batched[p] = malloc(sizeof(nb_real) * (size_t)pl.tensors[p]->numel);
            memcpy(batched[p], pl.tensors[p]->grad, sizeof(nb_real) * (size_t)pl.tensors[p]->numel);
        }
        nb_module_zero_grad(m);
        for (int b = 0; b < B; b++) {
            /* sequence b alone, unbatched: x[:len_b, b], h0[:, b] */
            nb_tensor *xb =
                nb_reshape(nb_slice(nb_slice(x, 1, b, b + 1), 0, 0, len[b]), NB_SHAPE(len[b], in));
            nb_tensor *hb = nb_reshape(nb_slice(h0, 1, b, b + 1), NB_SHAPE(4, H));
            nb_tensor *cb = c0 ? nb_reshape(nb_slice(c0, 1, b, b + 1), NB_SHAPE(4, H)) : NULL;
            nb_tensor *hnb, *cnb = NULL;
            nb_tensor *yb = nb_recurrent_forward(m, xb, NULL, hb, cb, &hnb, kind == LSTM ? &cnb : NULL);
            cr_assert_not_null(yb, "%s", nb_last_error_message());
            for (int t = 0; t < T; t++)
                for (int j = 0; j < 2 * H; j++) {
                    double got = y->data[(t * B + b) * 2 * H + j],
                           want = t < len[b] ? yb->data[t * 2 * H + j] : 0;
                    cr_assert(fabs(got - want) <= 1e-6, "%s: output t %d b %d j %d: %g vs %g",
                              kind_names[kind], t, b, j, got, want);
                }
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < H; j++) {
                    cr_assert(fabs(h_n->data[(k * B + b) * H + j] - hnb->data[k * H + j]) <= 1e-6,
                              "%s: h_n[%d] of sequence %d", kind_names[kind], k, b);
                    if (kind == LSTM)
                        cr_assert(fabs(c_n->data[(k * B + b) * H + j] - cnb->data[k * H + j]) <= 1e-6);
                }
            cr_assert_eq(nb_backward(sq_loss(yb, hnb, cnb)), 0); /* the gradients add up over b */
        }
        for (int p = 0; p < pl.count; p++) {
            for (int64_t i = 0; i < pl.tensors[p]->numel; i++)
                cr_assert(fabs(pl.tensors[p]->grad[i] - batched[p][i]) <= 1e-5 * fmax(1, fabs(batched[p][i])),
                          "%s: gradient of %s[%lld]: %g batched, %g one by one", kind_names[kind],
                          pl.names[p], (long long)i, batched[p][i], pl.tensors[p]->grad[i]);
            free(batched[p]);
        }
        nb_param_list_free(&pl);
        nb_free(x), nb_free(h0), nb_free(c0);
        nb_module_free(m);
        nb_step_end();
    }
}

/* Independent numbers: plain Python on PyTorch's LSTM equations, T = 2,
 * B = 1, in = 2, H = 2, every parameter p[i] = 0.1 * (i % 7) - 0.3 in
 * row-major order (weight_ih, weight_hh, bias_ih, bias_hh), x = [[0.5, -1], [2, 0.25]]:
 *
 *   import math
 *   P = lambda n: [0.1 * (i % 7) - 0.3 for i in range(n)]
 *   Wi, Wh, bi, bh = P(16), P(16), P(8), P(8)
 *   s = lambda v: 1 / (1 + math.exp(-v)); h = [0, 0]; c = [0, 0]
 *   for x in ([0.5, -1], [2, 0.25]):
 *       a = [sum(Wi[2*r+k] * x[k] + Wh[2*r+k] * h[k] for k in range(2)) + bi[r] + bh[r] for r in range(8)]
 *       i, f, g, o = a[0:2], a[2:4], a[4:6], a[6:8]
 *       c = [s(f[j]) * c[j] + s(i[j]) * math.tanh(g[j]) for j in range(2)]
 *       h = [s(o[j]) * math.tanh(c[j]) for j in range(2)]
 *       print(['%.10f' % v for v in h], ['%.10f' % v for v in c])
 *
 * prints h = 0.0431578038 0.0413213740, c = 0.0722126049 0.1134257019, then
 * h = -0.0104076113 0.0462259793, c = -0.0138866847 0.2142485169. */
Test(rnn, lstm_known_values)
{
    nb_module *m = nb_lstm(2, 2, NB_RNN_OPTS());
    nb_param_list pl;
    cr_assert_eq(nb_module_parameters(m, &pl), 4);
    for (int p = 0; p < 4; p++)
        for (int64_t i = 0; i < pl.tensors[p]->numel; i++)
            pl.tensors[p]->data[i] = (nb_real)(0.1 * (double)(i % 7) - 0.3);
    nb_tensor *x = nb_from_array((nb_real[]){0.5, -1, 2, 0.25}, NB_SHAPE(2, 1, 2)), *h_n, *c_n;
    nb_tensor *y = nb_lstm_forward(m, x, NULL, NULL, &h_n, &c_n);
    cr_assert_not_null(y);
    assert_close_array(y->data, (double[]){0.0431578038, 0.0413213740, -0.0104076113, 0.0462259793}, 4, 1e-6);
    assert_close_array(c_n->data, (double[]){-0.0138866847, 0.2142485169}, 2, 1e-6);
    nb_param_list_free(&pl);
    nb_free(x);
    nb_module_free(m);
}

Test(rnn, cells_equal_a_one_layer_module_stepped_by_hand)
{
    const int T = 3, B = 2, in = 3, H = 4;
    nb_generator g;
    nb_generator_seed(&g, 9);
    for (int kind = 0; kind < 4; kind++) {
        nb_rnn_opts o = NB_RNN_OPTS(.nonlinearity = kind == RELU ? "relu" : "tanh");
        nb_module *m = make(kind, in, H, NB_RNN_OPTS());
        nb_module *cell = kind == LSTM  ? nb_lstm_cell(in, H, o)
                          : kind == GRU ? nb_gru_cell(in, H, o)
                                        : nb_rnn_cell(in, H, o);
        cr_assert_not_null(cell, "%s", nb_last_error_message());
        static const char *const names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (int p = 0; p < 4; p++) {
            char lname[32];
            snprintf(lname, sizeof lname, "%s_l0", names[p]);
            cr_assert(nb_copy_(nb_module_get(cell, names[p]), nb_module_get(m, lname)));
        }
        nb_tensor *x = nb_randn(&g, NB_SHAPE(T, B, in)), *h_n, *c_n = NULL;
        nb_tensor *y = nb_recurrent_forward(m, x, NULL, NULL, NULL, &h_n, kind == LSTM ? &c_n : NULL);
        nb_tensor *h = NULL, *c = NULL;
        for (int t = 0; t < T; t++) {
            nb_tensor *xt = nb_reshape(nb_slice(x, 0, t, t + 1), NB_SHAPE(B, in));
            h = kind == LSTM ? nb_lstm_cell_forward(cell, xt, h, c, &c) : nb_rnn_cell_forward(cell, xt, h);
            cr_assert_not_null(h, "%s", nb_last_error_message());
            assert_shape(h, NB_SHAPE(B, H));
            for (int i = 0; i < B * H; i++)
                cr_assert(fabs(h->data[i] - y->data[t * B * H + i]) <= 1e-6, "%s step %d", kind_names[kind],
                          t);
        }
        if (kind == LSTM)
            for (int i = 0; i < B * H; i++)
                cr_assert(fabs(c->data[i] - c_n->data[i]) <= 1e-6);
        /* nb_forward(cell, x) is a step from zero state; unbatched input */
        nb_tensor *x0 = nb_reshape(nb_slice(x, 0, 0, 1), NB_SHAPE(B, in));
        nb_tensor *h1 = nb_forward(cell, x0);
        cr_assert(fabs(h1->data[0] - y->data[0]) <= 1e-6);
        nb_tensor *h1u = nb_forward(cell, nb_reshape(nb_slice(x0, 0, 0, 1), NB_SHAPE(in)));
        assert_shape(h1u, NB_SHAPE(H));
        cr_assert(fabs(h1u->data[0] - y->data[0]) <= 1e-6);
        nb_free(x);
        nb_module_free(m), nb_module_free(cell);
        nb_step_end();
    }
}

Test(rnn, names_shapes_and_init_bounds_as_pytorch)
{
    nb_module *m = nb_gru(10, 20, NB_RNN_OPTS(.num_layers = 2, .bidirectional = true));
    nb_param_list pl;
    cr_assert_eq(nb_module_parameters(m, &pl), 16);
    const char *want[] = {"weight_ih_l0",       "weight_hh_l0",         "bias_ih_l0",
                          "bias_hh_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                          "bias_ih_l0_reverse", "bias_hh_l0_reverse",   "weight_ih_l1",
                          "weight_hh_l1"};
    for (int i = 0; i < 10; i++)
        cr_assert_str_eq(pl.names[i], want[i]);
    assert_shape(nb_module_get(m, "weight_ih_l0"), NB_SHAPE(60, 10));
    assert_shape(nb_module_get(m, "weight_ih_l1"), NB_SHAPE(60, 40)); /* 2 directions x 20 */
    assert_shape(nb_module_get(m, "weight_hh_l1_reverse"), NB_SHAPE(60, 20));
    assert_shape(nb_module_get(m, "bias_hh_l1_reverse"), NB_SHAPE(60));
    /* every parameter U(-1/sqrt(20), 1/sqrt(20)), and not all in a small range */
    double bound = 1 / sqrt(20.0), lo = 1, hi = -1;
    for (int p = 0; p < pl.count; p++)
        for (int64_t i = 0; i < pl.tensors[p]->numel; i++) {
            double v = pl.tensors[p]->data[i];
            cr_assert(fabs(v) <= bound, "%s[%lld] = %g", pl.names[p], (long long)i, v);
            lo = fmin(lo, v), hi = fmax(hi, v);
        }
    cr_assert(lo < -0.9 * bound && hi > 0.9 * bound);
    cr_assert_eq(nb_module_num_params(m), 2 * (60 * 10 + 60 * 20 + 120) + 2 * (60 * 40 + 60 * 20 + 120));
    nb_param_list_free(&pl);
    nb_module_free(m);
    m = nb_lstm(3, 4, NB_RNN_OPTS(.bias = false));
    cr_assert_eq(nb_module_num_params(m), 16 * 3 + 16 * 4);
    cr_assert_str_eq(m->kind, "LSTM");
    nb_module_free(m);
    m = nb_lstm_cell(3, 4, NB_RNN_OPTS());
    cr_assert_not_null(nb_module_get(m, "weight_hh"));
    assert_shape(nb_module_get(m, "weight_hh"), NB_SHAPE(16, 4));
    nb_module_free(m);
}

Test(rnn, in_a_sequential_nb_forward_returns_the_output)
{
    nb_module *seq = nb_sequential(2, nb_lstm(4, 6, NB_RNN_OPTS(.batch_first = true)), nb_linear(6, 2));
    cr_assert_not_null(seq);
    nb_tensor *x = nb_ones(NB_SHAPE(3, 5, 4));
    nb_tensor *y = nb_forward(seq, x);
    assert_shape(y, NB_SHAPE(3, 5, 2));
    nb_free(x);
    nb_module_free(seq);
}

Test(rnn, dropout_between_layers_in_training_only)
{
    nb_manual_seed(4);
    nb_module *m = nb_lstm(3, 5, NB_RNN_OPTS(.num_layers = 2, .dropout = 0.5));
    nb_module *ref = nb_lstm(3, 5, NB_RNN_OPTS(.num_layers = 2));
    nb_param_list a, b;
    nb_module_parameters(m, &a), nb_module_parameters(ref, &b);
    for (int p = 0; p < a.count; p++)
        nb_copy_(b.tensors[p], a.tensors[p]);
    cr_assert_not_null(m->generator);
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(4, 2, 3));
    nb_tensor *y = nb_forward(m, x), *y_ref = nb_forward(ref, x);
    bool differ = false;
    for (int64_t i = 0; i < y->numel; i++)
        differ |= fabs(y->data[i] - y_ref->data[i]) > 1e-6;
    cr_assert(differ, "dropout 0.5 in training changed nothing");
    nb_module_train(m, false);
    y = nb_forward(m, x);
    for (int64_t i = 0; i < y->numel; i++)
        cr_assert_eq(y->data[i], y_ref->data[i]);
    nb_param_list_free(&a), nb_param_list_free(&b);
    nb_free(x);
    nb_module_free(m), nb_module_free(ref);
}

Test(rnn, errors_name_the_layer_and_the_shapes)
{
    nb_module *m = nb_lstm(4, 3, NB_RNN_OPTS(.num_layers = 2));
    nb_tensor *x = nb_zeros(NB_SHAPE(5, 2, 3)), *h, *c;
    cr_assert_null(nb_lstm_forward(m, x, NULL, NULL, &h, &c));
    assert_error(NB_ERR_SHAPE, "LSTM: input [5,2,3] does not end in input_size 4");
    cr_assert_null(h);
    nb_tensor *x2 = nb_zeros(NB_SHAPE(5, 2, 4)), *h0 = nb_zeros(NB_SHAPE(1, 2, 3));
    cr_assert_null(nb_lstm_forward(m, x2, h0, NULL, NULL, NULL));
    assert_error(NB_ERR_SHAPE, "LSTM: h0 [1,2,3] must be [2,2,3]");
    cr_assert_null(nb_recurrent_forward(m, x2, (const int64_t[]){5, 6}, NULL, NULL, NULL, NULL));
    assert_error(NB_ERR_ARG, "LSTM: lengths[1] = 6 is not in 1..5");
    nb_module *g = nb_gru(4, 3, NB_RNN_OPTS());
    cr_assert_null(nb_recurrent_forward(g, x2, NULL, NULL, h0, NULL, NULL));
    assert_error(NB_ERR_ARG, "GRU: c0 and c_n belong to an LSTM");
    nb_module *fc = nb_linear(4, 3);
    cr_assert_null(nb_lstm_forward(fc, x2, NULL, NULL, NULL, NULL));
    assert_error(NB_ERR_ARG, "module 'Linear' is not an RNN, LSTM or GRU");
    cr_assert_null(nb_rnn(4, 3, NB_RNN_OPTS(.nonlinearity = "sigmoid")));
    assert_error(NB_ERR_ARG, "RNN: unknown nonlinearity 'sigmoid' (tanh or relu)");
    cr_assert_null(nb_lstm(4, 0, NB_RNN_OPTS()));
    assert_error(NB_ERR_ARG, "LSTM: input_size 4 and hidden_size 0 must be >= 1");
    cr_assert_null(nb_gru(4, 3, NB_RNN_OPTS(.dropout = 1.5)));
    assert_error(NB_ERR_ARG, "GRU: dropout 1.5 must be in [0, 1]");
    nb_module *cell = nb_gru_cell(4, 3, NB_RNN_OPTS());
    cr_assert_null(nb_rnn_cell_forward(cell, x2, NULL));
    assert_error(NB_ERR_SHAPE, "GRUCell: input [5,2,4] must be [B, 4] or [4]");
    cr_assert_null(nb_lstm_cell_forward(cell, h0, NULL, NULL, NULL));
    assert_error(NB_ERR_ARG, "lstm_cell_forward: module 'GRUCell' is not an LSTMCell");
    cr_assert_null(nb_rnn_cell_forward(m, x2, NULL));
    assert_error(NB_ERR_ARG, "rnn_cell_forward: module 'LSTM' is not an RNNCell, LSTMCell or GRUCell");
    cr_assert_null(nb_lstm_forward(m, NULL, NULL, NULL, NULL, NULL));
    nb_free(x), nb_free(x2), nb_free(h0);
    nb_module_free(m), nb_module_free(g), nb_module_free(fc), nb_module_free(cell);
}

/* A training step allocates the same arena every time, and nothing else grows. */
Test(rnn, training_steps_run_in_constant_memory)
{
    nb_module *m = nb_lstm(6, 8, NB_RNN_OPTS(.num_layers = 2, .bidirectional = true));
    nb_param_list pl;
    nb_module_parameters(m, &pl);
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS());
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(20, 4, 6));
    size_t bytes[4];
    for (int step = 0; step < 4; step++) {
        nb_tensor *h_n;
        nb_optim_zero_grad(opt);
        nb_lstm_forward(m, x, NULL, NULL, &h_n, NULL);
        cr_assert_eq(nb_backward(nb_sum(h_n)), 0);
        nb_clip_grad_norm(pl.tensors, pl.count, 1.0);
        nb_optim_step(opt);
        bytes[step] = nb_step_arena_bytes();
        nb_step_end();
    }
    cr_assert_eq(bytes[2], bytes[1]);
    cr_assert_eq(bytes[3], bytes[1]);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_free(x);
    nb_module_free(m);
}

Test(rnn, the_same_bits_for_one_and_two_threads)
{
    nb_manual_seed(2);
    nb_module *m = nb_gru(16, 64, NB_RNN_OPTS(.num_layers = 2));
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(6, 64, 16));
    nb_real *out[2], *grad[2];
    nb_tensor *w = nb_module_get(m, "weight_hh_l0");
    for (int k = 0; k < 2; k++) {
        nb_set_num_threads(k + 1);
        nb_module_zero_grad(m);
        nb_tensor *y = nb_forward(m, x);
        cr_assert_eq(nb_backward(nb_sum(nb_mul(y, y))), 0);
        out[k] = malloc(sizeof(nb_real) * (size_t)y->numel);
        memcpy(out[k], y->data, sizeof(nb_real) * (size_t)y->numel);
        grad[k] = malloc(sizeof(nb_real) * (size_t)w->numel);
        memcpy(grad[k], w->grad, sizeof(nb_real) * (size_t)w->numel);
        cr_assert_eq(memcmp(out[0], out[k], sizeof(nb_real) * (size_t)y->numel), 0);
        cr_assert_eq(memcmp(grad[0], grad[k], sizeof(nb_real) * (size_t)w->numel), 0);
        nb_step_end();
    }
    nb_set_num_threads(0);
    free(out[0]), free(out[1]), free(grad[0]), free(grad[1]);
    nb_free(x);
    nb_module_free(m);
}

/* ---- gradchecks (float64) ------------------------------------------------ */

typedef struct gctx {
    nb_module *m;
    int kind;
    const config *cf;
} gctx;

/* inputs: x, h0, c0, then every parameter; output, h_n and c_n all weighted. */
static nb_tensor *f_module(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gctx *g = ctx;
    nb_tensor *h_n, *c_n = NULL;
    nb_tensor *y = nb_recurrent_forward(
        g->m, in[0], g->cf->lengths ? lens : NULL, g->cf->states ? in[1] : NULL,
        g->cf->states && g->kind == LSTM ? in[2] : NULL, &h_n, g->kind == LSTM ? &c_n : NULL);
    nb_tensor *parts[3] = {nb_flatten(y, 0, -1), nb_flatten(h_n, 0, -1), c_n ? nb_flatten(c_n, 0, -1) : NULL};
    return nb_cat(c_n ? 3 : 2, parts, 0);
}

static void check(nb_gradcheck_fn f, int n, nb_tensor *const *in, void *ctx, const char *what)
{
    nb_gradcheck_result r = nb_gradcheck(f, n, in, ctx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s: %s", what, r.message);
    cr_assert_gt(r.nonzero, n, "%s", what);
}

Test(rnn, gradcheck_every_kind_and_option)
{
#ifndef NABLA_F64
    cr_skip_test("gradchecks run in the float64 build");
#endif
    const int T = 4, B = 3, in = 2, H = 2;
    nb_generator g;
    nb_generator_seed(&g, 12);
    for (int kind = 0; kind < 4; kind++)
        for (int c = 0; c < NCONFIGS; c++) {
            const config *cf = &configs[c];
            int D = cf->bidirectional ? 2 : 1, L = cf->layers;
            nb_module *m =
                make(kind, in, H,
                     NB_RNN_OPTS(.num_layers = L, .bidirectional = cf->bidirectional,
                                 .batch_first = cf->batch_first, .bias = !cf->no_bias, .generator = &g));
            nb_param_list pl;
            nb_module_parameters(m, &pl);
            nb_tensor *inputs[3 + 64];
            inputs[0] = nb_requires_grad(
                nb_randn(&g, 3, cf->batch_first ? (const int64_t[]){B, T, in} : (const int64_t[]){T, B, in}),
                true);
            inputs[1] = nb_requires_grad(nb_randn(&g, NB_SHAPE(L * D, B, H)), true);
            inputs[2] = nb_requires_grad(nb_randn(&g, NB_SHAPE(L * D, B, H)), true);
            if (kind == RELU) /* keep relu's kinks away from the finite differences */
                for (int p = 0; p < pl.count; p++)
                    if (strncmp(pl.names[p], "bias", 4) == 0)
                        nb_fill_(pl.tensors[p], 0.5);
            for (int p = 0; p < pl.count; p++)
                inputs[3 + p] = pl.tensors[p];
            char what[64];
            snprintf(what, sizeof what, "%s config %d", kind_names[kind], c);
            check(f_module, 3 + pl.count, inputs, &(gctx){m, kind, cf}, what);
            nb_free(inputs[0]), nb_free(inputs[1]), nb_free(inputs[2]);
            nb_param_list_free(&pl);
            nb_module_free(m);
            nb_step_end();
        }
}

typedef struct cctx {
    nb_module *cell;
    int kind;
} cctx;

/* two steps of a cell: inputs x [2, B, in], h, c, parameters */
static nb_tensor *f_cell(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    cctx *g = ctx;
    nb_tensor *h = in[1], *c = in[2];
    for (int t = 0; t < 2; t++) {
        nb_tensor *xt = nb_reshape(nb_slice(in[0], 0, t, t + 1), NB_SHAPE(in[0]->shape[1], in[0]->shape[2]));
        h = g->kind == LSTM ? nb_lstm_cell_forward(g->cell, xt, h, c, &c)
                            : nb_rnn_cell_forward(g->cell, xt, h);
    }
    return g->kind == LSTM ? nb_add(nb_mul(h, h), c) : h;
}

Test(rnn, gradcheck_cells)
{
#ifndef NABLA_F64
    cr_skip_test("gradchecks run in the float64 build");
#endif
    nb_generator g;
    nb_generator_seed(&g, 13);
    for (int kind = 0; kind < 4; kind++) {
        nb_rnn_opts o = NB_RNN_OPTS(.nonlinearity = kind == RELU ? "relu" : "tanh", .generator = &g);
        nb_module *cell = kind == LSTM  ? nb_lstm_cell(3, 2, o)
                          : kind == GRU ? nb_gru_cell(3, 2, o)
                                        : nb_rnn_cell(3, 2, o);
        nb_param_list pl;
        nb_module_parameters(cell, &pl);
        if (kind == RELU)
            nb_fill_(nb_module_get(cell, "bias_ih"), 0.5);
        nb_tensor *inputs[7] = {nb_requires_grad(nb_randn(&g, NB_SHAPE(2, 2, 3)), true),
                                nb_requires_grad(nb_randn(&g, NB_SHAPE(2, 2)), true),
                                kind == LSTM ? nb_requires_grad(nb_randn(&g, NB_SHAPE(2, 2)), true) : NULL};
        int n = kind == LSTM ? 3 : 2;
        for (int p = 0; p < pl.count; p++)
            inputs[n + p] = pl.tensors[p];
        check(f_cell, n + pl.count, inputs, &(cctx){cell, kind}, kind_names[kind]);
        nb_free(inputs[0]), nb_free(inputs[1]);
        if (kind == LSTM)
            nb_free(inputs[2]);
        nb_param_list_free(&pl);
        nb_module_free(cell);
        nb_step_end();
    }
}
