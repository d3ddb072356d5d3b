/* ops/cumsum.c — torch.cumsum(input, dim)
 * (https://pytorch.org/docs/stable/generated/torch.cumsum.html): along dim,
 *   y[k] = Σ_{j <= k} x[j]           dx[j] += Σ_{k >= j} dy[k]   (the reversed cumsum)
 * x is viewed as [outer, d, inner]; each lane (o, i) is one running sum in
 * double, on one thread: the same bits for any thread count. */
#include "nabla/threads.h"
#include "ops/dim.h"

typedef struct cumsum_saved {
    int64_t outer, d, inner;
} cumsum_saved;

typedef struct job {
    cumsum_saved s;
    const nb_real *in;
    nb_real *out;
    bool reverse; /* backward: from the end, added into out */
} job;

enum { GRAIN = 1 << 14 };

static void lanes(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    int64_t d = j->s.d, st = j->s.inner;
    for (int64_t u = begin; u < end; u++) {
        int64_t base = u / st * d * st + u % st;
        const nb_real *x = j->in + base;
        nb_real *y = j->out + base;
        double acc = 0;
        if (!j->reverse)
            for (int64_t k = 0; k < d; k++)
                y[k * st] = (nb_real)(acc += x[k * st]);
        else
            for (int64_t k = d - 1; k >= 0; k--)
                y[k * st] += (nb_real)(acc += x[k * st]);
    }
}

static void cumsum_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    job j = {*(const cumsum_saved *)n->saved, n->out->grad, dx, true};
    nb_parallel_for(j.s.outer * j.s.inner, GRAIN / (j.s.d + 1) + 1, lanes, &j);
}

static const nb_op op_cumsum = {"cumsum", cumsum_backward};

nb_tensor *nb_cumsum(nb_tensor *x, int dim)
{
    if (!nb_check_input("cumsum", 1, x))
        return NULL;
    int d = nb_op_dim("cumsum", dim, x, 0);
    if (d < 0)
        return NULL;
    nb_tensor *y = nb_tensor_alloc("cumsum", x->ndim, x->shape, false);
    if (!y)
        return NULL;
    job j = {.in = x->data, .out = y->data};
    nb_dim_split(x, d, &j.s.outer, &j.s.d, &j.s.inner);
    nb_parallel_for(j.s.outer * j.s.inner, GRAIN / (j.s.d + 1) + 1, lanes, &j);
    nb_node *n = nb_record_saved(&op_cumsum, y, 1, &x, sizeof(cumsum_saved));
    if (n)
        *(cumsum_saved *)n->saved = j.s;
    return y;
}
