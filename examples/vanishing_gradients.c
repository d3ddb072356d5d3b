/* examples/vanishing_gradients.c — measuring what deep networks do to their
 * signals: a deep MLP (--depth 15 Linear layers of --width 128, an activation
 * after each but the last) on Fashion-MNIST, for four activations, each with
 * the initialisation made for it (biases 0):
 *
 *   sigmoid  Xavier (Glorot) normal, gain 1
 *   tanh     Xavier normal, gain 5/3 (nb_calculate_gain("tanh"))
 *   relu     Kaiming (He) normal, fan_in, gain sqrt(2)
 *   selu     LeCun normal, N(0, 1/fan_in) — what self-normalisation assumes
 *
 * Inputs are standardised pixel by pixel (nb_standardize): mean 0, std 1.
 * On a probe batch of 512 training images it measures, layer by layer,
 *   - the L2 norm of the gradient of the loss with respect to each Linear
 *     layer's weight, and
 *   - the mean and standard deviation of each hidden activation's output,
 * at initialisation and again after training (--steps of SGD with momentum 0.9,
 * lr 0.01, batch 64). It prints the tables, the average factor by which the
 * gradient norm shrinks per layer going down from the top hidden layer to the
 * first (the geometric mean of the ratios ||g_l|| / ||g_l+1||), and the test
 * accuracy reached; and writes <out>/vanishing_gradients.svg (gradient norm
 * per layer, log y, at initialisation; dashed: after training).
 *
 * Why sigmoid vanishes: backpropagation multiplies the gradient by sigmoid'
 * at every layer, and sigmoid'(x) = s(1 - s) <= 1/4, so each layer can shrink
 * it by up to 4x (by less when the weights are large enough to compensate).
 * Exit status 1 unless, at initialisation, sigmoid's gradient shrinks going
 * down (factor < 1) and faster than relu's and selu's, and selu's last hidden
 * layer keeps mean within 0.25 of 0 and std within [0.75, 1.25].
 *
 *   ./vanishing_gradients [--depth 15] [--width 128] [--steps 1000] [--train 10000]
 *                         [--seed 1] [--out .] [--data DIR] [--quick] (100 steps) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "common.h"

enum { MAX_DEPTH = 64, PROBE = 512, N_ACTS = 4 };

static const char *const acts[N_ACTS] = {"sigmoid", "tanh", "relu", "selu"};

typedef struct stats {
    double grad[MAX_DEPTH];                 /* ||dL/dW|| of Linear layer l */
    double mean[MAX_DEPTH], std[MAX_DEPTH]; /* output of the activation after layer l */
} stats;

/* depth Linear layers with the activation's initialisation. */
static nb_module *build(const char *act, int depth, int width, nb_generator *g)
{
    nb_module *m = nb_sequential(0);
    EX_CHECK(m);
    for (int l = 0; l < depth; l++) {
        int64_t in = l == 0 ? 784 : width, out = l == depth - 1 ? 10 : width;
        nb_module *lin = nb_linear(in, out);
        EX_CHECK(lin);
        nb_tensor *w = nb_module_get(lin, "weight"), *b = nb_module_get(lin, "bias");
        EX_CHECK(w && b);
        if (strcmp(act, "sigmoid") == 0 || strcmp(act, "tanh") == 0)
            EX_CHECK(nb_init_xavier_normal_(w, nb_calculate_gain(act, NAN), g));
        else if (strcmp(act, "relu") == 0)
            EX_CHECK(nb_init_kaiming_normal_(w, 0, NB_FAN_IN, "relu", g));
        else
            EX_CHECK(nb_init_lecun_normal_(w, g));
        nb_init_constant_(b, 0);
        EX_CHECK(nb_sequential_add(m, lin) == 0);
        if (l < depth - 1)
            EX_CHECK(nb_sequential_add(m, nb_act(act)) == 0);
    }
    return m;
}

/* Forward the probe child by child, recording each activation's statistics,
 * then backward, recording each Linear weight's gradient norm. */
static void measure(nb_module *m, nb_tensor *x, nb_tensor *y, int depth, stats *s)
{
    nb_module_zero_grad(m);
    nb_tensor *h = x;
    for (int k = 0; k < m->n_children; k++) {
        h = nb_forward(m->children[k], h);
        EX_CHECK(h);
        if (k % 2 == 1) { /* an activation: children are Linear, act, Linear, act, ... */
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < h->numel; i++)
                sum += h->data[i], sq += (double)h->data[i] * h->data[i];
            double mean = sum / h->numel;
            s->mean[k / 2] = mean;
            s->std[k / 2] = sqrt(fmax(sq / h->numel - mean * mean, 0));
        }
    }
    nb_tensor *loss = nb_cross_entropy(h, y, NB_CROSS_ENTROPY_OPTS());
    EX_CHECK(loss);
    EX_CHECK(nb_backward(loss) == 0);
    for (int l = 0; l < depth; l++) {
        const nb_tensor *w = nb_module_get(m->children[2 * l], "weight");
        double sq = 0;
        for (int64_t i = 0; w->grad && i < w->numel; i++)
            sq += (double)w->grad[i] * w->grad[i];
        s->grad[l] = sqrt(sq);
    }
    nb_step_end();
    nb_module_zero_grad(m);
}

/* Geometric mean of ||g_l|| / ||g_l+1|| over the hidden layers 0 .. depth-2:
 * below 1, the gradient shrinks on its way down. */
static double shrink(const stats *s, int depth)
{
    return pow(s->grad[0] / s->grad[depth - 2], 1.0 / (depth - 2));
}

int main(int argc, char **argv)
{
    int depth = 15, width = 128, steps = 1000, n_train = 10000, seed = 1;
    bool quick = false;
    const char *out = ".", *data = NB_FASHION_MNIST_DIR;
    const ex_arg args[] = {
        {"depth", EX_INT, &depth, "Linear layers (an activation after each but the last)"},
        {"width", EX_INT, &width, "units of each hidden layer"},
        {"steps", EX_INT, &steps, "SGD steps of training between the two measurements"},
        {"train", EX_INT, &n_train, "training images"},
        {"seed", EX_INT, &seed, "seed of the weights and of the batch order"},
        {"out", EX_STR, &out, "directory for vanishing_gradients.svg"},
        {"data", EX_STR, &data, "directory of the (Fashion-)MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "100 steps on 2000 images"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        steps = 100, n_train = 2000;
    ex_parse(argc, argv, args, EX_COUNT(args), "per-layer gradients and activations of a deep MLP");
    if (depth < 3 || depth > MAX_DEPTH || width < 1 || steps < 0) {
        fprintf(stderr, "--depth must be in [3, %d], --width positive\n", MAX_DEPTH);
        return 2;
    }

    nb_dataset *train = nb_mnist_load(data, true, NB_MNIST_OPTS());
    nb_dataset *test = train ? nb_mnist_load(data, false, NB_MNIST_OPTS()) : NULL;
    if (!test) {
        fprintf(stderr,
                "Fashion-MNIST not found: sudo apt-get install dataset-fashion-mnist, or --data DIR\n");
        nb_dataset_free(train);
        return 1;
    }
    train = ex_first_rows(train, n_train);
    test = ex_first_rows(test, 2000);
    nb_norm *norm = nb_standardize(train->x);
    EX_CHECK(norm && nb_norm_apply_(norm, test->x));
    nb_tensor *px = nb_keep(nb_slice(train->x, 0, 0, PROBE)), *py = nb_keep(nb_slice(train->y, 0, 0, PROBE));
    EX_CHECK(px && py);
    nb_step_end();

    printf("MLP of %d Linear layers (784-%d-...-%d-10), standardised inputs, probe batch %d;\n"
           "training: %d SGD steps (lr 0.01, momentum 0.9, batch 64) on %lld images\n",
           depth, width, width, PROBE, steps, (long long)nb_dataset_len(train));

    stats before[N_ACTS], after[N_ACTS];
    double acc[N_ACTS];
    for (int a = 0; a < N_ACTS; a++) {
        nb_generator g;
        nb_generator_seed(&g, (uint64_t)seed);
        nb_module *m = build(acts[a], depth, width, &g);
        measure(m, px, py, depth, &before[a]);

        nb_param_list pl;
        EX_CHECK(nb_module_parameters(m, &pl) >= 0);
        nb_optim *opt = nb_sgd(pl.tensors, pl.count, NB_SGD_OPTS(.lr = 0.01, .momentum = 0.9));
        nb_loader *ld = nb_loader_new(train, 64, NB_LOADER_OPTS(.shuffle = true, .seed = (uint64_t)seed));
        EX_CHECK(opt && ld);
        nb_tensor *x, *y;
        for (int step = 0; step < steps; step++) {
            if (!nb_loader_next(ld, &x, &y)) /* end of an epoch: the next call starts another */
                EX_CHECK(nb_loader_next(ld, &x, &y));
            nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss);
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            EX_CHECK(nb_optim_step(opt) == 0);
            nb_step_end();
        }
        measure(m, px, py, depth, &after[a]);
        acc[a] = ex_accuracy(m, test, 1000, NULL, NULL, 0);

        printf("\n%s (%s)\n  layer   |grad W| init  trained    act mean  std init    mean  std trained\n",
               acts[a],
               a < 2    ? "Xavier normal"
               : a == 2 ? "Kaiming normal"
                        : "LeCun normal");
        for (int l = 0; l < depth; l++) {
            printf("  %5d   %10.3e %10.3e", l + 1, before[a].grad[l], after[a].grad[l]);
            if (l < depth - 1)
                printf("    %8.3f %5.3f        %8.3f %5.3f", before[a].mean[l], before[a].std[l],
                       after[a].mean[l], after[a].std[l]);
            printf("\n");
        }
        printf("  gradient factor per layer, going down: %.3f at init, %.3f trained;"
               " layer 1 / layer %d: %.2e at init\n",
               shrink(&before[a], depth), shrink(&after[a], depth), depth - 1,
               before[a].grad[0] / before[a].grad[depth - 2]);
        printf("  test accuracy after training: %.4f\n", acc[a]);

        nb_loader_free(ld);
        nb_optim_free(opt);
        nb_param_list_free(&pl);
        nb_module_free(m);
    }

    printf(
        "\nsummary          factor/layer (init)  first/top hidden (init)  last hidden mean, std (init)  test acc\n");
    for (int a = 0; a < N_ACTS; a++)
        printf("  %-8s %20.3f %24.2e %16.3f, %.3f %19.4f\n", acts[a], shrink(&before[a], depth),
               before[a].grad[0] / before[a].grad[depth - 2], before[a].mean[depth - 2],
               before[a].std[depth - 2], acc[a]);

    /* Gradient norm per layer, log y. */
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "Gradient norm per layer (dashed: after training)",
                                          .xlabel = "Linear layer (1 = input side)", .ylabel = "||dL/dW||",
                                          .log_y = true, .legend = NB_LEGEND_BOTTOM_RIGHT));
    EX_CHECK(p);
    static const char *const colors[N_ACTS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
    double xs[MAX_DEPTH];
    for (int l = 0; l < depth; l++)
        xs[l] = l + 1;
    for (int a = 0; a < N_ACTS; a++) {
        EX_CHECK(nb_plot_add(p, xs, before[a].grad, depth,
                             NB_SERIES_OPTS(.label = acts[a], .color = colors[a],
                                            .style = NB_SERIES_LINE_POINTS)) == 0);
        EX_CHECK(nb_plot_add(p, xs, after[a].grad, depth,
                             NB_SERIES_OPTS(.color = colors[a], .style = NB_SERIES_DASHED)) == 0);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/vanishing_gradients.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("\nwrote %s\n", path);

    /* The claims. */
    int status = 0;
    double sig = shrink(&before[0], depth), relu = shrink(&before[2], depth),
           selu = shrink(&before[3], depth);
    if (!(sig < 1 && sig < relu && sig < selu)) {
        fprintf(stderr,
                "FAIL: sigmoid's gradient factor %.3f is not below 1 and below relu's %.3f"
                " and selu's %.3f\n",
                sig, relu, selu);
        status = 1;
    }
    double m = before[3].mean[depth - 2], s = before[3].std[depth - 2];
    if (!(fabs(m) < 0.25 && s > 0.75 && s < 1.25)) {
        fprintf(stderr, "FAIL: selu's last hidden layer has mean %.3f, std %.3f\n", m, s);
        status = 1;
    }
    nb_free(px);
    nb_free(py);
    nb_norm_free(norm);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return status;
}
