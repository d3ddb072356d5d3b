/* examples/fashion_mnist.c — the main example: a multi-layer perceptron trained
 * on Fashion-MNIST (70000 28x28 grey images of clothes in 10 classes; Debian
 * package dataset-fashion-mnist), with everything a real training run has:
 *
 *   - a model built from flags: --hidden 256,128 --act relu gives
 *     Linear(784,256) relu Linear(256,128) relu Linear(128,10);
 *   - cross-entropy, an optimizer chosen by name, shuffled mini-batches;
 *   - a progress bar on a terminal (plain lines when the output is a file);
 *   - train loss and test accuracy after each epoch, a confusion matrix and a
 *     learning-curve SVG at the end;
 *   - checkpoints of the whole run (nb_save_training, written atomically) and
 *     --resume, which continues bit for bit as if never interrupted;
 *   - inference as a user would deploy it: the saved checkpoint is loaded into
 *     a fresh model and the test set classified in batches of 100 with
 *     gradients off. The program exits with status 1 if that accuracy is not
 *     exactly the one measured during training;
 *   - with --distributed, the same training data-parallel over MPI
 *     (examples/distributed.h): `mpirun -np 2 build/examples/fashion_mnist
 *     --distributed` trains on 2 ranks, each on 64 rows of every batch of
 *     128, what one process trains with batch 128; a checkpoint of it
 *     resumes on any number of ranks that divides the batch, or in one
 *     process.
 *
 *   ./fashion_mnist [--hidden 256,128] [--act relu] [--optim adam] [--lr 1e-3] [--schedule cosine]
 *                   [--epochs 15] [--batch 128] [--threads N] [--seed 1]
 *                   [--checkpoint PATH] [--resume PATH] [--stop-after N] [--out .]
 *                   [--data DIR] [--quick] [--distributed [--bucket-mb 25]]
 *
 * --quick trains 2 epochs on 5000 training images, tests on 1000, and fails
 * unless the accuracy exceeds 0.6 (it is what `meson test` runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "common.h"
#include "distributed.h"

enum { CLASSES = 10, MAX_HIDDEN = 16, MAX_EPOCHS = 1000, EVAL_BATCH = 100 };

static const char *const class_names[CLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* What defines a run; saved in the checkpoint's metadata so --resume needs nothing else. */
typedef struct config {
    char hidden[128]; /* "256,128" */
    char act[32];
    char optim[16];
    char schedule[16]; /* "cosine" or "none" */
    double lr;
    int batch, seed, epochs, epochs_done;
    double loss[MAX_EPOCHS], acc[MAX_EPOCHS]; /* history, for the learning curve */
} config;

/* Linear(784, h1) act Linear(h1, h2) act ... Linear(hk, 10), initialised from seed. */
static nb_module *build_model(const config *c)
{
    int64_t sizes[MAX_HIDDEN + 2];
    int n = 0;
    sizes[n++] = 784;
    for (const char *p = c->hidden; *p;) {
        char *end;
        long h = strtol(p, &end, 10);
        if (end == p || h < 1 || n > MAX_HIDDEN || (*end && *end != ',')) {
            fprintf(stderr, "--hidden '%s': expected sizes like 256,128\n", c->hidden);
            exit(2);
        }
        sizes[n++] = h;
        p = *end ? end + 1 : end;
    }
    sizes[n++] = CLASSES;
    nb_manual_seed((uint64_t)c->seed); /* layers initialise from the default generator */
    nb_module *m = nb_sequential(0);
    EX_CHECK(m);
    for (int i = 0; i + 1 < n; i++) {
        EX_CHECK(nb_sequential_add(m, nb_linear(sizes[i], sizes[i + 1])) == 0);
        if (i + 2 < n)
            EX_CHECK(nb_sequential_add(m, nb_act(c->act)) == 0);
    }
    return m;
}

/* The optimizer by name over the model's parameters (in nb_module_parameters
 * order, as checkpoints require). lr 0 picks this example's default. */
static nb_optim *make_optim(config *c, nb_module *model)
{
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    nb_optim *o = NULL;
    const char *name = c->optim;
    if (strcmp(name, "sgd") == 0) {
        c->lr = c->lr > 0 ? c->lr : 0.05;
        o = nb_sgd(pl.tensors, pl.count, NB_SGD_OPTS(.lr = c->lr, .momentum = 0.9));
    } else if (strcmp(name, "adam") == 0) {
        c->lr = c->lr > 0 ? c->lr : 1e-3;
        o = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = c->lr));
    } else if (strcmp(name, "adamw") == 0) {
        c->lr = c->lr > 0 ? c->lr : 1e-3;
        o = nb_adamw(pl.tensors, pl.count, NB_ADAMW_OPTS(.lr = c->lr));
    } else if (strcmp(name, "rmsprop") == 0) {
        c->lr = c->lr > 0 ? c->lr : 1e-3;
        o = nb_rmsprop(pl.tensors, pl.count, NB_RMSPROP_OPTS(.lr = c->lr));
    } else if (strcmp(name, "adagrad") == 0) {
        c->lr = c->lr > 0 ? c->lr : 1e-2;
        o = nb_adagrad(pl.tensors, pl.count, NB_ADAGRAD_OPTS(.lr = c->lr));
    } else {
        fprintf(stderr, "--optim '%s': expected sgd, adam, adamw, rmsprop or adagrad\n", name);
        exit(2);
    }
    nb_param_list_free(&pl);
    EX_CHECK(o);
    return o;
}

/* "1:05" */
static const char *hms(double seconds, char *buf)
{
    long s = lround(seconds);
    if (s >= 3600)
        sprintf(buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        sprintf(buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

static void progress(int epoch, int epochs, int64_t b, int64_t nb, double loss, double rate, double eta)
{
    enum { WIDTH = 24 };
    char bar[WIDTH + 1], t[32];
    int fill = (int)(WIDTH * b / nb);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    printf("\repoch %2d/%d [%s] %4lld/%lld  loss %.4f  %6.0f ex/s  ETA %s  ", epoch, epochs, bar,
           (long long)b, (long long)nb, loss, rate, hms(eta, t));
    fflush(stdout);
}

/* The checkpoint's own metadata: the config and the history, as JSON strings
 * (nb_save_training adds the state of the run itself). */
static char *config_json(const config *c)
{
    size_t cap = 1024 + (size_t)c->epochs_done * 60, n = 0;
    char *s = malloc(cap);
    EX_CHECK(s);
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"hidden\": \"%s\", \"act\": \"%s\", \"optim\": \"%s\", \"lr\": \"%.17g\", "
                          "\"schedule\": \"%s\", \"batch\": \"%d\", \"seed\": \"%d\", \"epochs\": \"%d\", "
                          "\"train_loss\": \"",
                          c->hidden, c->act, c->optim, c->lr, c->schedule, c->batch, c->seed, c->epochs);
    for (int e = 0; e < c->epochs_done; e++)
        n += (size_t)snprintf(s + n, cap - n, "%s%.17g", e ? "," : "", c->loss[e]);
    n += (size_t)snprintf(s + n, cap - n, "\", \"test_acc\": \"");
    for (int e = 0; e < c->epochs_done; e++)
        n += (size_t)snprintf(s + n, cap - n, "%s%.17g", e ? "," : "", c->acc[e]);
    snprintf(s + n, cap - n, "\"}");
    return s;
}

static const char *meta(nb_safetensors *st, const char *key, const char *path)
{
    const char *v = nb_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "%s: not a fashion_mnist checkpoint (no '%s' in its metadata)\n", path, key);
        exit(1);
    }
    return v;
}

/* The config of a checkpoint written by this program. */
static void config_load(config *c, const char *path)
{
    nb_safetensors *st = nb_safetensors_open(path);
    EX_CHECK(st);
    snprintf(c->hidden, sizeof c->hidden, "%s", meta(st, "hidden", path));
    snprintf(c->act, sizeof c->act, "%s", meta(st, "act", path));
    snprintf(c->optim, sizeof c->optim, "%s", meta(st, "optim", path));
    c->lr = atof(meta(st, "lr", path));
    snprintf(c->schedule, sizeof c->schedule, "%s", meta(st, "schedule", path));
    c->epochs = atoi(meta(st, "epochs", path));
    c->batch = atoi(meta(st, "batch", path));
    c->seed = atoi(meta(st, "seed", path));
    const char *l = meta(st, "train_loss", path), *a = meta(st, "test_acc", path);
    for (int e = 0; *l && *a && e < MAX_EPOCHS; e++) { /* the history of the epochs done */
        char *end;
        c->loss[e] = strtod(l, &end), l = *end ? end + 1 : end;
        c->acc[e] = strtod(a, &end), a = *end ? end + 1 : end;
    }
    nb_safetensors_close(st);
}

int main(int argc, char **argv)
{
    config c = {.batch = 128, .seed = 1};
    const char *hidden = "256,128", *act = "relu", *optim = "adam", *schedule = "cosine";
    const char *data = NB_FASHION_MNIST_DIR, *out = ".", *ckpt = NULL, *resume = NULL;
    int epochs = 0, threads = 0, stop_after = 0;
    bool quick = false;
    const ex_arg args[] = {
        {"hidden", EX_STR, &hidden, "hidden layer sizes, comma-separated"},
        {"act", EX_STR, &act, "activation of the hidden layers (any registry name)"},
        {"optim", EX_STR, &optim, "sgd (momentum 0.9), adam, adamw, rmsprop or adagrad"},
        {"lr", EX_DOUBLE, &c.lr, "learning rate; 0: 1e-3 (adam, adamw, rmsprop), 0.05 (sgd), 1e-2 (adagrad)"},
        {"schedule", EX_STR, &schedule, "learning rate over the epochs: cosine (annealed to 0) or none"},
        {"epochs", EX_INT, &epochs, "epochs; 0: 15, or 2 with --quick"},
        {"batch", EX_INT, &c.batch, "mini-batch size"},
        {"threads", EX_INT, &threads, "threads (per rank); 0: NABLA_NUM_THREADS or the number of cores"},
        {"seed", EX_INT, &c.seed, "seed of the initial weights and of the shuffling"},
        {"checkpoint", EX_STR, &ckpt, "save the whole run here after every epoch"},
        {"resume", EX_STR, &resume, "continue the run saved in this checkpoint (with its settings)"},
        {"stop-after", EX_INT, &stop_after,
         "stop after this many epochs of this run, as an interrupted run would"},
        {"out", EX_STR, &out, "directory for fashion_mnist_curve.svg"},
        {"data", EX_STR, &data, "directory of the four (Fashion-)MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "5000 training and 1000 test images, 2 epochs"},
        EX_DIST_ARGS,
    };
    ex_parse(argc, argv, args, EX_COUNT(args), "train an MLP on Fashion-MNIST");
    snprintf(c.hidden, sizeof c.hidden, "%s", hidden);
    snprintf(c.act, sizeof c.act, "%s", act);
    snprintf(c.optim, sizeof c.optim, "%s", optim);
    snprintf(c.schedule, sizeof c.schedule, "%s", schedule);
    c.epochs = epochs ? epochs : quick ? 2 : 15;
    if (c.epochs < 1 || c.epochs > MAX_EPOCHS || c.batch < 1) {
        fprintf(stderr, "--epochs must be in [1, %d] and --batch positive\n", MAX_EPOCHS);
        return 2;
    }
    if (strcmp(c.schedule, "cosine") != 0 && strcmp(c.schedule, "none") != 0) {
        fprintf(stderr, "--schedule '%s': expected cosine or none\n", c.schedule);
        return 2;
    }
    if (threads > 0)
        nb_set_num_threads(threads);
    ex_dist_start(argv[0], threads);
    if (!nb_activation_find(c.act))
        return 2; /* the registry's message lists the known names */

    /* Data: x [N, 784] in [0, 1], y [N] class numbers. */
    nb_dataset *train = nb_mnist_load(data, true, NB_MNIST_OPTS());
    nb_dataset *test = train ? nb_mnist_load(data, false, NB_MNIST_OPTS()) : NULL;
    if (!test) {
        fprintf(stderr,
                "\nFashion-MNIST was not found in %s. Install it with\n"
                "    sudo apt-get install dataset-fashion-mnist\n"
                "or pass --data DIR, a directory holding train-images-idx3-ubyte(.gz),\n"
                "train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and\n"
                "t10k-labels-idx1-ubyte(.gz) of Fashion-MNIST or MNIST.\n",
                data);
        nb_dataset_free(train);
        return 1;
    }
    if (quick) {
        train = ex_first_rows(train, 5000);
        test = ex_first_rows(test, 1000);
    }

    /* The run: fresh, or the one saved in --resume (whose settings win). */
    if (resume)
        config_load(&c, resume);
    epochs = c.epochs;
    nb_module *model = build_model(&c);
    nb_optim *opt = make_optim(&c, model);
    /* Cosine annealing: lr(e) = lr (1 + cos(pi e / epochs)) / 2 in epoch e, so the
     * last epochs take small steps and the final accuracy does not jitter. */
    nb_scheduler *sched = NULL;
    if (strcmp(c.schedule, "cosine") == 0)
        EX_CHECK(sched = nb_cosine_annealing_lr(opt, c.epochs, 0));
    nb_loader *ld = ex_loader(train, c.batch, NB_LOADER_OPTS(.shuffle = true, .seed = (uint64_t)c.seed));
    /* Everything the run needs to go on bit for bit: one call saves it, one restores it. */
    nb_training run = {.model = model,
                       .optims = &opt,
                       .n_optims = 1,
                       .schedulers = &sched,
                       .n_schedulers = sched != NULL,
                       .loaders = &ld,
                       .n_loaders = 1};
    if (resume) { /* distributed, every rank reads the file */
        EX_CHECK(nb_load_training(resume, &run) == 0);
        c.epochs_done = (int)nb_loader_epoch(ld);
        printf("resumed %s: %d epoch(s) done; its settings: --hidden %s --act %s --optim %s"
               " --lr %g --schedule %s --batch %d --seed %d --epochs %d\n",
               resume, c.epochs_done, c.hidden, c.act, c.optim, c.lr, c.schedule, c.batch, c.seed, c.epochs);
    }
    ex_dist_wrap(model);
    printf("Fashion-MNIST: %lld training, %lld test images; %d thread(s)\n", (long long)nb_dataset_len(train),
           (long long)nb_dataset_len(test), nb_get_num_threads());
    ex_dist_banner(c.batch);
    EX_CHECK(nb_module_summary(model, stdout, NB_SHAPE(1, 784)) == 0);
    printf("optimizer %s, lr %g (schedule %s), batch %d, seed %d, %d epochs\n\n", c.optim, c.lr, c.schedule,
           c.batch, c.seed, c.epochs);

    int last = stop_after > 0 && c.epochs_done + stop_after < epochs ? c.epochs_done + stop_after : epochs;
    /* (under mpirun a rank writes to a pseudo-terminal, whatever mpirun's own output is: no bar) */
    bool tty = isatty(STDOUT_FILENO) && !ex_dist.on;
    int64_t nbatch = nb_loader_batches(ld);
    double t_start = ex_now(), t_train = 0;
    int64_t steps = 0; /* batches trained in this run, for the ETA */
    double acc = c.epochs_done ? c.acc[c.epochs_done - 1] : 0;

    for (int epoch = c.epochs_done; epoch < last; epoch++) {
        double t0 = ex_now(), sum = 0, t_draw = 0;
        int64_t b = 0, count = 0;
        nb_tensor *x, *y;
        while (nb_loader_next(ld, &x, &y)) {
            nb_tensor *loss = nb_cross_entropy(ex_forward(model, x), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss);
            nb_optim_zero_grad(opt);
            EX_CHECK(ex_backward(loss) == 0);
            EX_CHECK(nb_optim_step(opt) == 0);
            sum += nb_item(loss) * (double)x->shape[0];
            count += x->shape[0];
            b++;
            nb_step_end();
            double t = ex_now();
            if (tty && (t - t_draw > 0.1 || b == nbatch)) {
                double per_batch = (t_train + t - t0) / (double)(steps + b);
                double eta = per_batch * (double)((last - epoch - 1) * nbatch + nbatch - b);
                progress(epoch + 1, epochs, b, nbatch, sum / count, count / (t - t0), eta);
                t_draw = t;
            }
        }
        double dt = ex_now() - t0, rows[2] = {sum, (double)count};
        t_train += dt;
        steps += b;
        ex_dist_sum(rows, 2); /* every rank's rows */
        sum = rows[0], count = (int64_t)rows[1];
        acc = ex_dist_rank0() ? ex_accuracy(model, test, EVAL_BATCH, NULL, NULL, CLASSES) : 0;
        c.loss[epoch] = sum / count;
        c.acc[epoch] = acc;
        c.epochs_done = epoch + 1;
        double lr = nb_optim_get_lr(opt);
        if (sched)
            nb_scheduler_step(sched);  /* the lr of the next epoch, saved with the checkpoint */
        if (ckpt && ex_dist_rank0()) { /* every rank holds the same run: one writes it */
            char *json = config_json(&c);
            EX_CHECK(nb_save_training(ckpt, &run, json) == 0);
            free(json);
        }
        printf("%sepoch %2d/%d  lr %.2e  train loss %.4f  test accuracy %.4f  %5.1f s  %6.0f ex/s%s\n",
               tty ? "\r" : "", epoch + 1, epochs, lr, c.loss[epoch], acc, dt, count / dt,
               tty ? "        " : "");
        fflush(stdout);
    }
    printf("\ntraining: %.1f s (%.1f s in all with evaluation)\n", t_train, ex_now() - t_start);
    ex_dist_report();
    nb_module *fresh = NULL;
    int status = 0;
    if (c.epochs_done < c.epochs) {
        printf("stopped after epoch %d of %d%s%s\n", c.epochs_done, c.epochs,
               ckpt ? "; continue with --resume " : " (no --checkpoint: nothing to resume)",
               ckpt ? ckpt : "");
        goto done;
    }
    if (!ex_dist_rank0())
        goto done; /* the model is rank 0's too: it alone goes on to the test */

    /* Where each class goes. */
    int64_t conf[CLASSES][CLASSES] = {{0}};
    acc = ex_accuracy(model, test, EVAL_BATCH, NULL, &conf[0][0], CLASSES);
    printf("\nconfusion matrix on the test set (rows: true class, columns: predicted)\n%12s", "");
    for (int j = 0; j < CLASSES; j++)
        printf(" %5.5s", class_names[j]);
    printf("  correct\n");
    for (int i = 0; i < CLASSES; i++) {
        int64_t row = 0;
        printf("%-12s", class_names[i]);
        for (int j = 0; j < CLASSES; j++)
            printf(" %5lld", (long long)conf[i][j]), row += conf[i][j];
        printf("  %5.1f%%\n", row ? 100.0 * conf[i][i] / row : 0);
    }
    printf("test accuracy %.4f\n", acc);

    /* The learning curve. */
    double ex[MAX_EPOCHS];
    for (int e = 0; e < c.epochs_done; e++)
        ex[e] = e + 1;
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "Fashion-MNIST: MLP learning curve", .xlabel = "epoch",
                                          .legend = NB_LEGEND_BEST));
    EX_CHECK(p);
    EX_CHECK(nb_plot_add(p, ex, c.loss, c.epochs_done,
                         NB_SERIES_OPTS(.label = "train loss", .style = NB_SERIES_LINE_POINTS)) == 0);
    EX_CHECK(nb_plot_add(p, ex, c.acc, c.epochs_done,
                         NB_SERIES_OPTS(.label = "test accuracy", .style = NB_SERIES_LINE_POINTS)) == 0);
    EX_CHECK(nb_plot_yrange(p, 0, 1) == 0);
    char svg[1024];
    snprintf(svg, sizeof svg, "%s/fashion_mnist_curve.svg", out);
    EX_CHECK(nb_plot_save(p, svg) == 0);
    nb_plot_free(p);
    printf("wrote %s\n", svg);

    /* Inference as deployed: the checkpoint into a fresh model, batches of 100, no grad. */
    char tmp[1024];
    const char *saved = ckpt;
    if (!saved) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/fashion_mnist.%ld.safetensors", dir ? dir : "/tmp", (long)getpid());
        char *json = config_json(&c);
        EX_CHECK(nb_save_checkpoint(tmp, model, opt, json) == 0);
        free(json);
        saved = tmp;
    }
    config c2 = {0};
    config_load(&c2, saved);
    fresh = build_model(&c2);
    EX_CHECK(nb_load_checkpoint(saved, fresh, NULL) == 0);
    double acc2 = ex_accuracy(fresh, test, EVAL_BATCH, NULL, NULL, CLASSES);
    printf("\n%s loaded into a fresh model: test accuracy %.4f (%s)\n", ckpt ? saved : "the saved model",
           acc2, acc2 == acc ? "the same" : "DIFFERENT");
    if (!ckpt)
        remove(tmp);

    if (acc2 != acc) {
        fprintf(stderr, "FAIL: the reloaded model's accuracy differs\n");
        status = 1;
    }
    if (quick && !(acc > 0.6)) {
        fprintf(stderr, "FAIL: test accuracy %.4f is not above 0.6\n", acc);
        status = 1;
    }
done:
    ex_dist_end();
    nb_module_free(fresh);
    nb_loader_free(ld);
    nb_scheduler_free(sched);
    nb_optim_free(opt);
    nb_module_free(model);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return status;
}
