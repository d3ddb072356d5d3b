/* tests/test_optim.c — every optimizer and option over ten steps of a small
 * least-squares problem, against a trajectory computed here in double from the
 * update rules of the torch.optim documentation (pseudo-code written out below,
 * independently of the library); each option must change the trajectory.
 * Also: parameters without grad, zero_grad, state names and resume, errors,
 * literal zeros, options read back and refused, gradient clipping. */
#include "common.h"
#include "nabla/loss.h"
#include "nabla/optim.h"

TestSuite(optim, .init = quiet, .fini = end_step);

/* loss(w) = mean((X w - y)^2), X [4,3], w [3,1], y [4,1] */
static const double X[4][3] = {{1, 2, 0.5}, {0, 1, -1}, {2, -1, 1}, {1, 1, 1}};
static const double Y[4] = {1, 2, 0, 3};
static const double W0[3] = {0.5, -0.3, 0.1};

/* ∇ = (2/4) Xᵀ (X w - y) */
static void ref_grad(const double *w, double *g)
{
    double r[4];
    for (int i = 0; i < 4; i++)
        r[i] = X[i][0] * w[0] + X[i][1] * w[1] + X[i][2] * w[2] - Y[i];
    for (int j = 0; j < 3; j++) {
        g[j] = 0;
        for (int i = 0; i < 4; i++)
            g[j] += 0.5 * X[i][j] * r[i];
    }
}

typedef enum algo { SGD, ADAM, ADAMW, RMSPROP, ADAGRAD } algo;

/* Options in PyTorch's terms, every default written out. */
typedef struct cfg {
    const char *label;
    algo a;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps, alpha, lr_decay, init_acc;
    bool nesterov, maximize, amsgrad, centered;
    int base; /* index of the configuration this one must differ from, -1 none */
} cfg;

/* The pseudo-code of the torch.optim docs, per coordinate, in double. */
typedef struct ref {
    double w[3], b[3], m[3], v[3], vmax[3], gavg[3], sum[3];
    int t;
} ref;

static void ref_step(const cfg *c, ref *r)
{
    double grad[3];
    ref_grad(r->w, grad);
    r->t++;
    int t = r->t;
    for (int j = 0; j < 3; j++) {
        double g = c->maximize ? -grad[j] : grad[j], th = r->w[j];
        switch (c->a) {
        case SGD:
            if (c->weight_decay != 0)
                g += c->weight_decay * th;
            if (c->momentum != 0) {
                r->b[j] = t > 1 ? c->momentum * r->b[j] + (1 - c->dampening) * g : g;
                g = c->nesterov ? g + c->momentum * r->b[j] : r->b[j];
            }
            r->w[j] = th - c->lr * g;
            break;
        case ADAM:
        case ADAMW: {
            if (c->a == ADAMW)
                th = th - c->lr * c->weight_decay * th;
            else if (c->weight_decay != 0)
                g += c->weight_decay * th;
            r->m[j] = c->beta1 * r->m[j] + (1 - c->beta1) * g;
            r->v[j] = c->beta2 * r->v[j] + (1 - c->beta2) * g * g;
            double mhat = r->m[j] / (1 - pow(c->beta1, t)), vhat;
            if (c->amsgrad) {
                r->vmax[j] = fmax(r->vmax[j], r->v[j]);
                vhat = r->vmax[j] / (1 - pow(c->beta2, t));
            } else {
                vhat = r->v[j] / (1 - pow(c->beta2, t));
            }
            r->w[j] = th - c->lr * mhat / (sqrt(vhat) + c->eps);
            break;
        }
        case RMSPROP: {
            if (c->weight_decay != 0)
                g += c->weight_decay * th;
            r->v[j] = c->alpha * r->v[j] + (1 - c->alpha) * g * g;
            double vt = r->v[j];
            if (c->centered) {
                r->gavg[j] = r->gavg[j] * c->alpha + (1 - c->alpha) * g;
                vt -= r->gavg[j] * r->gavg[j];
            }
            if (c->momentum > 0) {
                r->b[j] = c->momentum * r->b[j] + g / (sqrt(vt) + c->eps);
                r->w[j] = th - c->lr * r->b[j];
            } else {
                r->w[j] = th - c->lr * g / (sqrt(vt) + c->eps);
            }
            break;
        }
        case ADAGRAD: {
            double lr_t = c->lr / (1 + (t - 1) * c->lr_decay);
            if (c->weight_decay != 0)
                g += c->weight_decay * th;
            if (t == 1)
                r->sum[j] = c->init_acc;
            r->sum[j] += g * g;
            r->w[j] = th - lr_t * g / (sqrt(r->sum[j]) + c->eps);
            break;
        }
        }
    }
}

#define SGD_D .a = SGD
#define ADAM_D .a = ADAM
#define ADAMW_D .a = ADAMW
#define RMS_D .a = RMSPROP
#define ADAGRAD_D .a = ADAGRAD

/* PyTorch's defaults for the fields a configuration leaves zero: SGD lr 1e-3;
 * Adam/AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, AdamW weight_decay 1e-2;
 * RMSprop lr 1e-2, alpha 0.99, eps 1e-8; Adagrad lr 1e-2, eps 1e-10. */
static cfg with_defaults(cfg c)
{
    bool adam = c.a == ADAM || c.a == ADAMW;
    if (c.lr == 0)
        c.lr = c.a == SGD || adam ? 1e-3 : 1e-2;
    if (adam && c.beta1 == 0)
        c.beta1 = 0.9, c.beta2 = 0.999;
    if (c.eps == 0 && c.a != SGD)
        c.eps = adam || c.a == RMSPROP ? 1e-8 : 1e-10;
    if (c.a == ADAMW && c.weight_decay == 0)
        c.weight_decay = 1e-2;
    if (c.a == RMSPROP && c.alpha == 0)
        c.alpha = 0.99;
    return c;
}

static const cfg cfgs[] = {
    /* 0 */ {"sgd default", SGD_D, .base = -1},
    /* 1 */ {"sgd lr", SGD_D, .lr = 0.05, .base = 0},
    /* 2 */ {"sgd momentum", SGD_D, .lr = 0.05, .momentum = 0.9, .base = 1},
    /* 3 */ {"sgd dampening", SGD_D, .lr = 0.05, .momentum = 0.9, .dampening = 0.3, .base = 2},
    /* 4 */ {"sgd nesterov", SGD_D, .lr = 0.05, .momentum = 0.9, .nesterov = true, .base = 2},
    /* 5 */ {"sgd weight_decay", SGD_D, .lr = 0.05, .weight_decay = 0.1, .base = 1},
    /* 6 */ {"sgd maximize", SGD_D, .lr = 0.05, .maximize = true, .base = 1},
    /* 7 */ {"adam default", ADAM_D, .base = -1},
    /* 8 */ {"adam lr", ADAM_D, .lr = 0.05, .base = 7},
    /* amsgrad matters only where v falls: with a short β2 */
    /* 9 */ {"adam amsgrad", ADAM_D, .lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .amsgrad = true, .base = 11},
    /* 10 */ {"adam weight_decay", ADAM_D, .lr = 0.05, .weight_decay = 0.1, .base = 8},
    /* 11 */ {"adam betas", ADAM_D, .lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .base = 8},
    /* 12 */ {"adam eps", ADAM_D, .lr = 0.05, .eps = 0.1, .base = 8},
    /* 13 */ {"adam maximize", ADAM_D, .lr = 0.05, .maximize = true, .base = 8},
    /* 14 */ {"adamw default", ADAMW_D, .base = 7},
    /* 15 */ {"adamw weight_decay", ADAMW_D, .lr = 0.05, .weight_decay = 0.5, .base = 8},
    /* 16 */
    {"adamw amsgrad", ADAMW_D, .lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .weight_decay = 0.5, .amsgrad = true,
     .base = 17},
    /* 17 */
    {"adamw betas", ADAMW_D, .lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .weight_decay = 0.5, .base = 15},
    /* 18 */ {"rmsprop default", RMS_D, .base = -1},
    /* 19 */ {"rmsprop centered", RMS_D, .centered = true, .base = 18},
    /* 20 */ {"rmsprop momentum", RMS_D, .momentum = 0.5, .base = 18},
    /* 21 */ {"rmsprop centered momentum", RMS_D, .momentum = 0.5, .centered = true, .base = 20},
    /* 22 */ {"rmsprop weight_decay", RMS_D, .weight_decay = 0.5, .base = 18},
    /* 23 */ {"rmsprop alpha", RMS_D, .alpha = 0.5, .base = 18},
    /* 24 */ {"adagrad default", ADAGRAD_D, .base = -1},
    /* 25 */ {"adagrad lr_decay", ADAGRAD_D, .lr_decay = 0.3, .base = 24},
    /* 26 */ {"adagrad initial_accumulator", ADAGRAD_D, .init_acc = 0.5, .base = 24},
    /* 27 */ {"adagrad weight_decay", ADAGRAD_D, .weight_decay = 0.5, .base = 24},
    /* 28 */ {"adagrad eps", ADAGRAD_D, .eps = 0.1, .base = 24},
};
enum { N_CFG = sizeof cfgs / sizeof cfgs[0], STEPS = 10 };

/* The library's optimizer for c: the macro's defaults, then only the fields
 * the configuration sets, so the omitted ones must be PyTorch's defaults. */
static nb_optim *make(const cfg *c, nb_tensor *w)
{
    nb_tensor *p[] = {w};
    nb_optim_opts o = c->a == SGD       ? NB_SGD_OPTS()
                      : c->a == ADAM    ? NB_ADAM_OPTS()
                      : c->a == ADAMW   ? NB_ADAMW_OPTS()
                      : c->a == RMSPROP ? NB_RMSPROP_OPTS()
                                        : NB_ADAGRAD_OPTS();
#define SET(field, value)                                                                                    \
    if (value != 0)                                                                                          \
    o.field = value
    SET(lr, c->lr);
    SET(momentum, c->momentum);
    SET(dampening, c->dampening);
    SET(weight_decay, c->weight_decay);
    SET(betas[0], c->beta1);
    SET(betas[1], c->beta2);
    SET(eps, c->eps);
    SET(alpha, c->alpha);
    SET(lr_decay, c->lr_decay);
    SET(initial_accumulator_value, c->init_acc);
#undef SET
    o.nesterov = c->nesterov, o.maximize = c->maximize, o.amsgrad = c->amsgrad, o.centered = c->centered;
    switch (c->a) {
    case SGD: return nb_sgd(p, 1, o);
    case ADAM: return nb_adam(p, 1, o);
    case ADAMW: return nb_adamw(p, 1, o);
    case RMSPROP: return nb_rmsprop(p, 1, o);
    case ADAGRAD: return nb_adagrad(p, 1, o);
    }
    return NULL;
}

/* Ten library steps with autograd computing the gradient; w after each step. */
static void run_lib(const cfg *c, double traj[STEPS][3])
{
    nb_real xv[12], yv[4], wv[3];
    for (int i = 0; i < 12; i++)
        xv[i] = (nb_real)X[i / 3][i % 3];
    for (int i = 0; i < 4; i++)
        yv[i] = (nb_real)Y[i];
    for (int i = 0; i < 3; i++)
        wv[i] = (nb_real)W0[i];
    nb_tensor *x = nb_from_array(xv, NB_SHAPE(4, 3)), *y = nb_from_array(yv, NB_SHAPE(4, 1));
    nb_tensor *w = nb_requires_grad(nb_from_array(wv, NB_SHAPE(3, 1)), true);
    nb_optim *opt = make(c, w);
    cr_assert_not_null(opt, "%s: %s", c->label, nb_last_error_message());
    for (int s = 0; s < STEPS; s++) {
        nb_optim_zero_grad(opt);
        cr_assert_eq(nb_backward(nb_mse_loss(nb_matmul(x, w), y, NB_MEAN)), 0, "%s", c->label);
        cr_assert_eq(nb_optim_step(opt), 0);
        nb_step_end();
        for (int j = 0; j < 3; j++)
            traj[s][j] = (double)w->data[j];
    }
    nb_optim_free(opt);
    nb_free(x), nb_free(y), nb_free(w);
}

Test(optim, every_option_follows_the_documented_update)
{
#ifdef NABLA_F64
    const double tol = 1e-12;
#else
    const double tol = 2e-5; /* ten float32 steps */
#endif
    static double lib[N_CFG][STEPS][3];
    for (int k = 0; k < N_CFG; k++) {
        cfg full = with_defaults(cfgs[k]);
        const cfg *c = &full;
        run_lib(c, lib[k]);
        ref r = {.t = 0};
        memcpy(r.w, W0, sizeof r.w);
        for (int s = 0; s < STEPS; s++) {
            ref_step(c, &r);
            for (int j = 0; j < 3; j++)
                cr_assert(fabs(lib[k][s][j] - r.w[j]) <= tol * fmax(1, fabs(r.w[j])),
                          "%s: step %d w[%d] = %.17g, reference %.17g", c->label, s + 1, j, lib[k][s][j],
                          r.w[j]);
        }
        /* the option matters: the final point differs from its base configuration's */
        if (c->base >= 0) {
            double d = 0;
            for (int j = 0; j < 3; j++)
                d = fmax(d, fabs(lib[k][STEPS - 1][j] - lib[c->base][STEPS - 1][j]));
            cr_assert_gt(d, 1e-5, "%s does not change the trajectory of %s (%g)", c->label,
                         cfgs[c->base].label, d);
        }
    }
}

Test(optim, a_literal_zero_is_zero)
{
    /* AdamW with weight_decay 0 is Adam, bit for bit; betas {0, 0} is β = 0 */
    nb_tensor *a = nb_requires_grad(nb_from_array((nb_real[]){1, -2}, NB_SHAPE(2)), true);
    nb_tensor *b = nb_clone(a);
    nb_optim *oa = nb_adam(&a, 1, NB_ADAM_OPTS(.lr = 0.1));
    nb_optim *ob = nb_adamw(&b, 1, NB_ADAMW_OPTS(.lr = 0.1, .weight_decay = 0));
    for (int s = 0; s < 3; s++) {
        nb_backward(nb_sum(nb_mul(a, a)));
        nb_backward(nb_sum(nb_mul(b, b)));
        nb_optim_step(oa), nb_optim_step(ob);
        nb_optim_zero_grad(oa), nb_optim_zero_grad(ob);
        nb_step_end();
    }
    cr_assert(memcmp(a->data, b->data, 2 * sizeof(nb_real)) == 0);
    nb_optim_free(oa), nb_optim_free(ob);
    /* β1 = β2 = 0: m = g, v = g², the first step moves each coordinate by lr·g/(|g| + eps) */
    nb_tensor *c = nb_requires_grad(nb_from_array((nb_real[]){3}, NB_SHAPE(1)), true);
    nb_optim *oc = nb_adam(&c, 1, NB_ADAM_OPTS(.lr = 0.1, .betas = {0, 0}));
    nb_backward(nb_sum(nb_mul(c, c))); /* g = 6 */
    nb_optim_step(oc);
    cr_assert_float_eq(c->data[0], 3 - 0.1 * 6 / (6 + 1e-8), TOL);
    nb_optim_free(oc);
    nb_free(a), nb_free(b), nb_free(c);
}

Test(optim, options_read_back_with_pytorch_defaults)
{
    /* torch 1.13: torch.optim.AdamW([w]).defaults == {'lr': 0.001, 'betas': (0.9, 0.999),
     * 'eps': 1e-08, 'weight_decay': 0.01, 'amsgrad': False, 'maximize': False, ...} */
    nb_tensor *w = nb_zeros(NB_SHAPE(2));
    nb_optim *o = nb_adamw(&w, 1, NB_ADAMW_OPTS());
    nb_optim_opts r = nb_optim_group_opts(o, 0);
    cr_assert(r.kind == NB_ADAMW && r.lr == 1e-3 && r.betas[0] == 0.9 && r.betas[1] == 0.999 &&
              r.eps == 1e-8 && r.weight_decay == 1e-2 && !r.amsgrad && !r.maximize);
    nb_optim_free(o);
    /* RMSprop: lr 0.01, alpha 0.99, eps 1e-08; Adagrad: lr 0.01, eps 1e-10; SGD (torch 2): lr 0.001 */
    o = nb_rmsprop(&w, 1, NB_RMSPROP_OPTS(.momentum = 0.9));
    r = nb_optim_group_opts(o, 0);
    cr_assert(r.lr == 1e-2 && r.alpha == 0.99 && r.eps == 1e-8 && r.momentum == 0.9 && !r.centered);
    nb_optim_free(o);
    cr_assert(nb_adagrad_defaults().lr == 1e-2 && nb_adagrad_defaults().eps == 1e-10);
    cr_assert(nb_sgd_defaults().lr == 1e-3 && nb_sgd_defaults().momentum == 0);
    cr_assert(nb_adam_defaults().weight_decay == 0 && nb_adamw_defaults().weight_decay == 1e-2);
    nb_free(w);
}

Test(optim, options_not_made_by_their_macro_are_refused)
{
    nb_tensor *w = nb_zeros(NB_SHAPE(2));
    cr_assert_null(nb_adamw(&w, 1, (nb_optim_opts){.lr = 1e-3}));
    assert_error(NB_ERR_ARG, "adamw: options were not made by NB_ADAMW_OPTS() or nb_adamw_defaults(): a "
                             "struct literal leaves the fields it omits at zero");
    nb_clear_error();
    cr_assert_null(nb_adamw(&w, 1, NB_ADAM_OPTS()));
    assert_error(NB_ERR_ARG, "adamw: options made by NB_ADAM_OPTS() are not adamw's: use NB_ADAMW_OPTS()");
    nb_clear_error();
    cr_assert_null(nb_adam(&w, 1, NB_ADAM_OPTS(.momentum = 0.9)));
    assert_error(NB_ERR_ARG, "adam: has no option momentum");
    nb_clear_error();
    cr_assert_null(nb_sgd(&w, 1, NB_SGD_OPTS(.betas = {0.9, 0.99})));
    assert_error(NB_ERR_ARG, "sgd: has no option betas[0]");
    nb_free(w);
}

Test(optim, params_without_grad_are_untouched)
{
    nb_tensor *a = nb_requires_grad(nb_from_array((nb_real[]){1, 2}, NB_SHAPE(2)), true);
    nb_tensor *b = nb_requires_grad(nb_from_array((nb_real[]){5, 6}, NB_SHAPE(2)), true);
    nb_optim *o = nb_adamw((nb_tensor *[]){a, b}, 2, NB_ADAMW_OPTS(.lr = 0.1, .weight_decay = 0.5));
    nb_backward(nb_sum(a)); /* b gets no gradient: its grad stays NULL */
    cr_assert_null(b->grad);
    cr_assert_eq(nb_optim_step(o), 0);
    cr_assert_eq(b->data[0], 5);
    cr_assert_eq(b->data[1], 6); /* not even decayed */
    cr_assert_neq(a->data[0], 1);
    const char *name;
    cr_assert_eq(nb_item(nb_optim_state(o, 0, &name)), 1);
    cr_assert_str_eq(name, "state.0.step");
    cr_assert_eq(nb_item(nb_optim_state(o, 3, &name)), 0);
    cr_assert_str_eq(name, "state.1.step");
    nb_optim_free(o);
    nb_free(a), nb_free(b);
}

Test(optim, zero_grad_zeroes_in_place)
{
    nb_tensor *a = nb_requires_grad(nb_from_array((nb_real[]){1, 2}, NB_SHAPE(2)), true);
    nb_optim *o = nb_sgd(&a, 1, NB_SGD_OPTS(.lr = 0.5));
    nb_backward(nb_sum(nb_mul(a, a)));
    nb_real *buf = a->grad;
    nb_optim_zero_grad(o);
    cr_assert_eq(a->grad, buf);
    cr_assert_eq(a->grad[0], 0);
    cr_assert_eq(a->grad[1], 0);
    /* gradients accumulate until zeroed: two backwards make 2 · 2a */
    nb_backward(nb_sum(nb_mul(a, a)));
    nb_backward(nb_sum(nb_mul(a, a)));
    nb_optim_step(o);
    cr_assert_float_eq(a->data[0], 1 - 0.5 * 4, TOL);
    nb_optim_free(o);
    nb_free(a);
    nb_step_end();
}

Test(optim, state_names_follow_pytorch)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(4));
    struct {
        nb_optim *o;
        const char *names[8];
        int n;
    } cases[] = {
        {nb_adam((nb_tensor *[]){a, b}, 2, NB_ADAM_OPTS(.amsgrad = true)),
         {"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq", "state.1.step",
          "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq"},
         8},
        {nb_sgd(&a, 1, NB_SGD_OPTS(.momentum = 0.9)), {"state.0.step", "state.0.momentum_buffer"}, 2},
        {nb_sgd(&a, 1, NB_SGD_OPTS()), {"state.0.step"}, 1},
        {nb_rmsprop(&a, 1, NB_RMSPROP_OPTS(.momentum = 0.9, .centered = true)),
         {"state.0.step", "state.0.square_avg", "state.0.momentum_buffer", "state.0.grad_avg"},
         4},
        {nb_adagrad(&b, 1, NB_ADAGRAD_OPTS(.initial_accumulator_value = 0.25)),
         {"state.0.step", "state.0.sum"},
         2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cr_assert_eq(nb_optim_state_count(cases[k].o), cases[k].n);
        for (int i = 0; i < cases[k].n; i++) {
            const char *name;
            nb_tensor *t = nb_optim_state(cases[k].o, i, &name);
            cr_assert_str_eq(name, cases[k].names[i]);
            bool of_b = strncmp(name, "state.1", 7) == 0 || k == 4; /* b [4], else a [2,3] */
            if (strstr(name, "step"))
                cr_assert_eq(t->ndim, 0);
            else
                cr_assert_eq(t->numel, of_b ? 4 : 6, "%s", name);
        }
    }
    cr_assert_eq(nb_optim_state(cases[4].o, 1, NULL)->data[3], (nb_real)0.25);
    cr_assert_null(nb_optim_state(cases[2].o, 1, NULL));
    assert_error(NB_ERR_ARG, "optim_state: index 1 is outside 0..0");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        nb_optim_free(cases[k].o);
    nb_free(a), nb_free(b);
}

/* 5 + 5 steps in one run against 5 steps, a save of parameters and state, and
 * 5 steps of a fresh optimizer restored from it: bit-identical. */
Test(optim, resume_from_saved_state_is_bit_identical)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *init = nb_randn(&g, NB_SHAPE(64));
    nb_tensor *target = nb_randn(&g, NB_SHAPE(64));
    nb_optim_opts opts = NB_ADAMW_OPTS(.lr = 0.05, .amsgrad = true, .weight_decay = 0.1);
    nb_tensor *w = nb_requires_grad(nb_keep(init), true);
    nb_optim *o = nb_adamw(&w, 1, opts);
    nb_scheduler *s = nb_warmup_cosine(o, 3, 10, 0.1, 0.001);
    nb_tensor *saved_w = NULL, *saved_state[4];
    int64_t saved_epoch = 0;
    for (int step = 0; step < 10; step++) {
        if (step == 5) {
            saved_w = nb_keep(w);
            for (int k = 0; k < nb_optim_state_count(o); k++)
                saved_state[k] = nb_keep(nb_optim_state(o, k, NULL));
            saved_epoch = nb_scheduler_last_epoch(s);
        }
        nb_optim_zero_grad(o);
        nb_backward(nb_mse_loss(w, target, NB_MEAN));
        nb_optim_step(o);
        nb_scheduler_step(s);
        nb_step_end();
    }
    nb_tensor *w2 = nb_requires_grad(nb_keep(saved_w), true);
    nb_optim *o2 = nb_adamw(&w2, 1, opts);
    nb_scheduler *s2 = nb_warmup_cosine(o2, 3, 10, 0.1, 0.001);
    for (int k = 0; k < nb_optim_state_count(o2); k++)
        nb_copy_(nb_optim_state(o2, k, NULL), saved_state[k]);
    nb_scheduler_set_last_epoch(s2, saved_epoch);
    for (int step = 5; step < 10; step++) {
        nb_optim_zero_grad(o2);
        nb_backward(nb_mse_loss(w2, target, NB_MEAN));
        nb_optim_step(o2);
        nb_scheduler_step(s2);
        nb_step_end();
    }
    cr_assert(memcmp(w->data, w2->data, 64 * sizeof(nb_real)) == 0);
    cr_assert_eq(nb_optim_get_lr(o), nb_optim_get_lr(o2));
    for (int k = 0; k < 4; k++)
        nb_free(saved_state[k]);
    nb_scheduler_free(s), nb_scheduler_free(s2);
    nb_optim_free(o), nb_optim_free(o2);
    nb_free(init), nb_free(target), nb_free(w), nb_free(w2), nb_free(saved_w);
}

Test(optim, large_parameter_same_bits_on_one_and_two_threads)
{
    enum { N = 1 << 17 };
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *init = nb_randn(&g, NB_SHAPE(N));
    nb_real *out[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_tensor *w = nb_requires_grad(nb_keep(init), true);
        nb_optim *o = nb_rmsprop(&w, 1, NB_RMSPROP_OPTS(.momentum = 0.9, .centered = true));
        for (int s = 0; s < 3; s++) {
            nb_optim_zero_grad(o);
            nb_backward(nb_sum(nb_mul(nb_mul(w, w), w)));
            nb_optim_step(o);
            nb_step_end();
        }
        out[t] = malloc(N * sizeof(nb_real));
        memcpy(out[t], w->data, N * sizeof(nb_real));
        nb_optim_free(o);
        nb_free(w);
    }
    nb_set_num_threads(0);
    cr_assert(memcmp(out[0], out[1], N * sizeof(nb_real)) == 0);
    free(out[0]), free(out[1]);
    nb_free(init);
}

Test(optim, bad_options_are_errors)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2));
    cr_assert_null(nb_sgd(&a, 1, NB_SGD_OPTS(.nesterov = true)));
    assert_error(NB_ERR_ARG, "sgd: nesterov momentum requires a momentum and zero dampening");
    nb_clear_error();
    cr_assert_null(nb_sgd(&a, 1, NB_SGD_OPTS(.lr = -1)));
    assert_error(NB_ERR_ARG, "sgd: lr -1 is invalid");
    nb_clear_error();
    cr_assert_null(nb_adam(&a, 1, NB_ADAM_OPTS(.betas = {0.9, 1.0})));
    assert_error(NB_ERR_ARG, "adam: betas[1] 1 is invalid (must be in [0, 1))");
    nb_clear_error();
    cr_assert_null(nb_rmsprop(&a, 0, NB_RMSPROP_OPTS()));
    assert_error(NB_ERR_ARG, "rmsprop: got an empty parameter list");
    nb_clear_error();
    cr_assert_null(nb_adagrad((nb_tensor *[]){a, NULL}, 2, NB_ADAGRAD_OPTS()));
    assert_error(NB_ERR_NULL, "adagrad: params[1] is NULL");
    nb_clear_error();
    nb_tensor *step_tensor = nb_add(a, a);
    cr_assert_null(nb_adam(&step_tensor, 1, NB_ADAM_OPTS()));
    assert_error(NB_ERR_ARG, "adam: params[0] of shape [2] is a step tensor");
    nb_free(a);
}

/* ---- clipping ----------------------------------------------------------- */

Test(optim, clip_grad_norm_by_hand)
{
    /* grads [3, 4] and [12]: norm √(9 + 16 + 144) = 13 */
    nb_tensor *a = nb_requires_grad(nb_zeros(NB_SHAPE(2)), true);
    nb_tensor *b = nb_requires_grad(nb_zeros(NB_SHAPE(1)), true);
    nb_tensor *c = nb_requires_grad(nb_zeros(NB_SHAPE(3)), true); /* no grad: skipped */
    nb_tensor *w = nb_from_array((nb_real[]){3, 4}, NB_SHAPE(2));
    nb_backward(nb_sum(nb_mul(a, w)));
    nb_backward(nb_sum(nb_mul_scalar(b, 12)));
    nb_tensor *ps[] = {a, b, c};
    /* (cr_assert_float_eq evaluates its argument more than once: call first) */
    nb_real norm = nb_clip_grad_norm(ps, 3, 26);
    cr_assert_float_eq(norm, 13, TOL);
    /* max_norm 26 > 13: coefficient 26/(13 + 1e-6) clamped to 1, untouched */
    cr_assert_eq(a->grad[0], 3);
    cr_assert_eq(b->grad[0], 12);
    /* max_norm 6.5: every grad scaled by 6.5/(13 + 1e-6) */
    norm = nb_clip_grad_norm(ps, 3, 6.5);
    cr_assert_float_eq(norm, 13, TOL);
    double k = 6.5 / (13 + 1e-6);
    assert_close_array(a->grad, (double[]){3 * k, 4 * k}, 2, TOL);
    cr_assert_float_eq(b->grad[0], 12 * k, TOL);
    norm = nb_clip_grad_norm(ps, 3, 100);
    cr_assert_float_eq(norm, 13 * k, TOL);
    cr_assert_null(c->grad);
    nb_free(a), nb_free(b), nb_free(c), nb_free(w);
    nb_step_end();
}

/* ---- parameter groups ------------------------------------------------------ */

/* torch.optim param_groups: one AdamW over two groups (own lr, weight_decay,
 * betas, amsgrad) moves each parameter exactly as one AdamW per group. */
Test(optim, param_groups_equal_one_optimizer_per_group)
{
    nb_tensor *a = nb_requires_grad(nb_from_array((nb_real[]){1, -2, 0.5}, NB_SHAPE(3)), true);
    nb_tensor *b = nb_requires_grad(nb_from_array((nb_real[]){0.3, 4}, NB_SHAPE(2)), true);
    nb_tensor *a2 = nb_clone(a), *b2 = nb_clone(b);
    nb_optim_opts ga = NB_ADAMW_OPTS(.lr = 0.1, .weight_decay = 0.5);
    nb_optim_opts gb = NB_ADAMW_OPTS(.lr = 0.01, .weight_decay = 0, .betas = {0.5, 0.9}, .amsgrad = true);
    nb_optim *o = nb_adamw(&a, 1, ga);
    cr_assert_eq(nb_optim_add_param_group(o, &b, 1, gb), 1);
    nb_optim *oa = nb_adamw(&a2, 1, ga), *ob = nb_adamw(&b2, 1, gb);
    cr_assert_eq(nb_optim_group_count(o), 2);
    for (int s = 0; s < 5; s++) {
        nb_backward(nb_add(nb_sum(nb_mul(a, a)), nb_sum(nb_mul(b, nb_mul(b, b)))));
        nb_backward(nb_add(nb_sum(nb_mul(a2, a2)), nb_sum(nb_mul(b2, nb_mul(b2, b2)))));
        nb_optim_step(o), nb_optim_step(oa), nb_optim_step(ob);
        nb_optim_zero_grad(o), nb_optim_zero_grad(oa), nb_optim_zero_grad(ob);
        nb_step_end();
    }
    cr_assert(memcmp(a->data, a2->data, 3 * sizeof(nb_real)) == 0);
    cr_assert(memcmp(b->data, b2->data, 2 * sizeof(nb_real)) == 0);
    /* state numbered over all parameters in group order, as PyTorch's state_dict */
    const char *want[] = {"state.0.step",    "state.0.exp_avg",    "state.0.exp_avg_sq",    "state.1.step",
                          "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq"};
    cr_assert_eq(nb_optim_state_count(o), 7);
    for (int k = 0; k < 7; k++) {
        const char *name;
        nb_optim_state(o, k, &name);
        cr_assert_str_eq(name, want[k]);
    }
    int n;
    nb_tensor *const *p = nb_optim_group_params(o, 1, &n);
    cr_assert(n == 1 && p[0] == b);
    nb_optim_opts r = nb_optim_group_opts(o, 1);
    cr_assert(r.lr == 0.01 && r.weight_decay == 0 && r.betas[0] == 0.5 && r.amsgrad);
    nb_optim_free(o), nb_optim_free(oa), nb_optim_free(ob);
    nb_free(a), nb_free(b), nb_free(a2), nb_free(b2);
}

Test(optim, param_group_errors)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2)), *b = nb_zeros(NB_SHAPE(3));
    nb_optim *o = nb_sgd(&a, 1, NB_SGD_OPTS(.lr = 0.1, .momentum = 0.9));
    /* torch.optim: "some parameters appear in more than one parameter group" */
    cr_assert_eq(nb_optim_add_param_group(o, &a, 1, NB_SGD_OPTS()), -1);
    assert_error(NB_ERR_ARG, "sgd: params[0] [2] is already in another parameter group");
    nb_clear_error();
    cr_assert_eq(nb_optim_add_param_group(o, (nb_tensor *[]){b, b}, 2, NB_SGD_OPTS()), -1);
    assert_error(NB_ERR_ARG, "sgd: params[1] [3] is given twice");
    nb_clear_error();
    cr_assert_eq(nb_optim_add_param_group(o, &b, 1, NB_ADAM_OPTS()), -1);
    assert_error(NB_ERR_ARG, "sgd: options made by NB_ADAM_OPTS() are not sgd's: use NB_SGD_OPTS()");
    nb_clear_error();
    cr_assert_eq(nb_optim_group_count(o), 1); /* nothing changed */
    cr_assert_eq(nb_optim_state_count(o), 2);
    /* options change in place, but not the ones that decide the state buffers */
    cr_assert_eq(nb_optim_set_group_opts(o, 0, NB_SGD_OPTS(.lr = 0.05, .momentum = 0.5)), 0);
    cr_assert_eq(nb_optim_group_opts(o, 0).lr, 0.05);
    cr_assert_eq(nb_optim_set_group_opts(o, 0, NB_SGD_OPTS(.lr = 0.05)), -1);
    assert_error(NB_ERR_ARG, "optim_set_group_opts: sgd group 0: these options need other state buffers");
    nb_clear_error();
    cr_assert_eq(nb_optim_group_opts(o, 3).nb_tag, 0);
    assert_error(NB_ERR_ARG, "optim_group_opts: group 3 is outside 0..0");
    nb_optim_free(o);
    nb_free(a), nb_free(b);
}

/* Schedules scale each group from its own base lr (PyTorch's group['initial_lr']):
 * StepLR(step_size=2, gamma=0.1) over groups of lr 0.1 and 0.02. */
Test(optim, schedules_scale_every_group)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2)), *b = nb_zeros(NB_SHAPE(3));
    nb_optim *o = nb_sgd(&a, 1, NB_SGD_OPTS(.lr = 0.1));
    nb_optim_add_param_group(o, &b, 1, NB_SGD_OPTS(.lr = 0.02));
    nb_scheduler *s = nb_step_lr(o, 2, 0.1);
    const double want0[] = {0.1, 0.1, 0.01, 0.01, 0.001}, want1[] = {0.02, 0.02, 0.002, 0.002, 0.0002};
    for (int e = 0; e < 5; e++, nb_scheduler_step(s)) {
        cr_assert_float_eq(nb_optim_group_opts(o, 0).lr, want0[e], 1e-15);
        cr_assert_float_eq(nb_optim_group_opts(o, 1).lr, want1[e], 1e-15);
        cr_assert_float_eq(nb_scheduler_get_lr(s), want0[e], 1e-15);
    }
    nb_scheduler_free(s);
    nb_optim_free(o);
    nb_free(a), nb_free(b);
}
