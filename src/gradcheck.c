/* gradcheck.c — nb_gradcheck: the analytic gradient of sum(fn(x) * w) from one
 * backward pass against central differences (f(x+eps) - f(x-eps)) / 2 eps,
 * element by element, with torch.autograd.gradcheck's test
 * |analytic - numeric| <= atol + rtol * |numeric| and its defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* sum(out * w) in double; w is a fixed pseudo-random weighting in ±[0.5, 1.5). */
static double weighted(const nb_tensor *out, const nb_real *w)
{
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++)
        s += (double)out->data[i] * (double)w[i];
    return s;
}

static nb_real *make_weights(int64_t n)
{
    nb_real *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w)
        return NULL;
    nb_generator g;
    nb_generator_seed(&g, 0x9e37);
    for (int64_t i = 0; i < n; i++) {
        double u = 0.5 + nb_generator_uniform(&g);
        w[i] = (nb_real)(nb_generator_next(&g) & 1 ? u : -u);
    }
    return w;
}

static bool fail(nb_gradcheck_result *r, const char *msg)
{
    r->ok = false;
    snprintf(r->message, sizeof r->message, "gradcheck: %s", msg);
    return false;
}

/* One analytic pass: the gradient of every input, copied out. */
static bool analytic_grads(nb_gradcheck_fn fn, int n, nb_tensor *const *in, void *ctx, nb_real **saved,
                           nb_real **grads, nb_real **w, int64_t *out_numel, nb_gradcheck_result *r)
{
    for (int i = 0; i < n; i++) {
        if (in[i]->grad) {
            saved[i] = malloc((size_t)in[i]->numel * sizeof(nb_real));
            if (!saved[i])
                return fail(r, "out of memory");
            memcpy(saved[i], in[i]->grad, (size_t)in[i]->numel * sizeof(nb_real));
            nb_zero_grad(in[i]);
        }
    }
    nb_tensor *out = fn(in, n, ctx);
    if (!out)
        return fail(r, "the function returned NULL");
    *out_numel = out->numel;
    *w = make_weights(out->numel);
    if (!*w)
        return fail(r, "out of memory");
    bool any = false;
    for (int i = 0; i < n; i++)
        any |= in[i]->requires_grad;
    if (!any)
        return fail(r, "no input has requires_grad");
    if (out->requires_grad) {
        nb_tensor wt = *out; /* a header over w with out's shape, for nb_backward_grad */
        wt.data = *w;
        wt.grad = NULL;
        wt.node = NULL;
        wt.requires_grad = false;
        if (nb_backward_grad(out, &wt) != 0)
            return fail(r, "backward failed");
    }
    for (int i = 0; i < n; i++) {
        if (!in[i]->requires_grad)
            continue;
        grads[i] = calloc((size_t)(in[i]->numel ? in[i]->numel : 1), sizeof(nb_real));
        if (!grads[i])
            return fail(r, "out of memory");
        if (in[i]->grad)
            memcpy(grads[i], in[i]->grad, (size_t)in[i]->numel * sizeof(nb_real));
        if (saved[i])
            memcpy(in[i]->grad, saved[i], (size_t)in[i]->numel * sizeof(nb_real));
        else
            nb_zero_grad(in[i]);
    }
    return true;
}

static bool numeric_compare(nb_gradcheck_fn fn, int n, nb_tensor *const *in, void *ctx, nb_real **grads,
                            const nb_real *w, int64_t out_numel, const nb_gradcheck_opts *o,
                            nb_gradcheck_result *r)
{
    double worst = -INFINITY;
    bool prev = nb_set_grad_enabled(false);
    for (int i = 0; i < n && r->ok; i++) {
        if (!in[i]->requires_grad)
            continue;
        for (int64_t j = 0; j < in[i]->numel; j++) {
            nb_real x0 = in[i]->data[j];
            double f[2];
            for (int s = 0; s < 2; s++) {
                nb_step_mark m = nb_step_get_mark();
                in[i]->data[j] = (nb_real)((double)x0 + (s ? -o->eps : o->eps));
                nb_tensor *out = fn(in, n, ctx);
                f[s] = out && out->numel == out_numel ? weighted(out, w) : NAN;
                nb_step_rewind(m);
            }
            in[i]->data[j] = x0;
            if (isnan(f[0]) || isnan(f[1])) {
                fail(r, "the function failed or changed its output size while perturbed");
                break;
            }
            double num = (f[0] - f[1]) / (2 * o->eps), ana = grads[i][j];
            double excess = fabs(ana - num) - (o->atol + o->rtol * fabs(num));
            r->checked++;
            r->nonzero += num != 0 || ana != 0;
            if (excess > worst || isnan(ana)) {
                worst = isnan(ana) ? INFINITY : excess;
                r->worst_input = i;
                r->worst_index = j;
                r->analytic = ana;
                r->numeric = num;
            }
        }
    }
    nb_set_grad_enabled(prev);
    if (r->ok && worst > 0)
        r->ok = false;
    if (r->checked && r->message[0] == '\0')
        snprintf(r->message, sizeof r->message,
                 "gradcheck %s: %lld elements (%lld non-zero); worst: input %d index %lld: analytic %.10g, "
                 "numeric %.10g",
                 r->ok ? "passed" : "FAILED", (long long)r->checked, (long long)r->nonzero, r->worst_input,
                 (long long)r->worst_index, r->analytic, r->numeric);
    return r->ok;
}

nb_gradcheck_result nb_gradcheck(nb_gradcheck_fn fn, int n, nb_tensor *const *in, void *ctx,
                                 nb_gradcheck_opts o)
{
    nb_gradcheck_result r = {.ok = true, .worst_input = -1, .worst_index = -1};
    if (!nb_opts_made("gradcheck", o.nb_tag, "gradcheck")) {
        fail(&r, "options not made by NB_GRADCHECK_OPTS() or nb_gradcheck_defaults()");
        return r;
    }
    if (!(o.eps > 0) || !(o.atol >= 0) || !(o.rtol >= 0)) {
        fail(&r, "needs eps > 0, atol >= 0 and rtol >= 0");
        return r;
    }
    if (!fn || n <= 0 || !in) {
        fail(&r, "needs a function and at least one input");
        return r;
    }
    for (int i = 0; i < n; i++)
        if (!nb_check_input("gradcheck", i + 1, in[i])) {
            fail(&r, "an input is NULL or freed");
            return r;
        }
    nb_real **saved = calloc((size_t)n, sizeof *saved), **grads = calloc((size_t)n, sizeof *grads);
    nb_real *w = NULL;
    int64_t out_numel = 0;
    for (int i = 0; i < n; i++) /* a step leaf's gradient must outlive the rewinds below */
        if (in[i]->requires_grad && !in[i]->grad && !in[i]->persistent && !in[i]->node) {
            in[i]->grad = nb_arena_alloc((size_t)in[i]->numel * sizeof(nb_real));
            if (in[i]->grad)
                memset(in[i]->grad, 0, (size_t)in[i]->numel * sizeof(nb_real));
        }
    nb_step_mark m = nb_step_get_mark();
    if (!saved || !grads)
        fail(&r, "out of memory");
    else if (analytic_grads(fn, n, in, ctx, saved, grads, &w, &out_numel, &r))
        numeric_compare(fn, n, in, ctx, grads, w, out_numel, &o, &r);
    nb_step_rewind(m);
    for (int i = 0; saved && grads && i < n; i++) {
        free(saved[i]);
        free(grads[i]);
    }
    free(saved);
    free(grads);
    free(w);
    if (!r.ok && !o.quiet)
        fprintf(stderr, "nabla: %s\n", r.message);
    return r;
}

nb_gradcheck_opts nb_gradcheck_defaults(void) { return NB_GRADCHECK_OPTS(); }
