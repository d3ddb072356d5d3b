/* ops/reduce_stat.c — the reductions with a formula of their own: var, std,
 * logsumexp and vector_norm, over everything or along one dim (keepdim as
 * PyTorch). x is viewed as [outer, d, inner]; each output reads its d
 * elements (a lane, stride inner), each input gradient is written by its own
 * lane. With m = mean(x), dof = max(d - correction, 0):
 *   var:   y = Σ (x - m)² / dof                dx = dy 2 (x - m) / dof
 *   std:   y = sqrt(var)                       dx = dy (x - m) / (dof y)   (0 where y = 0)
 *     (torch.var / torch.std, correction = 1 is Bessel's, PyTorch's default:
 *      https://pytorch.org/docs/stable/generated/torch.var.html; dof <= 0 gives
 *      inf or NaN, as PyTorch)
 *   logsumexp: y = s + log Σ exp(x - s), s = max x (0 when the max is ±inf),
 *      dx = dy exp(x - y)   (https://pytorch.org/docs/stable/generated/torch.logsumexp.html)
 *   vector_norm (p = ord):  y = (Σ |x|^p)^(1/p), p > 0;  y = max |x| for p = inf
 *      p = 2:    dx = dy x / y                 (0 where y = 0)
 *      p = 1:    dx = dy sgn(x)
 *      p = inf:  dx = dy sgn(x) / c where |x| = y, c the number of such x (ties share evenly)
 *      else:     dx = dy sgn(x) |x|^(p-1) / y^(p-1)   (0 where y = 0 or x = 0)
 *      (torch.linalg.vector_norm and torch.norm's vector case:
 *       https://pytorch.org/docs/stable/generated/torch.linalg.vector_norm.html; the
 *       backward as PyTorch's norm_backward, torch/csrc/autograd/FunctionsManual.cpp)
 * Each output accumulates in double, in lane order, on one thread: the same
 * bits for any thread count. NaN propagates. */
#include <math.h>
#include "nabla/threads.h"
#include "ops/dim.h"

typedef enum stat { VAR, STD, LSE, NORM } stat;

typedef struct stat_saved {
    stat k;
    int64_t outer, d, inner;
    double arg; /* var, std: the correction; vector_norm: ord */
} stat_saved;

typedef struct job {
    const stat_saved *s;
    const nb_real *x, *y, *dy; /* y, dy: backward only */
    nb_real *out;              /* forward: y; backward: dx */
} job;

enum { GRAIN = 1 << 14 };

static double lane_mean(const nb_real *x, int64_t d, int64_t st)
{
    double m = 0;
    for (int64_t k = 0; k < d; k++)
        m += x[k * st];
    return m / (double)d;
}

static double dof(const stat_saved *s) { return fmax((double)s->d - s->arg, 0); }

static double forward_lane(const stat_saved *s, const nb_real *x)
{
    int64_t d = s->d, st = s->inner;
    switch (s->k) {
    case VAR:
    case STD: {
        double m = lane_mean(x, d, st), ss = 0;
        for (int64_t k = 0; k < d; k++)
            ss += ((double)x[k * st] - m) * ((double)x[k * st] - m);
        double v = ss / dof(s);
        return s->k == VAR ? v : sqrt(v);
    }
    case LSE: {
        double mx = -INFINITY, sum = 0;
        for (int64_t k = 0; k < d; k++)
            mx = x[k * st] > mx ? x[k * st] : mx;
        double shift = isinf(mx) ? 0 : mx;
        for (int64_t k = 0; k < d; k++)
            sum += exp((double)x[k * st] - shift);
        return log(sum) + shift;
    }
    default: {
        double p = s->arg, acc = 0;
        for (int64_t k = 0; k < d; k++) {
            double a = fabs((double)x[k * st]);
            if (isinf(p))
                acc = a > acc || isnan(a) ? a : acc; /* keeps a NaN once seen */
            else
                acc += p == 1 ? a : p == 2 ? a * a : pow(a, p);
        }
        return isinf(p) || p == 1 ? acc : p == 2 ? sqrt(acc) : pow(acc, 1 / p);
    }
    }
}

static double sgn(double v) { return v > 0 ? 1 : v < 0 ? -1 : v; } /* 0 and NaN stay */

static void backward_lane(const stat_saved *s, const nb_real *x, double y, double g, nb_real *dx)
{
    int64_t d = s->d, st = s->inner;
    switch (s->k) {
    case VAR:
    case STD: {
        if (s->k == STD && y == 0) /* PyTorch's std_backward: 0 where std is 0 */
            return;
        double m = lane_mean(x, d, st), f = s->k == VAR ? 2 * g / dof(s) : g / (dof(s) * y);
        for (int64_t k = 0; k < d; k++)
            dx[k * st] += (nb_real)(f * ((double)x[k * st] - m));
        return;
    }
    case LSE:
        for (int64_t k = 0; k < d; k++)
            dx[k * st] += (nb_real)(g * exp((double)x[k * st] - y));
        return;
    default: {
        double p = s->arg;
        if (isinf(p)) {
            int64_t c = 0;
            for (int64_t k = 0; k < d; k++)
                c += fabs((double)x[k * st]) == y || (isnan(y) && isnan(x[k * st]));
            for (int64_t k = 0; k < d; k++)
                if (fabs((double)x[k * st]) == y || (isnan(y) && isnan(x[k * st])))
                    dx[k * st] += (nb_real)(g * sgn(x[k * st]) / (double)c);
            return;
        }
        if (p != 1 && y == 0)
            return;
        double f = p == 1 ? g : p == 2 ? g / y : g / pow(y, p - 1);
        for (int64_t k = 0; k < d; k++) {
            double v = x[k * st];
            if (v != 0) /* 0 at 0 (|v|^(p-1) is infinite there for p < 1), as PyTorch */
                dx[k * st] += (nb_real)(p == 1   ? f * sgn(v)
                                        : p == 2 ? f * v
                                                 : f * sgn(v) * pow(fabs(v), p - 1));
        }
    }
    }
}

/* Outputs [begin, end): output u is lane (u / inner, u % inner). */
static void forward_task(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    const stat_saved *s = j->s;
    for (int64_t u = begin; u < end; u++)
        j->out[u] = (nb_real)forward_lane(s, j->x + u / s->inner * s->d * s->inner + u % s->inner);
}

static void backward_task(void *c, int64_t begin, int64_t end)
{
    const job *j = c;
    const stat_saved *s = j->s;
    for (int64_t u = begin; u < end; u++) {
        int64_t base = u / s->inner * s->d * s->inner + u % s->inner;
        backward_lane(s, j->x + base, j->y[u], j->dy[u], j->out + base);
    }
}

static void stat_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const stat_saved *s = n->saved;
    job j = {.s = s, .x = n->in[0]->data, .y = n->out->data, .dy = n->out->grad, .out = dx};
    nb_parallel_for(n->out->numel, GRAIN / (s->d + 1) + 1, backward_task, &j);
}

static const nb_op op_var = {"var", stat_backward};
static const nb_op op_std = {"std", stat_backward};
static const nb_op op_logsumexp = {"logsumexp", stat_backward};
static const nb_op op_norm = {"vector_norm", stat_backward};

static nb_tensor *reduce_stat(const nb_op *op, stat k, double arg, nb_tensor *x, bool all, int dim,
                              bool keepdim)
{
    const char *name = op->name;
    if (!nb_check_input(name, 1, x))
        return NULL;
    stat_saved s = {.k = k, .arg = arg, .outer = 1, .d = x->numel, .inner = 1};
    int ndim = 0;
    int64_t shape[NB_MAX_DIMS];
    if (!all) {
        int d = nb_op_dim(name, dim, x, 0);
        if (d < 0)
            return NULL;
        nb_dim_split(x, d, &s.outer, &s.d, &s.inner);
        ndim = nb_dim_reduced_shape(x, d, keepdim, shape);
    }
    if (k == NORM && !(arg > 0))
        return nb_error(NB_ERR_ARG, "vector_norm: x %s: ord = %g is not supported (ord > 0, or INFINITY)",
                        nb_shape_fmt(x), arg);
    if (k == NORM && isinf(arg) && s.d == 0)
        return nb_error(NB_ERR_SHAPE,
                        "vector_norm: x %s: the inf-norm (a maximum) of no elements is undefined",
                        nb_shape_fmt(x));
    if ((k == VAR || k == STD) && !isfinite(arg))
        return nb_error(NB_ERR_ARG, "%s: x %s: correction %g is not a finite number", name, nb_shape_fmt(x),
                        arg);
    nb_tensor *y = nb_tensor_alloc(name, ndim, all ? NULL : shape, false);
    if (!y)
        return NULL;
    job j = {.s = &s, .x = x->data, .out = y->data};
    nb_parallel_for(y->numel, GRAIN / (s.d + 1) + 1, forward_task, &j);
    nb_node *n = nb_record_saved(op, y, 1, &x, sizeof(stat_saved));
    if (n)
        *(stat_saved *)n->saved = s;
    return y;
}

nb_tensor *nb_var(nb_tensor *x, double correction)
{
    return reduce_stat(&op_var, VAR, correction, x, true, 0, false);
}
nb_tensor *nb_var_dim(nb_tensor *x, int dim, double correction, bool keepdim)
{
    return reduce_stat(&op_var, VAR, correction, x, false, dim, keepdim);
}
nb_tensor *nb_std(nb_tensor *x, double correction)
{
    return reduce_stat(&op_std, STD, correction, x, true, 0, false);
}
nb_tensor *nb_std_dim(nb_tensor *x, int dim, double correction, bool keepdim)
{
    return reduce_stat(&op_std, STD, correction, x, false, dim, keepdim);
}
nb_tensor *nb_logsumexp(nb_tensor *x, int dim, bool keepdim)
{
    return reduce_stat(&op_logsumexp, LSE, 0, x, false, dim, keepdim);
}
nb_tensor *nb_vector_norm(nb_tensor *x, double ord)
{
    return reduce_stat(&op_norm, NORM, ord, x, true, 0, false);
}
nb_tensor *nb_vector_norm_dim(nb_tensor *x, double ord, int dim, bool keepdim)
{
    return reduce_stat(&op_norm, NORM, ord, x, false, dim, keepdim);
}
