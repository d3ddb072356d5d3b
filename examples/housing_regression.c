/* examples/housing_regression.c — the smallest network there is, fitted by
 * gradient descent: one hidden neuron,
 *
 *     MEDV ≈ k2 * sigmoid(k1 * RM' + b1) + b2,
 *
 * from the Boston housing data (data/boston_house_prices.csv, 506 tracts):
 * MEDV is the median house value in $1000s, RM the average number of rooms
 * per dwelling and RM' = (RM - mean) / std the standardised RM (nb_standardize).
 * The model is a module of our own (nb_module_new) with four parameters; the
 * loss is the mean squared error over all 506 rows (full-batch), minimised
 * first by plain gradient descent (nb_sgd), then from the same start by Adam.
 *
 * It prints the loss as it falls and the fitted formula, in RM' and in RM;
 * writes <out>/housing_fit.svg (the data and both fitted curves) and
 * <out>/housing_loss.svg (both loss curves, log y). Exits with status 1 unless
 * both fits bring the loss below that of the best constant (the variance of
 * MEDV) and below the best straight line's.
 *
 *   ./housing_regression [--steps 20000] [--lr-sgd 0.02] [--lr-adam 0.02]
 *                        [--data data/boston_house_prices.csv] [--out .]
 *                        [--quick] (5000 steps) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "args.h"

#define GD_COLOR "#1f77b4"
#define ADAM_COLOR "#d62728"

/* y = k2 * sigmoid(k1 * x + b1) + b2, with x [N, 1]: the parameters are [1]
 * tensors and broadcast over the rows. */
static nb_tensor *neuron_forward(nb_module *m, nb_tensor *x)
{
    nb_tensor *k1 = m->params[0], *b1 = m->params[1], *k2 = m->params[2], *b2 = m->params[3];
    return nb_add(nb_mul(k2, nb_sigmoid(nb_add(nb_mul(k1, x), b1))), b2);
}

/* The model, its parameters set to init[] (k1, b1, k2, b2). */
static nb_module *neuron_new(const nb_real init[4])
{
    static const char *const names[4] = {"k1", "b1", "k2", "b2"};
    nb_module *m = nb_module_new("Neuron", neuron_forward, NULL);
    EX_CHECK(m);
    for (int i = 0; i < 4; i++)
        EX_CHECK(nb_module_param(m, names[i], nb_full(NB_SHAPE(1), init[i])));
    return m;
}

/* Full-batch training: returns the loss before each step in losses[0..steps-1]
 * and the final loss in losses[steps]. */
static void fit(nb_module *m, nb_optim *opt, nb_tensor *x, nb_tensor *y, int steps, double *losses,
                const char *name)
{
    printf("\n%s\n      step  loss (mean squared error, $1000s^2)\n", name);
    for (int step = 0; step <= steps; step++) {
        nb_tensor *loss = nb_mse_loss(nb_forward(m, x), y, NB_MEAN);
        EX_CHECK(loss);
        losses[step] = nb_item(loss);
        /* 0, 1, 2, 5, 10, 20, 50, ... and the last step */
        int p = step;
        while (p >= 10 && p % 10 == 0)
            p /= 10;
        if (step == steps || p <= 2 || p == 5)
            printf("  %8d  %.4f\n", step, losses[step]);
        if (step < steps) {
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            EX_CHECK(nb_optim_step(opt) == 0);
        }
        nb_step_end();
    }
}

/* The fitted formula, in the standardised variable and in RM itself:
 * k1 (RM - mean) / std + b1 = (k1 / std) RM + (b1 - k1 mean / std). */
static void print_formula(nb_module *m, const nb_norm *norm)
{
    double k1 = m->params[0]->data[0], b1 = m->params[1]->data[0];
    double k2 = m->params[2]->data[0], b2 = m->params[3]->data[0];
    double mean = norm->shift->data[0], std = norm->scale->data[0];
    printf("  MEDV ≈ %.2f * sigmoid(%.3f * RM' %+.3f) %+.2f   with RM' = (RM - %.3f) / %.3f\n", k2, k1, b1,
           b2, mean, std);
    printf("       = %.2f * sigmoid(%.3f * RM %+.3f) %+.2f\n", k2, k1 / std, b1 - k1 * mean / std, b2);
}

/* The model's prediction at n points of RM (not standardised) into out. */
static void predict(nb_module *m, const nb_norm *norm, const double *rm, double *out, int n)
{
    nb_tensor *x = nb_empty(NB_SHAPE(n, 1));
    EX_CHECK(x);
    for (int i = 0; i < n; i++)
        x->data[i] = (nb_real)rm[i];
    EX_CHECK(nb_norm_apply_(norm, x));
    NB_NO_GRAD
    {
        nb_tensor *y = nb_forward(m, x);
        EX_CHECK(y);
        for (int i = 0; i < n; i++)
            out[i] = y->data[i];
    }
    nb_step_end();
    nb_free(x);
}

int main(int argc, char **argv)
{
    int steps = 20000, seed = 1;
    double lr_sgd = 0.02, lr_adam = 0.02;
    bool quick = false;
    const char *data = "data/boston_house_prices.csv", *out = ".";
    const ex_arg args[] = {
        {"steps", EX_INT, &steps, "gradient steps of each fit"},
        {"lr-sgd", EX_DOUBLE, &lr_sgd, "learning rate of plain gradient descent"},
        {"lr-adam", EX_DOUBLE, &lr_adam, "learning rate of Adam"},
        {"seed", EX_INT, &seed, "seed of the initial parameters"},
        {"data", EX_STR, &data, "boston_house_prices.csv (run from the repository root)"},
        {"out", EX_STR, &out, "directory for the SVGs"},
        {"quick", EX_FLAG, &quick, "5000 steps"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        steps = 5000;
    ex_parse(argc, argv, args, EX_COUNT(args), "one-neuron regression of house prices");
    if (steps < 1) {
        fprintf(stderr, "--steps must be at least 1\n");
        return 2;
    }

    /* Two columns by name; the file's first line ("506,13") precedes the header. */
    nb_csv_opts csv = NB_CSV_OPTS(.columns = (const char *const[]){"RM"}, .n_columns = 1, .skip_rows = 1);
    nb_tensor *x = nb_load_csv(data, csv, NULL);
    csv.columns = (const char *const[]){"MEDV"};
    nb_tensor *y = x ? nb_load_csv(data, csv, NULL) : NULL;
    if (!y) {
        /* (nabla's default error handler has already printed the message) */
        fprintf(stderr, "run from the repository root, or pass --data PATH\n");
        return 1;
    }
    int n = (int)x->shape[0];
    double rm_min = INFINITY, rm_max = -INFINITY, y_mean = 0, y_var = 0;
    double *rm = malloc(n * sizeof *rm), *medv = malloc(n * sizeof *medv);
    EX_CHECK(rm && medv);
    for (int i = 0; i < n; i++) {
        rm[i] = x->data[i], medv[i] = y->data[i];
        rm_min = fmin(rm_min, rm[i]), rm_max = fmax(rm_max, rm[i]);
        y_mean += medv[i] / n;
    }
    /* Baselines: the best constant (loss = variance of MEDV) and the least-squares line. */
    double sxy = 0, sxx = 0, x_mean = 0;
    for (int i = 0; i < n; i++)
        x_mean += rm[i] / n;
    for (int i = 0; i < n; i++) {
        y_var += (medv[i] - y_mean) * (medv[i] - y_mean) / n;
        sxy += (rm[i] - x_mean) * (medv[i] - y_mean);
        sxx += (rm[i] - x_mean) * (rm[i] - x_mean);
    }
    double slope = sxy / sxx, line_loss = y_var - slope * sxy / n;
    printf("%d rows: RM in [%.3f, %.3f], MEDV mean %.2f\n", n, rm_min, rm_max, y_mean);
    printf("baselines: best constant loss %.4f, best straight line loss %.4f"
           " (MEDV = %.2f * RM %+.2f)\n",
           y_var, line_loss, slope, y_mean - slope * x_mean);

    nb_norm *norm = nb_standardize(x); /* x is now RM' */
    EX_CHECK(norm);

    /* Both fits start from the same random parameters. */
    nb_generator g;
    nb_generator_seed(&g, (uint64_t)seed);
    nb_real init[4];
    for (int i = 0; i < 4; i++)
        init[i] = (nb_real)nb_generator_normal(&g);

    double *loss_sgd = malloc((steps + 1) * sizeof(double));
    double *loss_adam = malloc((steps + 1) * sizeof(double));
    EX_CHECK(loss_sgd && loss_adam);
    nb_module *model_sgd = neuron_new(init), *model_adam = neuron_new(init);
    nb_optim *sgd = nb_sgd(model_sgd->params, 4, NB_SGD_OPTS(.lr = lr_sgd));
    nb_optim *adam = nb_adam(model_adam->params, 4, NB_ADAM_OPTS(.lr = lr_adam));
    EX_CHECK(sgd && adam);
    printf("start: k1 %.3f, b1 %.3f, k2 %.3f, b2 %.3f\n", init[0], init[1], init[2], init[3]);

    char title[64];
    snprintf(title, sizeof title, "gradient descent (nb_sgd, lr %g)", lr_sgd);
    fit(model_sgd, sgd, x, y, steps, loss_sgd, title);
    print_formula(model_sgd, norm);
    snprintf(title, sizeof title, "Adam (nb_adam, lr %g)", lr_adam);
    fit(model_adam, adam, x, y, steps, loss_adam, title);
    print_formula(model_adam, norm);

    /* The data and both fitted curves. */
    enum { CURVE = 200 };
    double cx[CURVE], cy_sgd[CURVE], cy_adam[CURVE];
    for (int i = 0; i < CURVE; i++)
        cx[i] = rm_min + (rm_max - rm_min) * i / (CURVE - 1);
    predict(model_sgd, norm, cx, cy_sgd, CURVE);
    predict(model_adam, norm, cx, cy_adam, CURVE);
    char path[1024];
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "Boston housing: MEDV ≈ k2 sigmoid(k1 RM' + b1) + b2",
                                          .xlabel = "RM (average rooms per dwelling)",
                                          .ylabel = "MEDV ($1000s)", .legend = NB_LEGEND_TOP_LEFT));
    EX_CHECK(p);
    EX_CHECK(nb_plot_add(p, rm, medv, n,
                         NB_SERIES_OPTS(.label = "506 tracts", .style = NB_SERIES_POINTS, .color = "#9aa7b8",
                                        .radius = 2)) == 0);
    EX_CHECK(nb_plot_add(p, cx, cy_sgd, CURVE,
                         NB_SERIES_OPTS(.label = "gradient descent", .color = GD_COLOR)) == 0);
    EX_CHECK(nb_plot_add(p, cx, cy_adam, CURVE,
                         NB_SERIES_OPTS(.label = "Adam", .color = ADAM_COLOR, .style = NB_SERIES_DASHED)) ==
             0);
    snprintf(path, sizeof path, "%s/housing_fit.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("\nwrote %s\n", path);

    /* Both loss curves (log y), at most ~1000 points each to keep the SVG small. */
    int stride = steps / 1000 + 1, m = 0;
    double *sx = malloc(3 * (steps + 1) * sizeof(double)), *s1 = sx + steps + 1, *s2 = s1 + steps + 1;
    EX_CHECK(sx);
    for (int i = 0; i <= steps; i += stride, m++)
        sx[m] = i, s1[m] = loss_sgd[i], s2[m] = loss_adam[i];
    p = nb_plot_new(NB_PLOT_OPTS(.title = "Boston housing: training loss", .xlabel = "step",
                                 .ylabel = "mean squared error", .log_y = true));
    EX_CHECK(p);
    EX_CHECK(nb_plot_add(p, sx, s1, m, NB_SERIES_OPTS(.label = "gradient descent", .color = GD_COLOR)) == 0);
    EX_CHECK(nb_plot_add(p, sx, s2, m, NB_SERIES_OPTS(.label = "Adam", .color = ADAM_COLOR)) == 0);
    snprintf(path, sizeof path, "%s/housing_loss.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("wrote %s\n", path);

    /* The claim: both fits beat the constant and the straight line. */
    double final_sgd = loss_sgd[steps], final_adam = loss_adam[steps];
    int status = 0;
    if (!(final_sgd < line_loss && final_adam < line_loss && final_sgd < loss_sgd[0])) {
        fprintf(stderr,
                "FAIL: final losses %.4f (gradient descent), %.4f (Adam) are not below"
                " the straight line's %.4f\n",
                final_sgd, final_adam, line_loss);
        status = 1;
    }

    free(sx);
    nb_optim_free(sgd);
    nb_optim_free(adam);
    nb_module_free(model_sgd);
    nb_module_free(model_adam);
    free(loss_sgd);
    free(loss_adam);
    free(rm);
    free(medv);
    nb_norm_free(norm);
    nb_free(x);
    nb_free(y);
    return status;
}
