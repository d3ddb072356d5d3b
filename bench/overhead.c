/* bench/overhead.c — what one recorded op costs on tiny tensors: framework
 * overhead, not arithmetic. Four ops (add, mul, sub, mul) on one-element
 * tensors that require grad, so each records a node; then the same with a
 * backward pass. Compared with PyTorch's cost per op in the same run.
 * Usage: overhead [--iters 1000000] [--no-torch] (--help: the flags) */
#include <nabla/nabla.h>
#include "bench.h"

/* Seconds per op of `iters` x (add, mul, sub, mul), each iteration a step;
 * with `backward`, each step also runs the backward pass. */
static double per_op(long iters, bool backward)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(1), true);
    double t0 = bench_now();
    for (long i = 0; i < iters; i++) {
        nb_tensor *y = nb_add(x, x);
        y = nb_mul(y, x);
        y = nb_sub(y, x);
        y = nb_mul(y, x);
        if (backward)
            nb_backward(y);
        nb_step_end();
    }
    double dt = bench_now() - t0;
    nb_free(x);
    return dt / (4.0 * (double)iters);
}

int main(int argc, char **argv)
{
    int iters = 1000000;
    bool no_torch = false;
    const ex_arg flags[] = {
        {"iters", EX_INT, &iters, "recorded ops timed"},
        {"no-torch", EX_FLAG, &no_torch, "skip the PyTorch side"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "the cost of one recorded op on tiny tensors, nabla against PyTorch");
    int torch = !no_torch;
    bench_check_flag(iters >= 10, argv[0], "--iters must be at least 10");
    nb_set_num_threads(1);
    double rep_f[5], rep_b[5];
    for (int r = 0; r < 5; r++) {
        rep_f[r] = per_op(iters, false);
        rep_b[r] = per_op(iters, true);
    }
    double f = bench_median(rep_f, 5) * 1e6, b = bench_median(rep_b, 5) * 1e6;
    printf("nabla: %.4f us per recorded op (forward, 1 element, median of 5 x %d x 4 ops)\n", f, iters);
    printf("nabla: %.4f us per op forward + backward\n", b);
    if (!torch)
        return 0;
    bench_result res[4];
    char args[64];
    snprintf(args, sizeof args, "overhead --iters %d", iters / 10);
    int n = bench_torch(args, res, 4);
    double t = bench_find(res, n, "overhead_torch");
    if (t > 0)
        printf("ratio nabla/PyTorch per recorded op: %.4f (PyTorch %.3f us, %.1fx faster)\n", f / t, t,
               t / f);
    else
        bench_no_torch();
    return 0;
}
