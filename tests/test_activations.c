/* tests/test_activations.c — every activation of the registry, driven by the
 * registry itself (an activation added later is checked here without a new
 * test): gradient checks (float64) at random points and at +-1000, +-30,
 * +-1e-3; forward and backward finite from -1000 to 1000; bit-identical
 * results for 1 and 2 threads. Then forward values against references worked
 * out independently (mpmath at 40 digits from the definitions, or by hand),
 * the derivative at each kink against PyTorch's convention, the lookup and
 * the error messages. */
#include "common.h"

TestSuite(activations, .init = quiet, .fini = end_step);

static const nb_activation *act(const char *name)
{
    const nb_activation *a = nb_activation_find(name);
    cr_assert_not_null(a, "no activation '%s' in the registry", name);
    return a;
}

/* ---- registry-driven checks ------------------------------------------ */

/* A persistent [rows,4] tensor of the values v, with requires_grad. */
static nb_tensor *input(const double *v, int64_t rows)
{
    nb_tensor *x = nb_empty(NB_SHAPE(rows, 4));
    cr_assert_not_null(x);
    for (int64_t i = 0; i < rows * 4; i++)
        x->data[i] = (nb_real)v[i];
    return nb_requires_grad(x, true);
}

#ifdef NABLA_F64
/* The learnable weight of an entry that has one ([1], learnable_init). */
static nb_tensor *weight(const nb_activation *a)
{
    if (!a->learnable)
        return NULL;
    nb_tensor *w = nb_full(NB_SHAPE(1), a->learnable_init);
    cr_assert_not_null(w);
    return nb_requires_grad(w, true);
}

static nb_tensor *apply_fn(nb_tensor *const *in, int n, void *ctx)
{
    const nb_activation *a = ctx;
    return a->apply(in[0], a->defaults, n > 1 ? in[1] : NULL);
}

static bool near_kink(const nb_activation *a, double x)
{
    for (int k = 0; k < a->n_kinks; k++)
        if (fabs(x - (double)a->kinks[k]) < 1e-3)
            return true;
    return false;
}

/* Gradient check of entry a on a [3,4] input; returns the number of non-zero
 * gradient elements. */
static int64_t gradcheck_at(const nb_activation *a, const double *v, const char *what)
{
    nb_tensor *x = input(v, 3), *w = weight(a);
    nb_tensor *in[2] = {x, w};
    nb_gradcheck_result r = nb_gradcheck(apply_fn, w ? 2 : 1, in, (void *)a, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s at %s: %s", a->name, what, r.message);
    nb_free(x);
    nb_free(w);
    nb_step_end();
    return r.nonzero;
}

/* A check that passes on all-zero gradients proves nothing: each entry must
 * have non-zero ones, except step, whose gradient is 0 everywhere (and must be). */
static void assert_nonzero(const nb_activation *a, int64_t nonzero, const char *what)
{
    if (strcmp(a->name, "step") == 0)
        cr_assert_eq(nonzero, 0, "step has a non-zero gradient at %s", what);
    else
        cr_assert_gt(nonzero, 0, "%s at %s: all gradients are zero", a->name, what);
}

Test(activations, gradcheck_every_entry_at_random_and_extreme_points)
{
    static const double extreme[12] = {1000, -1000, 30, -30, 1e-3, -1e-3, 1000, -30, -1000, 30, -1e-3, 1e-3};
    nb_generator g;
    nb_generator_seed(&g, 20240611);
    for (int i = 0; i < nb_activation_count(); i++) {
        const nb_activation *a = nb_activation_at(i);
        assert_nonzero(a, gradcheck_at(a, extreme, "+-1000, +-30, +-1e-3"), "+-1000, +-30, +-1e-3");
        int64_t nonzero = 0;
        for (int round = 0; round < 5; round++) {
            /* uniform in [-5, 5], at least 1e-3 from a kink and (for the
             * entries that compare elements: maxout) from each other */
            double v[12];
            for (int j = 0; j < 12; j++) {
                bool bad;
                do {
                    v[j] = 10 * nb_generator_uniform(&g) - 5;
                    bad = near_kink(a, v[j]);
                    for (int k = 0; k < j && !a->pointwise; k++)
                        bad |= fabs(v[j] - v[k]) < 1e-3;
                } while (bad);
            }
            nonzero += gradcheck_at(a, v, "random points in [-5, 5]");
        }
        assert_nonzero(a, nonzero, "60 random points in [-5, 5]");
    }
}
#endif

/* -1000 to 1000 in steps of 0.5 plus the points where formulas switch. */
enum { SWEEP_ROWS = 1010 };
static void sweep_values(double *v)
{
    static const double special[] = {0,   -0.0, 1e-3, -1e-3, 1e-30, -1e-30, 3,    -3,    6,  -6,  20,
                                     -20, 40,   -40,  88.7,  -88.7, 104,    -104, 1,     -1, 0.5, -0.5,
                                     10,  -10,  1e20, -1e20, 710,   -710,   1e-8, -1e-8, 2,  -2};
    int n = 0;
    for (; n < 4001; n++)
        v[n] = -1000 + 0.5 * n;
    for (size_t k = 0; k < sizeof special / sizeof special[0]; n++, k++)
        v[n] = special[k];
    for (; n < SWEEP_ROWS * 4; n++)
        v[n] = 0.25 * n - 1000.125;
}

Test(activations, forward_and_backward_finite_from_minus_1000_to_1000)
{
    static double v[SWEEP_ROWS * 4];
    sweep_values(v);
    for (int i = 0; i < nb_activation_count(); i++) {
        const nb_activation *a = nb_activation_at(i);
        nb_tensor *x = input(v, SWEEP_ROWS);
        nb_tensor *y = nb_activation_apply(a, x);
        cr_assert_not_null(y, "%s: %s", a->name, nb_last_error_message());
        for (int64_t j = 0; j < y->numel; j++)
            cr_assert(isfinite((double)y->data[j]), "%s: forward %g at element %lld", a->name,
                      (double)y->data[j], (long long)j);
        nb_tensor *g = nb_ones(y->ndim, y->shape);
        cr_assert_eq(nb_backward_grad(y, g), 0, "%s: %s", a->name, nb_last_error_message());
        cr_assert_not_null(x->grad);
        for (int64_t j = 0; j < x->numel; j++)
            cr_assert(isfinite((double)x->grad[j]), "%s: gradient %g at x = %g", a->name, (double)x->grad[j],
                      v[j]);
        nb_free(g);
        nb_free(x);
        nb_step_end();
    }
}

/* Forward values and input gradients of entry a with n threads. */
static int64_t run_threads(const nb_activation *a, const double *v, int64_t rows, int threads, nb_real *y_out,
                           nb_real *g_out)
{
    nb_set_num_threads(threads);
    nb_tensor *x = input(v, rows);
    nb_tensor *y = nb_activation_apply(a, x);
    cr_assert_not_null(y, "%s: %s", a->name, nb_last_error_message());
    nb_tensor *g = nb_full(y->ndim, y->shape, (nb_real)0.75);
    cr_assert_eq(nb_backward_grad(y, g), 0);
    int64_t n = y->numel;
    memcpy(y_out, y->data, (size_t)n * sizeof(nb_real));
    memcpy(g_out, x->grad, (size_t)x->numel * sizeof(nb_real));
    nb_free(g);
    nb_free(x);
    nb_step_end();
    nb_set_num_threads(0);
    return n;
}

Test(activations, bit_identical_for_one_and_two_threads)
{
    enum { ROWS = 20000 }; /* 80000 elements: several chunks of the pool */
    static double v[ROWS * 4];
    static nb_real y1[ROWS * 4], y2[ROWS * 4], g1[ROWS * 4], g2[ROWS * 4];
    nb_generator gen;
    nb_generator_seed(&gen, 7);
    for (int i = 0; i < ROWS * 4; i++)
        v[i] = 20 * nb_generator_uniform(&gen) - 10;
    for (int i = 0; i < nb_activation_count(); i++) {
        const nb_activation *a = nb_activation_at(i);
        int64_t n = run_threads(a, v, ROWS, 1, y1, g1);
        cr_assert_eq(run_threads(a, v, ROWS, 2, y2, g2), n);
        cr_assert(memcmp(y1, y2, (size_t)n * sizeof(nb_real)) == 0,
                  "%s: outputs differ between 1 and 2 threads", a->name);
        cr_assert(memcmp(g1, g2, sizeof g1) == 0, "%s: gradients differ between 1 and 2 threads", a->name);
    }
}

Test(activations, registry_lists_unique_complete_entries)
{
    static const char *const expected[] = {
        "step",     "sigmoid", "tanh",     "logsigmoid",  "relu",        "relu6",         "leaky_relu",
        "hardtanh", "elu",     "celu",     "selu",        "gelu",        "gelu_tanh",     "silu",
        "softplus", "mish",    "softsign", "hardsigmoid", "hardswish",   "bent_identity", "sinusoid",
        "identity", "prelu",   "swish",    "softmax",     "log_softmax", "maxout"};
    int n = (int)(sizeof expected / sizeof expected[0]);
    cr_assert_geq(nb_activation_count(), n);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(act(expected[i])->name, expected[i]);
    for (int i = 0; i < nb_activation_count(); i++) {
        const nb_activation *a = nb_activation_at(i);
        cr_assert_not_null(a);
        cr_assert_not_null(a->apply, "%s has no apply", a->name);
        cr_assert(a->n_params >= 0 && a->n_params <= NB_ACT_MAX_PARAMS, "%s", a->name);
        cr_assert(a->n_kinks >= 0 && a->n_kinks <= 4, "%s", a->name);
        for (int k = 0; k < a->n_params; k++)
            cr_assert_not_null(a->param_names[k], "%s: parameter %d has no name", a->name, k);
        cr_assert_eq(nb_activation_find(a->name), a, "%s is not found by its name", a->name);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(nb_activation_at(j)->name, a->name, "duplicate name");
    }
}

Test(activations, registry_defaults_are_pytorchs)
{
    const nb_activation *a = act("leaky_relu");
    cr_assert_eq(a->n_params, 1);
    cr_assert_str_eq(a->param_names[0], "negative_slope");
    cr_assert_float_eq(a->defaults[0], 0.01, 1e-9);
    a = act("hardtanh");
    cr_assert_eq(a->defaults[0], -1);
    cr_assert_eq(a->defaults[1], 1);
    cr_assert_eq(act("elu")->defaults[0], 1);
    cr_assert_eq(act("celu")->defaults[0], 1);
    a = act("softplus");
    cr_assert_str_eq(a->param_names[1], "threshold");
    cr_assert_eq(a->defaults[0], 1);
    cr_assert_eq(a->defaults[1], 20);
    /* through nb_activation_apply: leaky_relu(-2) = -0.02 */
    nb_tensor *x = nb_full(NB_SHAPE(2), -2);
    nb_tensor *y = nb_activation_apply(act("leaky_relu"), x);
    cr_assert_float_eq(y->data[1], -0.02, 1e-7);
    nb_free(x);
}

Test(activations, unknown_name_and_bad_index_are_errors)
{
    cr_assert_null(nb_activation_find("foo"));
    assert_error(NB_ERR_ARG, "act: unknown activation 'foo' (known: step, sigmoid, tanh,");
    for (int i = 0; i < nb_activation_count(); i++)
        cr_assert(strstr(nb_last_error_message(), nb_activation_at(i)->name), "the message does not list %s",
                  nb_activation_at(i)->name);
    nb_clear_error();
    cr_assert_null(nb_activation_find(NULL));
    assert_error(NB_ERR_NULL, "act: the activation name is NULL");
    nb_clear_error();
    cr_assert_null(nb_activation_at(nb_activation_count()));
    assert_error(NB_ERR_ARG, "out of range");
    nb_clear_error();
    cr_assert_null(nb_activation_at(-1));
    assert_error(NB_ERR_ARG, "act: index -1 out of range");
    nb_clear_error();
    nb_tensor *x = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_activation_apply(NULL, x));
    assert_error(NB_ERR_NULL, "act: the activation is NULL");
    nb_clear_error();
    cr_assert_null(nb_activation_apply(act("relu"), NULL));
    assert_error(NB_ERR_NULL, "relu: argument 1 is NULL");
    nb_free(x);
}

/* ---- forward values --------------------------------------------------- */

/* Expected values: mpmath at 40 digits from the definitions in each
 * activation's file (e.g. gelu = x/2 (1 + erf(x/sqrt 2)), mish =
 * x tanh(log(1 + e^x)), selu with PyTorch's constants), or by hand. */
typedef struct ref {
    const char *name;
    double x, want;
    double rtol32; /* float32 relative tolerance when not 1e-5 */
} ref;

static const ref refs[] = {
    {"step", -1, 0, 0},
    {"step", 0, 0, 0},
    {"step", 1e-30, 1, 0},
    {"step", 1000, 1, 0},
    {"sigmoid", 0, 0.5, 0},
    {"sigmoid", 1, 0.73105857863000488, 0},
    {"sigmoid", -1, 0.26894142136999512, 0},
    {"sigmoid", -20, 2.0611536181902036e-9, 0},
    {"sigmoid", 30, 0.99999999999990642, 0},
    {"sigmoid", -1000, 0, 0},
    {"sigmoid", 1000, 1, 0},
    {"tanh", 0.5, 0.46211715726000976, 0},
    {"tanh", -2, -0.96402758007581688, 0},
    {"tanh", 1000, 1, 0},
    {"tanh", -1000, -1, 0},
    {"logsigmoid", 1, -0.31326168751822283, 0},
    {"logsigmoid", -1, -1.3132616875182228, 0},
    {"logsigmoid", -30, -30.000000000000094, 0},
    {"logsigmoid", 30, -9.3576229688397368e-14, 0},
    {"logsigmoid", -1000, -1000, 0},
    {"logsigmoid", 1000, 0, 0},
    {"relu", -1, 0, 0},
    {"relu", 2.5, 2.5, 0},
    {"relu", 0, 0, 0},
    {"relu6", -2, 0, 0},
    {"relu6", 3, 3, 0},
    {"relu6", 7, 6, 0},
    {"relu6", 1000, 6, 0},
    {"leaky_relu", -2, -0.02, 0},
    {"leaky_relu", 3, 3, 0},
    {"leaky_relu", -1000, -10, 0},
    {"hardtanh", -2, -1, 0},
    {"hardtanh", 0.5, 0.5, 0},
    {"hardtanh", 3, 1, 0},
    {"elu", -1, -0.63212055882855768, 0},
    {"elu", -1e-3, -0.00099950016662500835, 0},
    {"elu", 2, 2, 0},
    {"elu", -1000, -1, 0},
    {"celu", -1, -0.63212055882855768, 0},
    {"celu", -5, -0.99326205300091453, 0},
    {"celu", 2, 2, 0},
    {"selu", 1, 1.0507009873554805, 0},
    {"selu", -1, -1.1113307378125628, 0},
    {"selu", -1e-3, -0.0017572205841202705, 0},
    {"selu", -1000, -1.7580993408473769, 0},
    {"gelu", 1, 0.84134474606854295, 0},
    {"gelu", -1, -0.15865525393145705, 0},
    {"gelu", 3, 2.9959503059051097, 0},
    {"gelu", 0.5, 0.34573123063700655, 0},
    /* 1 + erf(-2.12) cancels (PyTorch's formula): ~4 ulp of 1 relative to 0.0027 */
    {"gelu", -3, -0.0040496940948902836, 1e-4},
    {"gelu", 1000, 1000, 0},
    {"gelu", -1000, 0, 0},
    {"gelu_tanh", 1, 0.8411919906082767, 0},
    {"gelu_tanh", -1, -0.1588080093917233, 0},
    {"gelu_tanh", 3, 2.996362607918227, 0},
    {"gelu_tanh", -3, -0.0036373920817730188, 0},
    {"gelu_tanh", 1000, 1000, 0},
    {"gelu_tanh", -1000, 0, 0},
    {"silu", 1, 0.73105857863000488, 0},
    {"silu", -1, -0.26894142136999512, 0},
    {"silu", -30, -2.8072868906517897e-12, 0},
    {"silu", 1000, 1000, 0},
    {"silu", -1000, 0, 0},
    {"softplus", 0, 0.69314718055994531, 0},
    {"softplus", 1, 1.3132616875182228, 0},
    {"softplus", -30, 9.3576229688397368e-14, 0},
    {"softplus", -5, 0.0067153484891180686, 0},
    {"softplus", 20, 20.000000002061154, 0}, /* beta x = threshold: still log1p(e^x) */
    {"softplus", 21, 21, 0},                 /* above the threshold: x exactly */
    {"softplus", 1000, 1000, 0},
    {"softplus", -1000, 0, 0},
    {"mish", 1, 0.86509838826731035, 0},
    {"mish", -1, -0.30340146137410892, 0},
    {"mish", -30, -2.807286890651921e-12, 0},
    {"mish", 5, 4.9995520775294057, 0},
    {"mish", 1000, 1000, 0},
    {"mish", -1000, 0, 0},
    {"softsign", 1, 0.5, 0},
    {"softsign", -3, -0.75, 0},
    {"softsign", 1000, 1000.0 / 1001, 0},
    {"hardsigmoid", 0, 0.5, 0},
    {"hardsigmoid", 1, 4.0 / 6, 0},
    {"hardsigmoid", -4, 0, 0},
    {"hardsigmoid", 4, 1, 0},
    {"hardswish", 1, 4.0 / 6, 0},
    {"hardswish", -1, -1.0 / 3, 0},
    {"hardswish", -4, 0, 0},
    {"hardswish", 4, 4, 0},
    {"bent_identity", 0, 0, 0},
    {"bent_identity", 1, 1.2071067811865475, 0},
    {"bent_identity", -1, -0.79289321881345248, 0},
    {"bent_identity", 1e-3, 0.0010002499999375001, 0},
    {"bent_identity", 1000, 1499.5002499999375, 0},
    {"bent_identity", -1000, -500.4997500000625, 0},
    {"sinusoid", 1, 0.84147098480789651, 0},
    {"sinusoid", 1000, 0.82687954053200256, 0},
    {"identity", 3.25, 3.25, 0},
    {"identity", -1000, -1000, 0},
    /* learnable, at their initial weights: prelu alpha 0.25, swish beta 1 (= silu) */
    {"prelu", -2, -0.5, 0},
    {"prelu", 3, 3, 0},
    {"swish", 1, 0.73105857863000488, 0},
};

Test(activations, forward_values_match_independent_references)
{
#ifdef NABLA_F64
    const double rtol = 1e-12;
#else
    const double rtol = 1e-5;
#endif
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const ref *r = &refs[i];
        nb_tensor *x = nb_full(NB_SHAPE(1), (nb_real)r->x);
        nb_tensor *y = nb_activation_apply(act(r->name), x);
        cr_assert_not_null(y, "%s: %s", r->name, nb_last_error_message());
        double got = y->data[0], tol = rtol;
#ifndef NABLA_F64
        if (r->rtol32 > 0)
            tol = r->rtol32;
#endif
        cr_assert(fabs(got - r->want) <= tol * fabs(r->want), "%s(%g) = %.17g, want %.17g", r->name, r->x,
                  got, r->want);
        nb_free(x);
    }
}

Test(activations, parameters_change_the_function)
{
    nb_tensor *x = nb_full(NB_SHAPE(1), -1);
    cr_assert_float_eq(nb_leaky_relu(x, 0.2)->data[0], -0.2, 1e-7);
    cr_assert_float_eq(nb_hardtanh(x, -0.5, 2)->data[0], -0.5, 1e-7);
    /* 2 (e^-1 - 1) and 2 (e^-1/2 - 1) */
    cr_assert_float_eq(nb_elu(x, 2)->data[0], -1.2642411176571154, 1e-6);
    cr_assert_float_eq(nb_celu(x, 2)->data[0], -0.78693868057473315, 1e-6);
    nb_fill_(x, 1);
    /* log(1 + e^2)/2 */
    cr_assert_float_eq(nb_softplus(x, 2, 20)->data[0], 1.0634640055214862, 1e-6);
    nb_fill_(x, 15); /* beta x = 30 > 20: x */
    cr_assert_eq(nb_softplus(x, 2, 20)->data[0], 15);
    nb_free(x);
}

/* ---- derivatives at the kinks (PyTorch's conventions) ------------------ */

/* d act(x)/dx through a real backward pass. */
static double grad_at(nb_tensor *(*f)(nb_tensor *), double xv)
{
    nb_tensor *x = nb_requires_grad(nb_full(NB_SHAPE(1), (nb_real)xv), true);
    cr_assert_eq(nb_backward(nb_sum(f(x))), 0, "%s", nb_last_error_message());
    double g = x->grad[0];
    nb_free(x);
    nb_step_end();
    return g;
}

static nb_tensor *leaky(nb_tensor *x) { return nb_leaky_relu(x, 0.01); }
static nb_tensor *htanh(nb_tensor *x) { return nb_hardtanh(x, -1, 1); }
static nb_tensor *elu1(nb_tensor *x) { return nb_elu(x, 1); }
static nb_tensor *elu2(nb_tensor *x) { return nb_elu(x, 2); }
static nb_tensor *celu1(nb_tensor *x) { return nb_celu(x, 1); }
static nb_tensor *splus(nb_tensor *x) { return nb_softplus(x, 1, 20); }

Test(activations, kink_conventions_are_pytorchs)
{
    /* relu: threshold_backward(grad, result, 0): 0 at 0 */
    cr_assert_eq(grad_at(nb_relu, 0), 0);
    cr_assert_eq(grad_at(nb_relu, 1e-30), 1);
    cr_assert_eq(grad_at(nb_relu, -1e-30), 0);
    /* relu6 = hardtanh(0, 6): gradient strictly inside */
    cr_assert_eq(grad_at(nb_relu6, 0), 0);
    cr_assert_eq(grad_at(nb_relu6, 6), 0);
    cr_assert_eq(grad_at(nb_relu6, 5.5), 1);
    /* leaky_relu: x > 0, so the slope at 0 */
    cr_assert_float_eq(grad_at(leaky, 0), 0.01, 1e-9);
    cr_assert_eq(grad_at(leaky, 1e-30), 1);
    /* hardtanh: 0 at both bounds */
    cr_assert_eq(grad_at(htanh, -1), 0);
    cr_assert_eq(grad_at(htanh, 1), 0);
    cr_assert_eq(grad_at(htanh, 0.999), 1);
    /* elu family: x <= 0 takes the exponential branch */
    cr_assert_eq(grad_at(elu1, 0), 1);
    cr_assert_eq(grad_at(elu2, 0), 2);
    cr_assert_eq(grad_at(elu2, 1e-30), 1);
    cr_assert_eq(grad_at(celu1, 0), 1);
    cr_assert_float_eq(grad_at(nb_selu, 0), 1.7580993408473769, 1e-6); /* scale alpha */
    cr_assert_float_eq(grad_at(nb_selu, 1e-30), 1.0507009873554805, 1e-6);
    /* hardsigmoid: 1/6 strictly inside (-3, 3) */
    cr_assert_eq(grad_at(nb_hardsigmoid, -3), 0);
    cr_assert_eq(grad_at(nb_hardsigmoid, 3), 0);
    cr_assert_float_eq(grad_at(nb_hardsigmoid, 2.5), 1.0 / 6, 1e-7);
    /* hardswish: x/3 + 1/2 strictly inside (-3, 3); the outer pieces' 0 and 1
     * at the kinks, as PyTorch since pytorch/pytorch#148049 */
    cr_assert_eq(grad_at(nb_hardswish, -3), 0);
    cr_assert_eq(grad_at(nb_hardswish, 3), 1);
    cr_assert_float_eq(grad_at(nb_hardswish, -2.99), -2.99 / 3 + 0.5, 1e-6);
    cr_assert_float_eq(grad_at(nb_hardswish, 2.99), 2.99 / 3 + 0.5, 1e-6);
    { /* the same at every position of the vector loop and its tail (torch 1.13's differ) */
        nb_tensor *x = nb_requires_grad(nb_zeros(NB_SHAPE(74)), true);
        for (int i = 0; i < 74; i++)
            x->data[i] = i < 37 ? 3 : -3;
        cr_assert_eq(nb_backward(nb_sum(nb_hardswish(x))), 0);
        for (int i = 0; i < 74; i++)
            cr_assert_eq(x->grad[i], i < 37 ? 1 : 0, "hardswish'(%g) at %d", x->data[i], i);
        nb_free(x);
        nb_step_end();
    }
    cr_assert_eq(grad_at(nb_hardswish, -3.01), 0);
    cr_assert_eq(grad_at(nb_hardswish, 3.01), 1);
    /* softsign'(0) = 1; softplus at its threshold: sigmoid(20) at 20, 1 above */
    cr_assert_eq(grad_at(nb_softsign, 0), 1);
    cr_assert_float_eq(grad_at(splus, 20), 0.99999999793884631, 1e-7);
    cr_assert_eq(grad_at(splus, 20.5), 1);
    /* step: 0 everywhere */
    static const double xs[] = {-1000, -1, -1e-30, 0, 1e-30, 1, 1000};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        cr_assert_eq(grad_at(nb_step, xs[i]), 0, "step'(%g)", xs[i]);
    /* smooth ones at 0 and far out: silu'(1) (mpmath), gelu'(0) = 1/2 */
    cr_assert_float_eq(grad_at(nb_silu, 1), 0.92767051187148673, 1e-6);
    cr_assert_float_eq(grad_at(nb_gelu, 0), 0.5, 1e-7);
    cr_assert_float_eq(grad_at(nb_gelu_tanh, 0), 0.5, 1e-7);
    cr_assert_eq(grad_at(nb_mish, -1000), 0);
    cr_assert_eq(grad_at(nb_mish, 1000), 1);
    cr_assert_eq(grad_at(nb_sigmoid, -1000), 0);
    cr_assert_eq(grad_at(nb_logsigmoid, -1000), 1);
}

/* ---- argument errors -------------------------------------------------- */

Test(activations, bad_parameters_are_errors)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_hardtanh(x, 1, -1));
    assert_error(NB_ERR_ARG, "hardtanh: [3]: min_val 1 is not <= max_val -1");
    nb_clear_error();
    cr_assert_null(nb_hardtanh(x, NAN, 1));
    assert_error(NB_ERR_ARG, "hardtanh: [3]: min_val nan");
    nb_clear_error();
    cr_assert_null(nb_celu(x, 0));
    assert_error(NB_ERR_ARG, "celu: [3]: alpha is 0");
    nb_clear_error();
    cr_assert_null(nb_softplus(x, 0, 20));
    assert_error(NB_ERR_ARG, "softplus: [3]: beta is 0");
    nb_clear_error();
    cr_assert_null(nb_gelu(NULL));
    assert_error(NB_ERR_NULL, "gelu: argument 1 is NULL");
    /* a pending error passes through NULL untouched */
    cr_assert_null(nb_celu(NULL, 0));
    assert_error(NB_ERR_NULL, "gelu: argument 1 is NULL");
    nb_clear_error();
    nb_free(x);
}

/* A program's own activation: cube(x) = x^3 through existing ops. */
static nb_tensor *cube_apply(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)p, (void)w;
    return nb_mul(nb_mul(x, x), x);
}
static const nb_activation cube = {.name = "cube", .apply = cube_apply, .pointwise = true};

Test(activations, a_registered_activation_is_found_by_name_and_listed)
{
    int before = nb_activation_count();
    cr_assert_null(nb_activation_find("cube"));
    nb_clear_error();
    cr_assert_eq(nb_activation_register(&cube), 0);
    cr_assert_eq(nb_activation_count(), before + 1);
    cr_assert_eq(nb_activation_find("cube"), &cube);
    cr_assert_eq(nb_activation_at(before), &cube);
    nb_tensor *x = nb_from_array((nb_real[]){-2, 3}, NB_SHAPE(2));
    nb_tensor *y = nb_activation_apply(nb_activation_find("cube"), x);
    cr_assert_float_eq(y->data[0], -8, TOL);
    cr_assert_float_eq(y->data[1], 27, TOL);
    nb_free(x);
}

Test(activations, registering_a_taken_name_or_an_incomplete_entry_fails)
{
    static const nb_activation dup = {.name = "relu", .apply = cube_apply};
    static const nb_activation nameless = {.apply = cube_apply};
    int before = nb_activation_count();
    cr_assert_eq(nb_activation_register(&dup), -1);
    assert_error(NB_ERR_ARG, "act: register: an activation named 'relu' exists already");
    nb_clear_error();
    cr_assert_eq(nb_activation_register(&nameless), -1);
    assert_error(NB_ERR_NULL, "its name or its apply function is NULL");
    cr_assert_eq(nb_activation_count(), before);
}
