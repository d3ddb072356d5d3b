/* examples/sequence_mnist.c — recurrent networks on Fashion-MNIST read as a
 * sequence: each image is 28 time steps of one 28-pixel row, and the class is
 * read from the last hidden state (x [B,28,28] batch_first -> h_n -> Linear).
 * Pixels are standardised one by one (nb_standardize) on the training split.
 *
 *   1. An LSTM and a GRU (hidden 128) trained with Adam and gradient clipping
 *      (nb_clip_grad_norm, max norm 1): loss, test accuracy and the gradient
 *      norm before clipping, per epoch.
 *   2. A plain RNN with tanh and with relu, trained the same way but without
 *      clipping, for 400 steps at 5 times the LSTM's learning rate, at it and
 *      at a tenth of it, from PyTorch's initialisation and from W_hh = I (the
 *      IRNN of Le et al., 2015, which keeps the gradient from vanishing):
 *      final loss, test accuracy, the largest gradient norm seen, and whether
 *      the loss stayed finite.
 *   3. What happens inside: on a probe batch, the norm of dL/dh_t, the
 *      gradient of the loss with respect to the hidden state at each time step
 *      t, for all four networks untrained and after training. It is measured
 *      by running each network's cell (RNNCell, LSTMCell, GRUCell, with the
 *      same weights) by hand, step by step, and reading each h_t's gradient.
 *      Written to <out>/sequence_mnist_grad.svg (log y).
 *
 * What the tutorials claim, and what this measures: backpropagation through a
 * recurrence multiplies the gradient by diag(f'(a_t)) W_hh^T at each step.
 * With tanh, |f'| <= 1 and saturation bound it; relu's f' is 0 or 1, so
 * nothing bounds it but W_hh itself, and once training makes W_hh expand, the
 * gradient grows geometrically over the 28 steps. In the default run, from
 * W_hh = I at lr 1e-2, the relu network's gradient norm reaches 3e4 and its
 * loss ends at 3.99, above the 2.30 of a uniform guess, where tanh's largest
 * norm is 100; at the smaller rates relu trains. From PyTorch's small init
 * every network's gradient vanishes going back in time: dL/dh_1 is 4e-11 of
 * dL/dh_28 for relu, 5e-8 for tanh, 2e-6 for the LSTM and 1e-5 for the GRU.
 *
 *   ./sequence_mnist [--epochs 6] [--hidden 128] [--batch 128] [--lr 2e-3]
 *                    [--rnn-steps 400] [--threads N] [--seed 1] [--out .]
 *                    [--data DIR] [--quick]
 *
 * Exit status 1 unless the LSTM reaches 88 % test accuracy (45 % with
 * --quick, which trains on 5000 images with hidden 32 and is what `meson test`
 * runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "common.h"

enum { T = 28, PIXELS = 28, CLASSES = 10, EVAL_BATCH = 500, PROBE = 256, N_RATES = 3 };
enum { RNN_TANH, RNN_RELU, LSTM, GRU, KINDS };
static const char *const kind_names[KINDS] = {"RNN tanh", "RNN relu", "LSTM", "GRU"};

/* ---- the model: recurrent layer "rnn", then Linear "fc" on h_n ------------ */

static nb_tensor *classifier_forward(nb_module *m, nb_tensor *x)
{
    nb_tensor *h_n;
    if (!nb_recurrent_forward(m->children[0], x, NULL, NULL, NULL, &h_n, NULL))
        return NULL;
    return nb_forward(m->children[1], nb_reshape(h_n, NB_SHAPE(x->shape[0], -1)));
}

static nb_module *build(int kind, int hidden)
{
    nb_rnn_opts o = NB_RNN_OPTS(.batch_first = true, .nonlinearity = kind == RNN_RELU ? "relu" : "tanh");
    nb_module *m = nb_module_new("SequenceClassifier", classifier_forward, NULL);
    EX_CHECK(m);
    nb_module *rnn = kind == LSTM  ? nb_lstm(PIXELS, hidden, o)
                     : kind == GRU ? nb_gru(PIXELS, hidden, o)
                                   : nb_rnn(PIXELS, hidden, o);
    EX_CHECK(nb_module_add(m, "rnn", rnn) == 0);
    EX_CHECK(nb_module_add(m, "fc", nb_linear(hidden, CLASSES)) == 0);
    return m;
}

/* ---- training ----------------------------------------------------------- */

typedef struct outcome {
    double loss, max_norm, acc; /* last epoch's mean loss; largest gradient norm seen */
    bool finite;
} outcome;

/* Adam from lr, cosine-annealed to 0; clip > 0 clips the gradient norm. Runs `epochs` epochs, or
 * `steps` steps when steps > 0, printing a line per epoch when verbose. */
static outcome train(nb_module *m, nb_dataset *train_ds, nb_dataset *test, double lr, double clip, int epochs,
                     int steps, int batch, int seed, bool verbose)
{
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(m, &pl) >= 0);
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = lr));
    nb_loader *ld = nb_loader_new(train_ds, batch, NB_LOADER_OPTS(.shuffle = true, .seed = (uint64_t)seed));
    EX_CHECK(opt && ld);
    /* cosine annealing to 0 over the run, stepped per batch */
    int64_t total = steps > 0 ? steps : epochs * ((nb_dataset_len(train_ds) + batch - 1) / batch);
    nb_scheduler *sched = nb_cosine_annealing_lr(opt, total, 0);
    EX_CHECK(sched);
    outcome o = {.finite = true};
    int done = 0;
    for (int epoch = 0; epoch < epochs && o.finite; epoch++) {
        double t0 = ex_now(), sum = 0, norms = 0;
        int64_t count = 0, batches = 0;
        nb_tensor *x, *y;
        while ((steps <= 0 || done < steps) && nb_loader_next(ld, &x, &y)) {
            nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss);
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            /* clip_grad_norm_ returns the norm before clipping; an infinite
             * max_norm only measures it */
            double norm = nb_clip_grad_norm(pl.tensors, pl.count, clip > 0 ? clip : INFINITY);
            EX_CHECK(nb_optim_step(opt) == 0);
            nb_scheduler_step(sched);
            double l = nb_item(loss);
            nb_step_end();
            o.finite &= isfinite(l) && isfinite(norm);
            if (!o.finite)
                break;
            o.max_norm = fmax(o.max_norm, norm);
            norms += norm, batches++;
            sum += l * (double)x->shape[0];
            count += x->shape[0];
            done++;
        }
        if (steps > 0 && done >= steps)
            epochs = epoch + 1; /* the last (partial) epoch */
        double dt = ex_now() - t0;
        o.loss = o.finite ? sum / (double)count : NAN;
        o.acc = o.finite ? ex_accuracy(m, test, EVAL_BATCH, NULL, NULL, 0) : 0;
        if (verbose)
            printf("  epoch %d/%d  train loss %.4f  test accuracy %.4f  grad norm mean %.3f max %.3f  %5.1f s"
                   "  %5.0f images/s\n",
                   epoch + 1, epochs, o.loss, o.acc, norms / (double)batches, o.max_norm, dt,
                   (double)count / dt);
        fflush(stdout);
    }
    nb_scheduler_free(sched);
    nb_loader_free(ld);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    return o;
}

/* ---- the gradient at each time step, through the cell -------------------- */

/* ||dL/dh_t|| for t = 1..T on the probe batch x [P,28,28], y [P]: m's trained
 * weights copied into a cell of its kind, stepped by hand. */
static void grad_over_time(nb_module *m, int kind, int hidden, nb_tensor *x, nb_tensor *y, double *norms)
{
    nb_rnn_opts o = NB_RNN_OPTS(.nonlinearity = kind == RNN_RELU ? "relu" : "tanh");
    nb_module *cell = kind == LSTM  ? nb_lstm_cell(PIXELS, hidden, o)
                      : kind == GRU ? nb_gru_cell(PIXELS, hidden, o)
                                    : nb_rnn_cell(PIXELS, hidden, o);
    EX_CHECK(cell);
    static const char *const names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int p = 0; p < 4; p++) {
        char lname[32];
        snprintf(lname, sizeof lname, "rnn.%s_l0", names[p]);
        EX_CHECK(nb_copy_(nb_module_get(cell, names[p]), nb_module_get(m, lname)));
    }
    int64_t P = x->shape[0];
    nb_tensor *h = NULL, *c = NULL, *hs[T];
    for (int t = 0; t < T; t++) {
        nb_tensor *xt = nb_reshape(nb_slice(x, 1, t, t + 1), NB_SHAPE(P, PIXELS));
        h = hs[t] =
            kind == LSTM ? nb_lstm_cell_forward(cell, xt, h, c, &c) : nb_rnn_cell_forward(cell, xt, h);
        EX_CHECK(h);
    }
    nb_tensor *loss = nb_cross_entropy(nb_forward(nb_module_child(m, "fc"), h), y, NB_CROSS_ENTROPY_OPTS());
    EX_CHECK(loss && nb_backward(loss) == 0);
    for (int t = 0; t < T; t++) {
        double sq = 0;
        for (int64_t i = 0; hs[t]->grad && i < hs[t]->numel; i++)
            sq += (double)hs[t]->grad[i] * hs[t]->grad[i];
        norms[t] = sqrt(sq);
    }
    nb_step_end();
    nb_module_zero_grad(m);
    nb_module_free(cell);
}

int main(int argc, char **argv)
{
    int epochs = 6, hidden = 128, batch = 128, rnn_steps = 400, threads = 0, seed = 1;
    double lr = 2e-3;
    bool quick = false;
    const char *out = ".", *data = NB_FASHION_MNIST_DIR;
    const ex_arg args[] = {
        {"epochs", EX_INT, &epochs, "epochs of the LSTM and of the GRU"},
        {"hidden", EX_INT, &hidden, "hidden units of every network"},
        {"batch", EX_INT, &batch, "mini-batch size"},
        {"lr", EX_DOUBLE, &lr, "Adam's learning rate (the RNNs try 5 lr, lr and lr / 10)"},
        {"rnn-steps", EX_INT, &rnn_steps, "training steps of each plain RNN run"},
        {"threads", EX_INT, &threads, "threads; 0: NABLA_NUM_THREADS or the number of cores"},
        {"seed", EX_INT, &seed, "seed of the weights and of the shuffling"},
        {"out", EX_STR, &out, "directory for sequence_mnist_grad.svg"},
        {"data", EX_STR, &data, "directory of the four (Fashion-)MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "5000 training images, hidden 32, 3 epochs, 50 RNN steps"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        epochs = 3, hidden = 32, rnn_steps = 50;
    ex_parse(argc, argv, args, EX_COUNT(args), "LSTM, GRU and RNN on Fashion-MNIST rows");
    if (epochs < 1 || hidden < 1 || batch < 1 || rnn_steps < 1 || !(lr > 0)) {
        fprintf(stderr, "--epochs, --hidden, --batch, --rnn-steps and --lr must be positive\n");
        return 2;
    }
    if (threads > 0)
        nb_set_num_threads(threads);

    nb_mnist_opts mo = NB_MNIST_OPTS(.keep_shape = true); /* x [N,28,28]: 28 steps of 28 pixels */
    nb_dataset *train_ds = nb_mnist_load(data, true, mo);
    nb_dataset *test = train_ds ? nb_mnist_load(data, false, mo) : NULL;
    if (!test) {
        fprintf(stderr,
                "\nFashion-MNIST was not found in %s. Install it with\n"
                "    sudo apt-get install dataset-fashion-mnist\n"
                "or pass --data DIR, a directory holding the four IDX files of Fashion-MNIST or MNIST.\n",
                data);
        nb_dataset_free(train_ds);
        return 1;
    }
    if (quick) {
        train_ds = ex_first_rows(train_ds, 5000);
        test = ex_first_rows(test, 1000);
    }
    /* pixel by pixel to mean 0, std 1 (the training split's statistics) */
    nb_norm *norm = nb_standardize(train_ds->x);
    EX_CHECK(norm && nb_norm_apply_(norm, test->x));
    nb_tensor *px = nb_keep(nb_slice(train_ds->x, 0, 0, PROBE)),
              *py = nb_keep(nb_slice(train_ds->y, 0, 0, PROBE));
    EX_CHECK(px && py);
    nb_step_end();
    printf(
        "Fashion-MNIST as sequences of %d rows of %d pixels: %lld training, %lld test images; %d thread(s)\n"
        "hidden %d, batch %d, Adam lr %g\n",
        T, PIXELS, (long long)nb_dataset_len(train_ds), (long long)nb_dataset_len(test), nb_get_num_threads(),
        hidden, batch, lr);

    nb_module *models[KINDS] = {0};
    double norms[KINDS][T], t0;
    outcome gated[2];
    for (int k = LSTM; k <= GRU; k++) {
        nb_manual_seed((uint64_t)seed);
        models[k] = build(k, hidden);
        printf("\n%s (%lld parameters), gradient clipping at norm 1, %d epoch(s)\n", kind_names[k],
               (long long)nb_module_num_params(models[k]), epochs);
        t0 = ex_now();
        gated[k - LSTM] = train(models[k], train_ds, test, lr, 1.0, epochs, 0, batch, seed, true);
        printf("  %s: %.1f s\n", kind_names[k], ex_now() - t0);
    }

    printf("\nplain RNN, no clipping, %d steps per run; init: PyTorch's U(-1/sqrt(H), 1/sqrt(H)), or\n"
           "W_hh = identity as in IRNN (Le et al., 2015)\n"
           "  network    init      lr        final loss  test acc  largest grad norm\n",
           rnn_steps);
    const double rates[N_RATES] = {5 * lr, lr, lr / 10};
    for (int k = RNN_TANH; k <= RNN_RELU; k++)
        for (int identity = 0; identity < 2; identity++)
            for (int r = 0; r < N_RATES; r++) {
                nb_manual_seed((uint64_t)seed);
                nb_module *m = build(k, hidden);
                if (identity) { /* W_hh = I: the recurrence starts as h_t = f(h_t-1 + W_ih x_t + b) */
                    nb_tensor *w = nb_module_get(m, "rnn.weight_hh_l0");
                    EX_CHECK(w && nb_init_constant_(w, 0));
                    for (int64_t j = 0; j < hidden; j++)
                        w->data[j * hidden + j] = 1;
                }
                outcome o = train(m, train_ds, test, rates[r], 0, 1000, rnn_steps, batch, seed, false);
                printf("  %-9s  %-8s  %-8.0e  ", kind_names[k], identity ? "identity" : "PyTorch", rates[r]);
                if (o.finite)
                    printf("%10.4f  %8.4f  %17.3g\n", o.loss, o.acc, o.max_norm);
                else
                    printf("diverged: a non-finite loss or gradient (largest finite norm %.3g)\n",
                           o.max_norm);
                if (!identity && r == 1) /* PyTorch's init at the LSTM's lr: probed below */
                    models[k] = m;
                else
                    nb_module_free(m);
            }

    /* the same measurement on untrained networks (same seed: the same initial weights) */
    double init[KINDS][T];
    for (int k = 0; k < KINDS; k++) {
        nb_manual_seed((uint64_t)seed);
        nb_module *m = build(k, hidden);
        grad_over_time(m, k, hidden, px, py, init[k]);
        nb_module_free(m);
        grad_over_time(models[k], k, hidden, px, py, norms[k]);
    }
    printf("\n||dL/dh_t|| on %d training images (t = 28 is the last step; RNNs: PyTorch's init at lr %g)\n"
           "        %-21s %-21s %-21s %s\n   t ",
           PROBE, lr, kind_names[0], kind_names[1], kind_names[2], kind_names[3]);
    for (int k = 0; k < KINDS; k++)
        printf("   initial   trained%s", k < KINDS - 1 ? " " : "\n");
    for (int t = 0; t < T; t++) {
        if (t % 3 != 0 && t != T - 1)
            continue;
        printf("  %2d ", t + 1);
        for (int k = 0; k < KINDS; k++)
            printf("  %9.2e %9.2e", init[k][t], norms[k][t]);
        printf("\n");
    }
    printf(" 1/28");
    for (int k = 0; k < KINDS; k++)
        printf("  %9.2e %9.2e", init[k][0] / init[k][T - 1], norms[k][0] / norms[k][T - 1]);
    printf("\n");

    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "Gradient w.r.t. the hidden state (dashed: untrained)",
                                          .xlabel = "time step t (row of the image)", .ylabel = "||dL/dh_t||",
                                          .log_y = true, .legend = NB_LEGEND_BOTTOM_RIGHT));
    EX_CHECK(p);
    static const char *const colors[KINDS] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"};
    double ts[T];
    for (int t = 0; t < T; t++)
        ts[t] = t + 1;
    for (int k = 0; k < KINDS; k++) {
        EX_CHECK(nb_plot_add(p, ts, norms[k], T,
                             NB_SERIES_OPTS(.label = kind_names[k], .color = colors[k],
                                            .style = NB_SERIES_LINE_POINTS)) == 0);
        EX_CHECK(nb_plot_add(p, ts, init[k], T,
                             NB_SERIES_OPTS(.color = colors[k], .style = NB_SERIES_DASHED)) == 0);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/sequence_mnist_grad.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("wrote %s\n\nLSTM test accuracy %.4f, GRU %.4f\n", path, gated[0].acc, gated[1].acc);
    fflush(stdout);

    int status = 0;
    double need = quick ? 0.45 : 0.88;
    if (!(gated[0].acc >= need)) {
        fprintf(stderr, "FAIL: the LSTM's test accuracy %.4f is below %.2f\n", gated[0].acc, need);
        status = 1;
    }
    for (int k = 0; k < KINDS; k++)
        nb_module_free(models[k]);
    nb_free(px), nb_free(py);
    nb_norm_free(norm);
    nb_dataset_free(train_ds);
    nb_dataset_free(test);
    return status;
}
