/* bench/housing.c — the one-neuron housing regression of the tutorials,
 * y = k2 * sigmoid(k1 * x + b1) + b2 on standardised rooms (RM) against price
 * (MEDV), 20,000 full-batch SGD steps on 506 points: about ten small ops a
 * step, so this measures framework overhead. PyTorch runs the same steps.
 * Usage: housing [--steps 20000] [--no-torch] (--help: the flags) */
#include <math.h>
#include <nabla/nabla.h>
#include "bench.h"

#define CSV NB_BENCH_DIR "/../data/boston_house_prices.csv"

static double run(nb_tensor *x, nb_tensor *t, long steps, double *loss_out)
{
    nb_tensor *p[4] = {nb_scalar(1), nb_scalar(0), nb_scalar(1), nb_scalar(0)}; /* k1 b1 k2 b2 */
    for (int i = 0; i < 4; i++)
        nb_requires_grad(p[i], true);
    nb_optim *opt = nb_sgd(p, 4, NB_SGD_OPTS(.lr = 0.05));
    double t0 = bench_now();
    for (long s = 0; s < steps; s++) {
        nb_tensor *y = nb_add(nb_mul(p[2], nb_sigmoid(nb_add(nb_mul(p[0], x), p[1]))), p[3]);
        nb_tensor *loss = nb_mse_loss(y, t, NB_MEAN);
        nb_optim_zero_grad(opt);
        nb_backward(loss);
        nb_optim_step(opt);
        *loss_out = nb_item(loss);
        nb_step_end();
    }
    double dt = bench_now() - t0;
    nb_optim_free(opt);
    for (int i = 0; i < 4; i++)
        nb_free(p[i]);
    return dt;
}

int main(int argc, char **argv)
{
    int steps = 20000;
    bool no_torch = false;
    const ex_arg flags[] = {
        {"steps", EX_INT, &steps, "full-batch training steps"},
        {"no-torch", EX_FLAG, &no_torch, "skip the PyTorch side"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "the one-neuron housing regression's tiny steps, nabla against PyTorch");
    bool torch = !no_torch;
    bench_check_flag(steps >= 1, argv[0], "--steps must be at least 1");
    nb_tensor *xy = nb_load_csv(
        CSV, NB_CSV_OPTS(.columns = (const char *[]){"RM", "MEDV"}, .n_columns = 2, .skip_rows = 1), NULL);
    if (!xy) {
        fprintf(stderr, "housing: %s\n", nb_last_error_message());
        return 1;
    }
    int64_t n = xy->shape[0];
    nb_tensor *x = nb_empty(NB_SHAPE(n, 1)), *t = nb_empty(NB_SHAPE(n, 1));
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
        mean += xy->data[2 * i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        var += (xy->data[2 * i] - mean) * (xy->data[2 * i] - mean);
    double sd = sqrt(var / (double)n);
    for (int64_t i = 0; i < n; i++) {
        x->data[i] = (nb_real)((xy->data[2 * i] - mean) / sd);
        t->data[i] = xy->data[2 * i + 1];
    }
    nb_set_num_threads(1);
    double times[5], loss = 0;
    for (int r = 0; r < 5; r++)
        times[r] = run(x, t, steps, &loss);
    double med = bench_median(times, 5);
    printf("nabla: %.4f s for %d steps (median of 5), %.3f us per step, final loss %.4f\n", med, steps,
           med / (double)steps * 1e6, loss);
    if (torch) {
        bench_result res[2];
        char args[512];
        snprintf(args, sizeof args, "housing --csv %s --steps %d", CSV, steps);
        int k = bench_torch(args, res, 2);
        double pt = bench_find(res, k, "housing_torch");
        if (pt > 0)
            printf("RESULT housing_nabla %.4f s  ratio PyTorch/nabla %.1fx\n", med, pt / med);
        else
            bench_no_torch();
    }
    nb_free(xy), nb_free(x), nb_free(t);
    return 0;
}
