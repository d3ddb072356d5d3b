/* examples/custom_activation.c — adding an activation of your own: a bent
 * identity with a learnable parameter a,
 *
 *     f(x; a) = a (sqrt(x² + 1) - 1) / 2 + x,
 *     df/dx   = a x / (2 sqrt(x² + 1)) + 1,      df/da = (sqrt(x² + 1) - 1) / 2,
 *
 * (a = 1 is the registry's bent_identity), in four steps:
 *
 *   1. the op: compute f into nb_op_output(), then nb_record() a node whose
 *      backward adds dL/dx and dL/da into nb_input_grad() — a is an ordinary
 *      second input of the node, so its gradient comes out of the same pass;
 *      both loops run on the thread pool (nb_parallel_for), with the same
 *      results for any thread count;
 *   2. check the backward against finite differences with nb_gradcheck (this
 *      program links nabla64, so everything runs in double precision);
 *   3. describe it as an nb_activation and register it with
 *      nb_activation_register(): from then on nb_act("bent_identity_a") makes
 *      a layer of it that owns the parameter a ("weight"), command lines can
 *      name it, and the registry-driven test loops would check it;
 *   4. train a small network with it: y = sin(2x) regressed on [-3, 3] by
 *      Linear(1,16) bent_a Linear(16,16) bent_a Linear(16,1), with Adam.
 *
 * Exit status 1 if the gradient check fails, if 1 and 2 threads give different
 * bits, or if training does not reduce the loss below a tenth of its initial
 * value.
 *
 *   ./custom_activation [--steps 2000] [--quick] (500 steps) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include "args.h"

/* ---- 1. The op ----------------------------------------------------------- */

/* Both loops run on the thread pool through nb_parallel_for (nabla/threads.h),
 * which calls a function on ranges [begin, end) of the indices. Each element
 * of y and dx depends only on its own index, so any split gives the same
 * bits. The gradient of a is a sum over every element: it is cut into fixed
 * blocks of BLOCK elements (the same blocks for any thread count), each block
 * writes its partial sum into its own slot, and the partial sums are added in
 * order on one thread, so it too is the same for any thread count. */
enum { GRAIN = 1 << 14, BLOCK = 1 << 14 }; /* elements worth a task; elements per partial sum */

typedef struct bent_job {
    nb_real a;
    int64_t numel;
    const nb_real *x, *dy;
    nb_real *y, *dx, *part; /* dx, part: NULL when not wanted */
} bent_job;

static void bent_a_forward_range(void *ctx, int64_t begin, int64_t end)
{
    const bent_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        nb_real v = j->x[i];
        j->y[i] = j->a * (sqrt(v * v + 1) - 1) / 2 + v;
    }
}

/* Blocks [begin, end): dx for their elements and their partial sums of da. */
static void bent_a_backward_blocks(void *ctx, int64_t begin, int64_t end)
{
    const bent_job *j = ctx;
    for (int64_t q = begin; q < end; q++) {
        int64_t lo = q * BLOCK, hi = lo + BLOCK < j->numel ? lo + BLOCK : j->numel;
        nb_real sum_da = 0;
        for (int64_t i = lo; i < hi; i++) {
            nb_real v = j->x[i], r = sqrt(v * v + 1);
            if (j->dx)
                j->dx[i] += j->dy[i] * (j->a * v / (2 * r) + 1);
            sum_da += j->dy[i] * (r - 1) / 2;
        }
        if (j->part)
            j->part[q] = sum_da;
    }
}

static void bent_a_backward(nb_node *n)
{
    const nb_tensor *x = n->in[0];
    bent_job j = {.a = n->in[1]->data[0], .numel = x->numel, .x = x->data, .dy = n->out->grad};
    j.dx = nb_input_grad(n, 0); /* NULL: not needed */
    nb_real *da = nb_input_grad(n, 1);
    int64_t nblocks = (x->numel + BLOCK - 1) / BLOCK;
    if (da && !(j.part = nb_step_alloc((size_t)nblocks * sizeof(nb_real)))) {
        nb_error(NB_ERR_MEMORY, "bent_identity_a backward: out of memory");
        return;
    }
    nb_parallel_for(nblocks, 1, bent_a_backward_blocks, &j); /* one block is a task already */
    /* a is shared by every element: its gradient is the sum of the blocks' */
    for (int64_t q = 0; da && q < nblocks; q++)
        da[0] += j.part[q];
}

static const nb_op bent_a_op = {"bent_identity_a", bent_a_backward};

/* f(x; a) for any x and a one-element a. */
static nb_tensor *bent_identity_a(nb_tensor *x, nb_tensor *a)
{
    if (!nb_check_input("bent_identity_a", 1, x) || !nb_check_input("bent_identity_a", 2, a))
        return NULL;
    if (a->numel != 1)
        return nb_error(NB_ERR_SHAPE, "bent_identity_a: a has %lld elements, expected 1",
                        (long long)a->numel);
    nb_tensor *y = nb_op_output(x->ndim, x->shape);
    if (!y)
        return NULL;
    bent_job j = {.a = a->data[0], .x = x->data, .y = y->data};
    nb_parallel_for(x->numel, GRAIN, bent_a_forward_range, &j);
    nb_record(&bent_a_op, y, 2, (nb_tensor *[]){x, a});
    return y;
}

/* ---- 2. The gradient check ----------------------------------------------- */

static nb_tensor *check_fn(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return bent_identity_a(in[0], in[1]);
}

/* y, dL/dx and dL/da of L = sum(y * w) with `threads` threads, into out[0, n),
 * out[n, 2n) and out[2n] (n = x->numel). */
static void run_with_threads(int threads, nb_tensor *x, nb_tensor *a, nb_tensor *w, nb_real *out)
{
    nb_set_num_threads(threads);
    nb_zero_grad(x);
    nb_zero_grad(a);
    nb_tensor *y = bent_identity_a(x, a);
    EX_CHECK(y && nb_backward(nb_sum(nb_mul(y, w))) == 0);
    int64_t n = x->numel;
    memcpy(out, y->data, (size_t)n * sizeof *out);
    memcpy(out + n, x->grad, (size_t)n * sizeof *out);
    out[2 * n] = a->grad[0];
    nb_step_end();
    nb_set_num_threads(0);
}

/* ---- 3. The activation descriptor, registered by name ---------------------- */

static nb_tensor *bent_a_apply(nb_tensor *x, const nb_real *params, nb_tensor *weight)
{
    (void)params;
    return bent_identity_a(x, weight);
}

static const nb_activation bent_a_activation = {
    .name = "bent_identity_a",
    .learnable = 1,        /* the layer owns a one-element parameter "weight"... */
    .learnable_init = 1.0, /* ...initialised to 1: the plain bent identity */
    .apply = bent_a_apply,
    .pointwise = true,
};

/* The program's own activations, listed once (as the library lists its own in
 * src/activations/list.h): one line each here, and main registers them all. */
#define MY_ACTIVATIONS(X) X(bent_a_activation)
#define AS_POINTER(a) &a,
static const nb_activation *const my_activations[] = {MY_ACTIVATIONS(AS_POINTER)};

/* ---- 4. Training ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    int steps = 2000;
    bool quick = false;
    const ex_arg args[] = {
        {"steps", EX_INT, &steps, "Adam steps of the regression"},
        {"quick", EX_FLAG, &quick, "500 steps"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        steps = 500;
    ex_parse(argc, argv, args, EX_COUNT(args), "an activation with a learnable parameter");
    printf("nb_real is %s\n", NB_REAL_NAME);

    /* Gradient check at random x (and a not equal to 1, so both terms matter). */
    nb_generator g;
    nb_generator_seed(&g, 7);
    nb_tensor *x = nb_requires_grad(nb_normal_(nb_empty(NB_SHAPE(4, 5)), 0, 2, &g), true);
    nb_tensor *a = nb_requires_grad(nb_full(NB_SHAPE(1), 0.7), true);
    EX_CHECK(x && a);
    nb_gradcheck_result r = nb_gradcheck(check_fn, 2, (nb_tensor *[]){x, a}, NULL, NB_GRADCHECK_OPTS());
    printf("gradcheck of bent_identity_a: %s (%lld gradient elements, worst |analytic - numeric| "
           "%.2e)\n",
           r.ok ? "ok" : "FAILED", (long long)r.checked, fabs(r.analytic - r.numeric));
    if (!r.ok)
        printf("  %s\n", r.message);
    nb_free(x);
    nb_free(a);

    /* The same bits for 1 and 2 threads, on a tensor large enough to be split. */
    x = nb_requires_grad(nb_normal_(nb_empty(NB_SHAPE(1024, 1024)), 0, 2, &g), true);
    a = nb_requires_grad(nb_full(NB_SHAPE(1), 0.7), true);
    nb_tensor *w = nb_normal_(nb_empty(NB_SHAPE(1024, 1024)), 0, 1, &g);
    nb_real *one = malloc((size_t)(2 * x->numel + 1) * sizeof *one),
            *two = malloc((size_t)(2 * x->numel + 1) * sizeof *two);
    EX_CHECK(x && a && w && one && two);
    run_with_threads(1, x, a, w, one);
    run_with_threads(2, x, a, w, two);
    bool same = memcmp(one, two, (size_t)(2 * x->numel + 1) * sizeof *one) == 0;
    printf("1 and 2 threads: %s y, dL/dx and dL/da (%lld elements)\n", same ? "the same" : "DIFFERENT",
           (long long)x->numel);
    free(one);
    free(two);
    nb_free(x);
    nb_free(a);
    nb_free(w);

    /* The data: 256 points of sin(2x) on [-3, 3]. */
    enum { N = 256 };
    nb_tensor *xs = nb_linspace(-3, 3, N), *ys = nb_empty(NB_SHAPE(N, 1));
    EX_CHECK(xs && ys);
    for (int i = 0; i < N; i++)
        ys->data[i] = sin(2 * xs->data[i]);
    nb_tensor *xcol = nb_keep(nb_reshape(xs, NB_SHAPE(N, 1)));
    EX_CHECK(xcol);
    nb_step_end();

    for (size_t i = 0; i < sizeof my_activations / sizeof *my_activations; i++)
        EX_CHECK(nb_activation_register(my_activations[i]) == 0);
    printf("registered '%s': the registry now holds %d activations\n",
           nb_activation_find("bent_identity_a")->name, nb_activation_count());
    nb_manual_seed(1);
    nb_module *l1 = nb_linear(1, 16); /* one statement each: the weights are drawn in this order */
    nb_module *l2 = nb_linear(16, 16);
    nb_module *l3 = nb_linear(16, 1);
    nb_module *net = nb_sequential(5, l1, nb_act("bent_identity_a"), l2, nb_act("bent_identity_a"), l3);
    EX_CHECK(net);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(net, &pl) >= 0);
    printf("\nparameters:");
    for (int i = 0; i < pl.count; i++)
        printf(" %s", pl.names[i]);
    printf("\n");
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = 0.003));
    EX_CHECK(opt);

    double first = 0, last = 0;
    for (int step = 0; step <= steps; step++) {
        nb_tensor *loss = nb_mse_loss(nb_forward(net, xcol), ys, NB_MEAN);
        EX_CHECK(loss);
        last = nb_item(loss);
        if (step == 0)
            first = last;
        if (step % (steps / 5 > 0 ? steps / 5 : 1) == 0)
            printf("  step %5d  loss %.5f   a = %.4f, %.4f\n", step, last,
                   nb_module_get(net, "1.weight")->data[0], nb_module_get(net, "3.weight")->data[0]);
        if (step < steps) {
            nb_optim_zero_grad(opt);
            EX_CHECK(nb_backward(loss) == 0);
            EX_CHECK(nb_optim_step(opt) == 0);
        }
        nb_step_end();
    }
    bool learned = last < first / 10;
    printf("loss %.5f -> %.5f: %s\n", first, last, learned ? "learned" : "NOT LEARNED");

    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_module_free(net);
    nb_free(xcol);
    nb_free(xs);
    nb_free(ys);
    return r.ok && same && learned ? 0 : 1;
}
