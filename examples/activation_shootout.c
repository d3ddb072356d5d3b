/* examples/activation_shootout.c — every hidden-layer activation of the
 * registry on the same task: one MLP on Fashion-MNIST, trained with the same
 * seed (same initial weights, same batches), the same optimizer and the same
 * budget, once per activation.
 *
 * Which entries: every pointwise one (step ... identity) and the two with a
 * learnable parameter, prelu (one shared slope, 0.25) and swish (learnable
 * beta, 1). maxout is not a function applied after a layer but a layer of its
 * own: it runs as nb_maxout_layer(in, out, 2), a Linear(in, 2 out) whose pairs
 * of outputs are reduced by max, replacing each Linear + activation (twice
 * the weights of the others). softmax and log_softmax normalise across units,
 * which makes them output functions rather than hidden activations: skipped.
 *
 * The table, one row per activation:
 *   test acc   accuracy on the test subset after training
 *   loss       mean training loss of the last epoch
 *   time/epoch seconds per epoch
 *   dead       fraction of the units of the first hidden layer that are dead:
 *              a unit is dead when its output is exactly 0 for every one of
 *              the PROBE = 1000 first test images, after training (such a unit
 *              passes no gradient for any of them either, for relu-like
 *              activations, so it cannot come back)
 *   |grad W1|  L2 norm of the gradient of the first layer's weight on the
 *              first batch, before any update: how much signal reaches the
 *              bottom of the network at the start
 * and <out>/activation_shootout.svg, the learning curves (training loss,
 * averaged over each tenth of an epoch).
 *
 * Exit status 1 unless every loss is finite, relu beats 0.6 accuracy, and
 * step's first-layer gradient is exactly 0 (its derivative is 0 everywhere,
 * so only the last layer can learn).
 *
 *   ./activation_shootout [--hidden 128,128] [--epochs 2] [--train 10000] [--test 2000]
 *                         [--batch 64] [--lr 1e-3] [--seed 1] [--out .]
 *                         [--data DIR] [--quick] (1 epoch, 2000 / 500 images) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "common.h"

enum { MAX_ACTS = 32, MAX_LAYERS = 8, PROBE = 1000, POINTS_PER_EPOCH = 10 };

typedef struct result {
    const char *name;
    double acc, loss, sec_per_epoch, dead, grad0;
    double *curve; /* loss per tenth of an epoch */
    int n_curve;
} result;

/* 784 -> hidden... -> 10 with activation a after every hidden Linear (or
 * maxout layers when a is maxout). Same seed, same initial Linear weights. */
static nb_module *build(const nb_activation *a, const int64_t *sizes, int n, int seed)
{
    nb_manual_seed((uint64_t)seed);
    nb_module *m = nb_sequential(0);
    EX_CHECK(m);
    bool maxout = strcmp(a->name, "maxout") == 0;
    for (int i = 0; i + 1 < n; i++) {
        bool hidden = i + 2 < n;
        if (hidden && maxout) {
            EX_CHECK(nb_sequential_add(m, nb_maxout_layer(sizes[i], sizes[i + 1], 2)) == 0);
            continue;
        }
        EX_CHECK(nb_sequential_add(m, nb_linear(sizes[i], sizes[i + 1])) == 0);
        if (hidden)
            EX_CHECK(nb_sequential_add(m, nb_act_layer(a, NULL)) == 0);
    }
    return m;
}

/* Fraction of first-hidden-layer units whose output is 0 for every probe image. */
static double dead_fraction(nb_module *m, const nb_activation *a, nb_tensor *probe)
{
    double dead = 0;
    NB_NO_GRAD
    {
        nb_tensor *h = nb_forward(nb_module_child(m, "0"), probe);
        if (strcmp(a->name, "maxout") != 0)
            h = nb_forward(nb_module_child(m, "1"), h);
        EX_CHECK(h);
        int64_t rows = h->shape[0], units = h->shape[1], n_dead = 0;
        for (int64_t j = 0; j < units; j++) {
            bool all_zero = true;
            for (int64_t i = 0; i < rows && all_zero; i++)
                all_zero = h->data[i * units + j] == 0;
            n_dead += all_zero;
        }
        dead = (double)n_dead / (double)units;
    }
    nb_step_end();
    return dead;
}

static result run(const nb_activation *a, const int64_t *sizes, int n, const nb_dataset *train,
                  const nb_dataset *test, nb_tensor *probe, int epochs, int batch, double lr, int seed)
{
    result r = {.name = a->name};
    nb_module *m = build(a, sizes, n, seed);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(m, &pl) >= 0);
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = lr));
    nb_loader *ld = nb_loader_new(train, batch, NB_LOADER_OPTS(.shuffle = true, .seed = (uint64_t)seed));
    EX_CHECK(opt && ld);
    int64_t nbatch = nb_loader_batches(ld);
    int64_t chunk = nbatch / POINTS_PER_EPOCH > 0 ? nbatch / POINTS_PER_EPOCH : 1;
    r.curve = malloc(sizeof(double) * (size_t)(epochs * (nbatch / chunk + 1)));
    EX_CHECK(r.curve);
    double t0 = ex_now();
    for (int e = 0; e < epochs; e++) {
        double sum = 0, chunk_sum = 0;
        int64_t b = 0, count = 0;
        nb_tensor *x, *y;
        while (nb_loader_next(ld, &x, &y)) {
            nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss);
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            if (e == 0 && b == 0) { /* the first layer's weight gradient before any update */
                const nb_tensor *w = pl.tensors[0];
                double s2 = 0;
                for (int64_t i = 0; w->grad && i < w->numel; i++)
                    s2 += (double)w->grad[i] * w->grad[i];
                r.grad0 = sqrt(s2);
            }
            EX_CHECK(nb_optim_step(opt) == 0);
            double l = nb_item(loss);
            sum += l * (double)x->shape[0];
            count += x->shape[0];
            chunk_sum += l;
            if (++b % chunk == 0) {
                r.curve[r.n_curve++] = chunk_sum / (double)chunk;
                chunk_sum = 0;
            }
            nb_step_end();
        }
        r.loss = sum / (double)count;
    }
    r.sec_per_epoch = (ex_now() - t0) / epochs;
    r.acc = ex_accuracy(m, test, 1000, NULL, NULL, 0);
    r.dead = dead_fraction(m, a, probe);
    nb_loader_free(ld);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_module_free(m);
    return r;
}

int main(int argc, char **argv)
{
    const char *hidden = "128,128", *out = ".", *data = NB_FASHION_MNIST_DIR;
    int epochs = 2, n_train = 10000, n_test = 2000, batch = 64, seed = 1;
    double lr = 1e-3;
    bool quick = false;
    const ex_arg args[] = {
        {"hidden", EX_STR, &hidden, "hidden layer sizes, comma-separated"},
        {"epochs", EX_INT, &epochs, "epochs per activation"},
        {"train", EX_INT, &n_train, "training images (the first ones of the training set)"},
        {"test", EX_INT, &n_test, "test images"},
        {"batch", EX_INT, &batch, "mini-batch size"},
        {"lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"seed", EX_INT, &seed, "seed of the weights and of the batch order"},
        {"out", EX_STR, &out, "directory for activation_shootout.svg"},
        {"data", EX_STR, &data, "directory of the (Fashion-)MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "1 epoch on 2000 training and 500 test images"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        epochs = 1, n_train = 2000, n_test = 500;
    ex_parse(argc, argv, args, EX_COUNT(args), "every activation on the same MLP");
    if (epochs < 1 || batch < 1) {
        fprintf(stderr, "--epochs and --batch must be positive\n");
        return 2;
    }

    int64_t sizes[MAX_LAYERS + 2];
    int n = 0;
    sizes[n++] = 784;
    for (const char *p = hidden; *p;) {
        char *end;
        long h = strtol(p, &end, 10);
        if (end == p || h < 1 || n > MAX_LAYERS || (*end && *end != ',')) {
            fprintf(stderr, "--hidden '%s': expected sizes like 128,128\n", hidden);
            return 2;
        }
        sizes[n++] = h;
        p = *end ? end + 1 : end;
    }
    sizes[n++] = 10;

    nb_dataset *train = nb_mnist_load(data, true, NB_MNIST_OPTS());
    nb_dataset *test = train ? nb_mnist_load(data, false, NB_MNIST_OPTS()) : NULL;
    if (!test) {
        fprintf(stderr,
                "Fashion-MNIST not found: sudo apt-get install dataset-fashion-mnist, or --data DIR\n");
        nb_dataset_free(train);
        return 1;
    }
    train = ex_first_rows(train, n_train);
    test = ex_first_rows(test, n_test);
    int64_t n_probe = nb_dataset_len(test) < PROBE ? nb_dataset_len(test) : PROBE;
    nb_tensor *probe = nb_keep(nb_slice(test->x, 0, 0, n_probe));
    EX_CHECK(probe);
    nb_step_end();
    printf("MLP 784");
    for (int i = 1; i < n; i++)
        printf("-%lld", (long long)sizes[i]);
    printf(", Adam lr %g, batch %d, %d epoch(s) on %lld images, tested on %lld, seed %d\n", lr, batch, epochs,
           (long long)nb_dataset_len(train), (long long)nb_dataset_len(test), seed);
    printf("dead: first-layer units outputting exactly 0 on all %lld probe images\n\n", (long long)n_probe);
    printf("%-14s %8s %8s %10s %7s %10s\n", "activation", "test acc", "loss", "time/epoch", "dead",
           "|grad W1|");

    result res[MAX_ACTS];
    int nr = 0;
    for (int i = 0; i < nb_activation_count() && nr < MAX_ACTS; i++) {
        const nb_activation *a = nb_activation_at(i);
        if (strcmp(a->name, "softmax") == 0 || strcmp(a->name, "log_softmax") == 0)
            continue;
        result r = run(a, sizes, n, train, test, probe, epochs, batch, lr, seed);
        printf("%-14s %8.4f %8.4f %8.2f s %6.1f%% %10.4f\n", r.name, r.acc, r.loss, r.sec_per_epoch,
               100 * r.dead, r.grad0);
        fflush(stdout);
        res[nr++] = r;
    }

    /* Learning curves: 10 colours, then the same colours dashed, then with points. */
    nb_plot *p =
        nb_plot_new(NB_PLOT_OPTS(.title = "Activation shootout: training loss", .xlabel = "epoch",
                                 .ylabel = "cross-entropy", .log_y = true, .width = 900, .height = 600));
    EX_CHECK(p);
    static const nb_series_style styles[3] = {NB_SERIES_LINE, NB_SERIES_DASHED, NB_SERIES_LINE_POINTS};
    for (int k = 0; k < nr; k++) {
        double *xs = malloc(sizeof(double) * (size_t)res[k].n_curve);
        EX_CHECK(xs);
        for (int j = 0; j < res[k].n_curve; j++)
            xs[j] = (j + 1.0) * epochs / res[k].n_curve;
        EX_CHECK(nb_plot_add(p, xs, res[k].curve, res[k].n_curve,
                             NB_SERIES_OPTS(.label = res[k].name, .style = styles[(k / 10) % 3], .width = 1.5,
                                            .radius = 2.5)) == 0);
        free(xs);
    }
    EX_CHECK(nb_plot_xrange(p, 0, epochs * 1.3) == 0); /* room on the right for the legend */
    char path[1024];
    snprintf(path, sizeof path, "%s/activation_shootout.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("\nwrote %s\n", path);

    int status = 0;
    for (int k = 0; k < nr; k++) {
        if (!isfinite(res[k].loss)) {
            fprintf(stderr, "FAIL: %s: loss %g\n", res[k].name, res[k].loss);
            status = 1;
        }
        if (strcmp(res[k].name, "relu") == 0 && !(res[k].acc > 0.6)) {
            fprintf(stderr, "FAIL: relu: accuracy %.4f is not above 0.6\n", res[k].acc);
            status = 1;
        }
        if (strcmp(res[k].name, "step") == 0 && res[k].grad0 != 0) {
            fprintf(stderr, "FAIL: step: first-layer gradient %g, expected 0\n", res[k].grad0);
            status = 1;
        }
        free(res[k].curve);
    }
    nb_free(probe);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return status;
}
