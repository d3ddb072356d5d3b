/* examples/activation_gallery.c — draws every activation of the registry and
 * its derivative on [-6, 6] into <dir>/<name>.svg (default: the current
 * directory; `meson compile -C build docs` writes docs/img). The derivative
 * is not written by hand: it is what nb_backward computes, so the pictures
 * also show what training will see (step's zero gradient, the kinks of relu,
 * the flat tails of sigmoid).
 *
 *   ./activation_gallery [--out DIR]
 *
 * Pointwise entries: y = f(x) on a 601-point grid x with requires_grad, then
 * nb_backward_grad(y, ones) leaves f'(x_i) in x->grad (y_i depends on x_i
 * only). Learnable entries use their initial weight (prelu alpha 0.25, swish
 * beta 1). The others are not functions of one number, so one slice is drawn:
 *   softmax, log_softmax: the first output for the logits [x, 0, 1] as x
 *     varies, and its derivative with respect to x;
 *   maxout (k = 2): max(x, 0.5 x + 1), the two pieces of one group being the
 *     grid and a fixed affine function of it. */
#include <stdio.h>
#include <string.h>
#include "nabla/nabla.h"
#include "nabla/plot.h"

enum { N = 601 };

/* f and f' of a pointwise entry at the grid x (step tensors). */
static int pointwise(const nb_activation *a, nb_tensor *x, nb_real *y, nb_real *dy)
{
    nb_tensor *w = a->learnable ? nb_full(NB_SHAPE(1), a->learnable_init) : NULL;
    nb_tensor *out = a->apply(x, a->defaults, w);
    nb_tensor *ones = nb_ones(NB_SHAPE(N));
    int rc = out && ones ? nb_backward_grad(out, ones) : -1;
    if (rc == 0) {
        memcpy(y, out->data, N * sizeof *y);
        memcpy(dy, x->grad, N * sizeof *dy);
    }
    nb_free(ones);
    nb_free(w);
    return rc;
}

/* softmax / log_softmax of the rows [x_i, 0, 1]: output 0 and d(output 0)/dx_i. */
static int along_dim(const nb_activation *a, nb_tensor *x, nb_real *y, nb_real *dy)
{
    nb_tensor *zero = nb_zeros(NB_SHAPE(N)), *one = nb_ones(NB_SHAPE(N));
    nb_tensor *out = a->apply(nb_stack(3, (nb_tensor *[]){x, zero, one}, 1), a->defaults, NULL);
    nb_tensor *g = nb_zeros(NB_SHAPE(N, 3));
    int rc = -1;
    if (out && g) {
        for (int i = 0; i < N; i++)
            g->data[3 * i] = 1; /* pick output 0 of each row */
        rc = nb_backward_grad(out, g);
    }
    if (rc == 0)
        for (int i = 0; i < N; i++) {
            y[i] = out->data[3 * i];
            dy[i] = x->grad[i];
        }
    nb_free(zero), nb_free(one), nb_free(g);
    return rc;
}

/* maxout over the pairs (x_i, 0.5 x_i + 1). */
static int maxout_pair(const nb_activation *a, nb_tensor *x, nb_real *y, nb_real *dy)
{
    nb_tensor *second = nb_add_scalar(nb_mul_scalar(x, 0.5), 1);
    nb_tensor *out = a->apply(nb_stack(2, (nb_tensor *[]){x, second}, 1), a->defaults, NULL);
    nb_tensor *ones = nb_ones(NB_SHAPE(N, 1));
    int rc = out && ones ? nb_backward_grad(out, ones) : -1;
    if (rc == 0) {
        memcpy(y, out->data, N * sizeof *y);
        memcpy(dy, x->grad, N * sizeof *dy);
    }
    nb_free(ones);
    return rc;
}

static int draw(const nb_activation *a, const char *dir)
{
    nb_tensor *x = nb_requires_grad(nb_linspace(-6, 6, N), true);
    static nb_real y[N], dy[N];
    char title[160], path[1024];
    int len = snprintf(title, sizeof title, "%s", a->name);
    for (int k = 0; k < a->n_params && strcmp(a->name, "softmax") && strcmp(a->name, "log_softmax"); k++)
        len += snprintf(title + len, sizeof title - (size_t)len, "%s%s=%g", k ? ", " : " (",
                        a->param_names[k], (double)a->defaults[k]);
    if (a->n_params && strcmp(a->name, "softmax") && strcmp(a->name, "log_softmax"))
        len += snprintf(title + len, sizeof title - (size_t)len, ")");
    if (a->learnable)
        snprintf(title + len, sizeof title - (size_t)len, " (%s = %g, its initial value)",
                 strcmp(a->name, "prelu") == 0 ? "alpha" : "beta", (double)a->learnable_init);
    int rc;
    if (a->pointwise) {
        rc = pointwise(a, x, y, dy);
    } else if (strcmp(a->name, "maxout") == 0) {
        rc = maxout_pair(a, x, y, dy);
        snprintf(title, sizeof title, "maxout, k = 2: max(x, 0.5x + 1)");
    } else {
        rc = along_dim(a, x, y, dy);
        snprintf(title, sizeof title, "%s: output 0 of %s([x, 0, 1])", a->name, a->name);
    }
    if (rc == 0) {
        nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = title, .xlabel = "x", .legend = NB_LEGEND_BEST));
        rc = p ? 0 : -1;
        rc = rc ? rc : nb_plot_add_real(p, x->data, y, N, NB_SERIES_OPTS(.label = "f(x)"));
        rc =
            rc ? rc
               : nb_plot_add_real(p, x->data, dy, N,
                                  NB_SERIES_OPTS(.label = "f'(x) by nb_backward", .style = NB_SERIES_DASHED));
        rc = rc ? rc : nb_plot_xrange(p, -6, 6);
        snprintf(path, sizeof path, "%s/%s.svg", dir, a->name);
        rc = rc ? rc : nb_plot_save(p, path);
        nb_plot_free(p);
    }
    nb_free(x);
    nb_step_end();
    if (rc == 0)
        printf("wrote %s\n", path);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--out DIR]   (default: the current directory)\n", argv[0]);
            return 2;
        }
    }
    int failed = 0;
    for (int i = 0; i < nb_activation_count(); i++)
        failed += draw(nb_activation_at(i), dir) != 0; /* the error was printed */
    return failed ? 1 : 0;
}
