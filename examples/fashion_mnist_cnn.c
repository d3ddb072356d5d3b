/* examples/fashion_mnist_cnn.c — a small convolutional network on Fashion-MNIST
 * (70000 28x28 grey images of clothes in 10 classes; Debian package
 * dataset-fashion-mnist), the classic LeNet-style layout:
 *
 *   Conv2d(1,16,3,pad 1) relu MaxPool2d(2)     [N,1,28,28] -> [N,16,14,14]
 *   Conv2d(16,32,3,pad 1) relu MaxPool2d(2)    -> [N,32,7,7]
 *   Flatten Linear(1568,128) relu Linear(128,10)
 *
 * trained with Adam and cross-entropy on shuffled mini-batches. After each
 * epoch: train loss, test accuracy and the epoch's time. The images come as
 * [N,28,28] (keep_shape); each batch is viewed as [B,1,28,28], one channel.
 *
 *   ./fashion_mnist_cnn [--epochs 5] [--batch 128] [--lr 1e-3] [--threads N]
 *                       [--seed 1] [--data DIR] [--quick]
 *
 * --quick trains 1 epoch on 5000 training images, tests on 1000, and fails
 * unless the accuracy exceeds 0.5 (it is what `meson test` runs). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <nabla/nabla.h>
#include "common.h"

enum { CLASSES = 10, EVAL_BATCH = 500 };

static nb_module *build_model(int seed)
{
    nb_manual_seed((uint64_t)seed);   /* layers initialise from the default generator */
    nb_module *m = nb_sequential(10,
        nb_conv2d_layer(1, 16, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0),
        nb_conv2d_layer(16, 32, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0),
        nb_flatten_layer(1, -1),
        nb_linear(32 * 7 * 7, 128), nb_act("relu"), nb_linear(128, CLASSES));
    EX_CHECK(m);
    return m;
}

/* A batch x [B,28,28] as [B,1,28,28] (a view: no copy). */
static nb_tensor *as_images(nb_tensor *x)
{
    return nb_reshape(x, NB_SHAPE(x->shape[0], 1, 28, 28));
}

int main(int argc, char **argv)
{
    int epochs = 0, batch = 128, threads = 0, seed = 1;
    double lr = 1e-3;
    const char *data = NB_FASHION_MNIST_DIR;
    bool quick = false;
    const ex_arg args[] = {
        {"epochs", EX_INT, &epochs, "epochs; 0: 5, or 1 with --quick"},
        {"batch", EX_INT, &batch, "mini-batch size"},
        {"lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"threads", EX_INT, &threads, "threads; 0: NABLA_NUM_THREADS or the number of cores"},
        {"seed", EX_INT, &seed, "seed of the initial weights and of the shuffling"},
        {"data", EX_STR, &data, "directory of the four (Fashion-)MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "5000 training and 1000 test images, 1 epoch"},
    };
    ex_parse(argc, argv, args, EX_COUNT(args), "train a CNN on Fashion-MNIST");
    epochs = epochs ? epochs : quick ? 1 : 5;
    if (epochs < 1 || batch < 1 || !(lr > 0)) {
        fprintf(stderr, "--epochs, --batch and --lr must be positive\n");
        return 2;
    }
    if (threads > 0)
        nb_set_num_threads(threads);

    /* Data: x [N,28,28] in [0,1], y [N] class numbers. */
    nb_mnist_options mo = {.keep_shape = true};
    nb_dataset *train = nb_mnist_load(data, true, &mo);
    nb_dataset *test = train ? nb_mnist_load(data, false, &mo) : NULL;
    if (!test) {
        fprintf(stderr, "\nFashion-MNIST was not found in %s. Install it with\n"
                "    sudo apt-get install dataset-fashion-mnist\n"
                "or pass --data DIR, a directory holding the four IDX files of Fashion-MNIST or MNIST.\n",
                data);
        nb_dataset_free(train);
        return 1;
    }
    if (quick) {
        train = ex_first_rows(train, 5000);
        test = ex_first_rows(test, 1000);
    }

    nb_module *model = build_model(seed);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    nb_optim *opt = nb_adam(pl.tensors, pl.count, (nb_adam_opts){.lr = lr});
    nb_param_list_free(&pl);
    EX_CHECK(opt);
    printf("Fashion-MNIST: %lld training, %lld test images; %d thread(s)\n",
           (long long)nb_dataset_len(train), (long long)nb_dataset_len(test), nb_get_num_threads());
    EX_CHECK(nb_module_summary(model, stdout, NB_SHAPE(1, 1, 28, 28)) == 0);
    printf("Adam, lr %g, batch %d, seed %d, %d epoch(s)\n\n", lr, batch, seed, epochs);

    nb_loader *ld = nb_loader_new(train, batch, &(nb_loader_options){.shuffle = true, .seed = (uint64_t)seed});
    EX_CHECK(ld);
    double acc = 0, t_train = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
        double t0 = ex_now(), sum = 0;
        int64_t count = 0;
        nb_tensor *x, *y;
        while (nb_loader_next(ld, &x, &y)) {
            nb_tensor *loss = nb_cross_entropy(nb_forward(model, as_images(x)), y, (nb_cross_entropy_opts){0});
            EX_CHECK(loss);
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            EX_CHECK(nb_optim_step(opt) == 0);
            sum += nb_item(loss) * (double)x->shape[0];
            count += x->shape[0];
            nb_step_end();
        }
        double dt = ex_now() - t0;
        t_train += dt;
        acc = ex_accuracy(model, test, EVAL_BATCH, as_images, NULL, 0);
        printf("epoch %2d/%d  train loss %.4f  test accuracy %.4f  %5.1f s  %6.0f images/s\n", epoch + 1,
               epochs, sum / (double)count, acc, dt, (double)count / dt);
        fflush(stdout);
    }
    printf("\ntraining: %.1f s, %.1f s per epoch\nfinal test accuracy %.4f\n", t_train, t_train / epochs, acc);

    fflush(stdout);
    int status = 0;
    if (quick && !(acc > 0.5)) {
        fprintf(stderr, "FAIL: test accuracy %.4f is not above 0.5\n", acc);
        status = 1;
    }
    nb_loader_free(ld);
    nb_optim_free(opt);
    nb_module_free(model);
    nb_dataset_free(train);
    nb_dataset_free(test);
    return status;
}
