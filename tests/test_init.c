/* tests/test_init.c — torch.nn.init: calculate_gain's table, fan in/out,
 * the bounds and empirical std of each initialiser against the formulas of
 * torch/nn/init.py (tolerances of several standard errors of the estimate),
 * determinism from a seed, error paths. */
#include "common.h"

TestSuite(init, .init = quiet, .fini = end_step);

/* Sample mean and std of t's values. */
static void moments(const nb_tensor *t, double *mean, double *std)
{
    double s = 0, ss = 0;
    for (int64_t i = 0; i < t->numel; i++)
        s += t->data[i];
    *mean = s / (double)t->numel;
    for (int64_t i = 0; i < t->numel; i++)
        ss += ((double)t->data[i] - *mean) * ((double)t->data[i] - *mean);
    *std = sqrt(ss / (double)(t->numel - 1));
}

static double max_abs(const nb_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; i < t->numel; i++)
        m = fmax(m, fabs((double)t->data[i]));
    return m;
}

Test(init, calculate_gain_table)
{
    const char *unit[] = {"linear",           "conv1d",           "conv2d",           "conv3d",
                          "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        cr_assert_eq(nb_calculate_gain(unit[i], NAN), 1.0, "%s", unit[i]);
    cr_assert_float_eq(nb_calculate_gain("tanh", NAN), 5.0 / 3, 1e-15);
    cr_assert_float_eq(nb_calculate_gain("relu", NAN), 1.4142135623730951, 1e-15);
    cr_assert_float_eq(nb_calculate_gain("selu", NAN), 0.75, 1e-15);
    /* leaky_relu: the default slope 0.01, then explicit ones (0: relu's gain) */
    cr_assert_float_eq(nb_calculate_gain("leaky_relu", NAN), 1.4141428569978354, 1e-15);
    cr_assert_float_eq(nb_calculate_gain("leaky_relu", 0.2), 1.3867504905630728, 1e-15);
    cr_assert_float_eq(nb_calculate_gain("leaky_relu", 0), sqrt(2.0), 1e-15);
    /* a = sqrt(5), nn.Linear's: sqrt(2 / 6) */
    cr_assert_float_eq(nb_calculate_gain("leaky_relu", sqrt(5.0)), 0.5773502691896258, 1e-15);
    cr_assert_eq(nb_last_error(), NB_OK);
}

Test(init, calculate_gain_unknown)
{
    cr_assert(isnan(nb_calculate_gain("swishy", NAN)));
    assert_error(NB_ERR_ARG, "calculate_gain: unsupported nonlinearity 'swishy'");
    nb_clear_error();
    cr_assert(isnan(nb_calculate_gain(NULL, NAN)));
    assert_error(NB_ERR_NULL, "calculate_gain");
}

Test(init, fan_in_fan_out)
{
    int64_t fi = 0, fo = 0;
    nb_tensor *w = nb_empty(NB_SHAPE(3, 5));
    cr_assert_eq(nb_calculate_fan(w, &fi, &fo), 0);
    cr_assert_eq(fi, 5);
    cr_assert_eq(fo, 3);
    nb_tensor *conv = nb_empty(NB_SHAPE(16, 8, 3, 3)); /* [out, in, kh, kw] */
    cr_assert_eq(nb_calculate_fan(conv, &fi, &fo), 0);
    cr_assert_eq(fi, 72);
    cr_assert_eq(fo, 144);
    nb_tensor *v = nb_empty(NB_SHAPE(7));
    cr_assert_eq(nb_calculate_fan(v, &fi, &fo), -1);
    assert_error(NB_ERR_SHAPE, "calculate_fan: tensor [7]: fan in and fan out need at least 2 dimensions");
    nb_clear_error();
    cr_assert_null(nb_init_kaiming_uniform_(v, 0, NB_FAN_IN, NULL, NULL));
    assert_error(NB_ERR_SHAPE, "init_kaiming_uniform_: tensor [7]");
    nb_free(w), nb_free(conv), nb_free(v);
}

/* n = 131072 values: the relative standard error of a sample std is about
 * sqrt((kurtosis - 1) / 4n) <= 0.002 (normal: kurtosis 3), so 1.5% is > 7 SE. */
#define REL 0.015

static void check_uniform(nb_tensor *t, double bound)
{
    double mean, std;
    moments(t, &mean, &std);
    cr_assert(max_abs(t) <= bound * (1 + 1e-6), "max |w| %g exceeds bound %g", max_abs(t), bound);
    cr_assert(max_abs(t) >= bound * 0.999, "max |w| %g far inside bound %g", max_abs(t), bound);
    cr_assert(fabs(std / (bound / sqrt(3.0)) - 1) < REL, "std %g, want %g", std, bound / sqrt(3.0));
    cr_assert(fabs(mean) < 6 * bound / sqrt(3.0 * (double)t->numel), "mean %g", mean);
}

static void check_normal(nb_tensor *t, double want_std)
{
    double mean, std;
    moments(t, &mean, &std);
    cr_assert(fabs(std / want_std - 1) < REL, "std %g, want %g", std, want_std);
    cr_assert(fabs(mean) < 6 * want_std / sqrt((double)t->numel), "mean %g", mean);
}

Test(init, kaiming_uniform_and_normal)
{
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_tensor *w = nb_empty(NB_SHAPE(256, 512));
    /* defaults: a = 0, fan_in, leaky_relu -> gain sqrt(2), std sqrt(2 / 512) */
    cr_assert_eq(nb_init_kaiming_uniform_(w, 0, NB_FAN_IN, NULL, &g), w);
    check_uniform(w, sqrt(3.0) * sqrt(2.0 / 512));
    /* fan_out, relu */
    cr_assert_not_null(nb_init_kaiming_normal_(w, 0, NB_FAN_OUT, "relu", &g));
    check_normal(w, sqrt(2.0 / 256));
    /* nn.Linear's a = sqrt(5): bound 1 / sqrt(fan_in) */
    cr_assert_not_null(nb_init_kaiming_uniform_(w, sqrt(5.0), NB_FAN_IN, "leaky_relu", &g));
    check_uniform(w, 1 / sqrt(512.0));
    /* tanh, gain 5/3 */
    cr_assert_not_null(nb_init_kaiming_normal_(w, 0, NB_FAN_IN, "tanh", &g));
    check_normal(w, 5.0 / 3 / sqrt(512.0));
    cr_assert_null(nb_init_kaiming_normal_(w, 0, (nb_fan_mode)7, NULL, &g));
    assert_error(NB_ERR_ARG, "mode 7");
    nb_clear_error();
    cr_assert_null(nb_init_kaiming_normal_(w, 0, NB_FAN_IN, "cosine", &g));
    assert_error(NB_ERR_ARG, "unsupported nonlinearity 'cosine'");
    nb_free(w);
}

Test(init, xavier_uniform_and_normal)
{
    nb_generator g;
    nb_generator_seed(&g, 2);
    nb_tensor *w = nb_empty(NB_SHAPE(64, 32, 8)); /* fan_in 256, fan_out 512 */
    cr_assert_not_null(nb_init_xavier_uniform_(w, 1, &g));
    check_uniform(w, sqrt(6.0 / 768));
    cr_assert_not_null(nb_init_xavier_normal_(w, nb_calculate_gain("tanh", NAN), &g));
    check_normal(w, 5.0 / 3 * sqrt(2.0 / 768));
    nb_free(w);
}

Test(init, lecun_normal)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *w = nb_empty(NB_SHAPE(300, 437));
    cr_assert_not_null(nb_init_lecun_normal_(w, &g));
    check_normal(w, 1 / sqrt(437.0));
    nb_free(w);
}

Test(init, uniform_normal_constant)
{
    nb_generator g;
    nb_generator_seed(&g, 4);
    nb_tensor *w = nb_empty(NB_SHAPE(1 << 17));
    cr_assert_not_null(nb_init_uniform_(w, -2, 6, &g));
    double mean, std;
    moments(w, &mean, &std);
    for (int64_t i = 0; i < w->numel; i++)
        cr_assert(w->data[i] >= -2 && w->data[i] < 6);
    cr_assert(fabs(mean - 2) < 6 * (8 / sqrt(12.0)) / sqrt((double)w->numel), "mean %g", mean);
    cr_assert(fabs(std / (8 / sqrt(12.0)) - 1) < REL);
    cr_assert_not_null(nb_init_normal_(w, 3, 0.5, &g));
    moments(w, &mean, &std);
    cr_assert(fabs(mean - 3) < 6 * 0.5 / sqrt((double)w->numel), "mean %g", mean);
    cr_assert(fabs(std / 0.5 - 1) < REL);
    cr_assert_eq(nb_init_constant_(w, 0.25), w);
    for (int64_t i = 0; i < w->numel; i++)
        cr_assert_eq(w->data[i], (nb_real)0.25);
    cr_assert_null(nb_init_uniform_(w, 1, -1, &g));
    assert_error(NB_ERR_ARG, "init_uniform_: bounds [1, -1)");
    nb_clear_error();
    cr_assert_null(nb_init_normal_(w, 0, -1, &g));
    assert_error(NB_ERR_ARG, "init_normal_: mean 0, std -1");
    for (int64_t i = 0; i < w->numel; i++) /* failed calls left the values alone */
        cr_assert_eq(w->data[i], (nb_real)0.25);
    nb_free(w);
}

typedef nb_tensor *(*init_fn)(nb_tensor *t, nb_generator *g);
static nb_tensor *ku(nb_tensor *t, nb_generator *g)
{
    return nb_init_kaiming_uniform_(t, 0, NB_FAN_IN, NULL, g);
}
static nb_tensor *kn(nb_tensor *t, nb_generator *g)
{
    return nb_init_kaiming_normal_(t, 0, NB_FAN_IN, NULL, g);
}
static nb_tensor *xu(nb_tensor *t, nb_generator *g) { return nb_init_xavier_uniform_(t, 1, g); }
static nb_tensor *xn(nb_tensor *t, nb_generator *g) { return nb_init_xavier_normal_(t, 1, g); }

Test(init, same_seed_same_bits)
{
    init_fn fns[] = {ku, kn, xu, xn, nb_init_lecun_normal_};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        nb_tensor *a = nb_empty(NB_SHAPE(20, 30)), *b = nb_empty(NB_SHAPE(20, 30));
        nb_generator g1, g2;
        nb_generator_seed(&g1, 42);
        nb_generator_seed(&g2, 42);
        fns[f](a, &g1);
        fns[f](b, &g2);
        cr_assert(memcmp(a->data, b->data, (size_t)a->numel * sizeof(nb_real)) == 0, "fn %zu", f);
        fns[f](b, &g2); /* the generator moved on: different values */
        cr_assert(memcmp(a->data, b->data, (size_t)a->numel * sizeof(nb_real)) != 0, "fn %zu", f);
        /* NULL: the default generator, reset by nb_manual_seed */
        nb_manual_seed(9);
        fns[f](a, NULL);
        nb_manual_seed(9);
        fns[f](b, NULL);
        cr_assert(memcmp(a->data, b->data, (size_t)a->numel * sizeof(nb_real)) == 0, "fn %zu", f);
        nb_free(a), nb_free(b);
    }
}
