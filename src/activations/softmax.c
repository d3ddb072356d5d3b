/* activations/softmax.c — softmax and log_softmax along any dim, overflow-safe,
 * with a backward that never forms the Jacobian.
 *
 * Forward (torch.nn.functional.softmax / log_softmax), m = max_k x_k:
 *   softmax:      y_j = exp(x_j - m) / sum_k exp(x_k - m)
 *   log_softmax:  y_j = (x_j - m) - log sum_k exp(x_k - m)        (log-sum-exp)
 * Subtracting m changes nothing mathematically (it cancels) but keeps every
 * exponent <= 0, so nothing overflows: softmax([1000,1001,1002]) is
 * softmax([0,1,2]). Writing log_softmax as (x_j - m) - lse keeps x_j - m
 * exact when x_j is close to m, instead of rounding m + lse at |m|'s scale.
 *
 * Backward, with the Jacobian dy_j/dx_i = y_j (delta_ij - y_i) for softmax and
 * delta_ij - softmax_i for log_softmax, contracted with dy (as PyTorch's
 * _softmax_backward_data / _log_softmax_backward_data,
 * aten/src/ATen/native/SoftMax.cpp):
 *   softmax:      dx_i = y_i (dy_i - sum_j dy_j y_j)
 *   log_softmax:  dx_i = dy_i - exp(y_i) sum_j dy_j
 *
 * Layout: x seen as [outer, n, inner] around the softmax dim (size n). When
 * inner == 1 (the last dim, [batch, classes]) each row is contiguous and is
 * done in place with vector loops; otherwise columns of stride `inner` are
 * processed side by side, vectorized across the inner index. Each row or
 * column is reduced by one task in a fixed order: results do not depend on
 * the thread count. */
#include "activations/activation.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/vmath.h"

enum { GRAIN = 1 << 14 };

typedef struct sm_op {
    nb_op op; /* first: nodes point at it */
    bool log;
} sm_op;

typedef struct job {
    bool log;
    int64_t n, inner;
    const nb_real *x, *y, *dy;
    nb_real *out;   /* y (forward) or dx (backward) */
    nb_real *m, *s; /* per column scratch (general path) */
} job;

static inline nb_real maxr(nb_real a, nb_real b) { return nb_act_sel(a > b, a, b); }

static inline nb_real lane_max(const nb_real *v, int64_t n)
{
    nb_real acc[NB_LANES];
    for (int k = 0; k < NB_LANES; k++)
        acc[k] = v[0];
    int64_t i = 0;
    for (; i + NB_LANES <= n; i += NB_LANES)
        for (int k = 0; k < NB_LANES; k++)
            acc[k] = maxr(v[i + k], acc[k]);
    for (int k = 0; i < n; i++, k++)
        acc[k] = maxr(v[i], acc[k]);
    for (int k = 1; k < NB_LANES; k++)
        acc[0] = maxr(acc[k], acc[0]);
    return acc[0];
}

/* ---- last dim, contiguous rows --------------------------------------- */

NB_VECTORIZE static void row_forward(nb_real *restrict y, const nb_real *restrict x, int64_t n, bool log)
{
    nb_real m = lane_max(x, n);
    for (int64_t i = 0; i < n; i++)
        y[i] = nb_vexp(x[i] - m);
    nb_real s = nb_lane_sum(y, n);
    if (log) {
        nb_real lse = nb_vlog(s);
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - m) - lse;
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = y[i] / s;
    }
}

NB_VECTORIZE static void row_backward(nb_real *restrict dx, const nb_real *restrict y,
                                      const nb_real *restrict dy, int64_t n, bool log)
{
    if (log) {
        nb_real s = nb_lane_sum(dy, n);
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] - nb_vexp(y[i]) * s;
    } else {
        nb_real d = nb_lane_dot(dy, y, n);
        for (int64_t i = 0; i < n; i++)
            dx[i] += y[i] * (dy[i] - d);
    }
}

static void rows_forward(void *c, int64_t b, int64_t e)
{
    job *j = c;
    for (int64_t r = b; r < e; r++)
        row_forward(j->out + r * j->n, j->x + r * j->n, j->n, j->log);
}

static void rows_backward(void *c, int64_t b, int64_t e)
{
    job *j = c;
    for (int64_t r = b; r < e; r++)
        row_backward(j->out + r * j->n, j->y + r * j->n, j->dy + r * j->n, j->n, j->log);
}

/* ---- any other dim: columns [i0, i1) of one outer slice --------------- */

NB_VECTORIZE static void cols_forward(const job *j, int64_t o, int64_t i0, int64_t i1)
{
    int64_t n = j->n, inner = j->inner, w = i1 - i0, base = o * n * inner + i0;
    const nb_real *restrict x = j->x + base;
    nb_real *restrict y = j->out + base;
    nb_real *restrict m = j->m + o * inner + i0, *restrict s = j->s + o * inner + i0;
    for (int64_t i = 0; i < w; i++) {
        m[i] = x[i];
        s[i] = 0;
    }
    for (int64_t r = 1; r < n; r++)
        for (int64_t i = 0; i < w; i++)
            m[i] = maxr(x[r * inner + i], m[i]);
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < w; i++) {
            nb_real e = nb_vexp(x[r * inner + i] - m[i]);
            y[r * inner + i] = e;
            s[i] += e;
        }
    if (j->log) {
        for (int64_t i = 0; i < w; i++)
            s[i] = nb_vlog(s[i]);
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                y[r * inner + i] = (x[r * inner + i] - m[i]) - s[i];
    } else {
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                y[r * inner + i] = y[r * inner + i] / s[i];
    }
}

NB_VECTORIZE static void cols_backward(const job *j, int64_t o, int64_t i0, int64_t i1)
{
    int64_t n = j->n, inner = j->inner, w = i1 - i0, base = o * n * inner + i0;
    const nb_real *restrict y = j->y + base, *restrict dy = j->dy + base;
    nb_real *restrict dx = j->out + base;
    nb_real *restrict s = j->s + o * inner + i0;
    for (int64_t i = 0; i < w; i++)
        s[i] = 0;
    if (j->log) {
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                s[i] += dy[r * inner + i];
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                dx[r * inner + i] += dy[r * inner + i] - nb_vexp(y[r * inner + i]) * s[i];
    } else {
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                s[i] += dy[r * inner + i] * y[r * inner + i];
        for (int64_t r = 0; r < n; r++)
            for (int64_t i = 0; i < w; i++)
                dx[r * inner + i] += y[r * inner + i] * (dy[r * inner + i] - s[i]);
    }
}

/* Columns are numbered o * inner + i; a range is cut where o changes. */
static void cols_range(void *c, int64_t b, int64_t e, bool backward)
{
    job *j = c;
    while (b < e) {
        int64_t o = b / j->inner, i0 = b % j->inner;
        int64_t i1 = e - o * j->inner < j->inner ? e - o * j->inner : j->inner;
        if (backward)
            cols_backward(j, o, i0, i1);
        else
            cols_forward(j, o, i0, i1);
        b = o * j->inner + i1;
    }
}

static void cols_forward_range(void *c, int64_t b, int64_t e) { cols_range(c, b, e, false); }
static void cols_backward_range(void *c, int64_t b, int64_t e) { cols_range(c, b, e, true); }

/* ---- the op ----------------------------------------------------------- */

static int64_t grain_for(int64_t n) { return n >= GRAIN ? 1 : GRAIN / (n > 0 ? n : 1); }

/* x seen as [outer, n, inner], normalised over n. */
typedef struct softmax_saved {
    int64_t outer, n, inner;
} softmax_saved;

static void softmax_backward(nb_node *node)
{
    const sm_op *op = (const sm_op *)node->op;
    const softmax_saved *s = node->saved;
    nb_real *dx = nb_input_grad(node, 0);
    if (!dx)
        return;
    int64_t outer = s->outer, n = s->n, inner = s->inner;
    job j = {.log = op->log, .n = n, .inner = inner, .y = node->out->data, .dy = node->out->grad, .out = dx};
    if (inner == 1) {
        nb_parallel_for(outer, grain_for(n), rows_backward, &j);
        return;
    }
    j.s = nb_step_alloc((size_t)(outer * inner) * sizeof(nb_real));
    if (!j.s) {
        nb_error(NB_ERR_MEMORY, "%s backward: out of memory for %lld column sums", op->op.name,
                 (long long)(outer * inner));
        return;
    }
    nb_parallel_for(outer * inner, grain_for(n), cols_backward_range, &j);
}

static const sm_op op_softmax = {{"softmax", softmax_backward}, false};
static const sm_op op_log_softmax = {{"log_softmax", softmax_backward}, true};

static nb_tensor *softmax_impl(const sm_op *op, nb_tensor *x, int dim)
{
    const char *name = op->op.name;
    if (!nb_check_input(name, 1, x))
        return NULL;
    /* a rank-0 tensor is one row of one element (PyTorch accepts dim 0 or -1) */
    int d = x->ndim == 0 ? (dim == 0 || dim == -1 ? 0 : -1) : nb_norm_dim(dim, x->ndim);
    if (d < 0)
        return nb_error(NB_ERR_ARG, "%s: x %s: dim %d is out of range for rank %d", name, nb_shape_fmt(x),
                        dim, x->ndim);
    int64_t n = x->ndim ? x->shape[d] : 1, outer = 1, inner = 1;
    for (int i = 0; i < d; i++)
        outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++)
        inner *= x->shape[i];
    nb_tensor *y = nb_tensor_alloc(name, x->ndim, x->shape, false);
    if (!y)
        return NULL;
    job j = {.log = op->log, .n = n, .inner = inner, .x = x->data, .out = y->data};
    if (x->numel > 0 && inner == 1) {
        nb_parallel_for(outer, grain_for(n), rows_forward, &j);
    } else if (x->numel > 0) {
        j.m = nb_step_alloc((size_t)(2 * outer * inner) * sizeof(nb_real));
        if (!j.m)
            return nb_error(NB_ERR_MEMORY, "%s: x %s: out of memory for column maxima", name,
                            nb_shape_fmt(x));
        j.s = j.m + outer * inner;
        nb_parallel_for(outer * inner, grain_for(n), cols_forward_range, &j);
    }
    nb_node *node = nb_record_saved(&op->op, y, 1, &x, sizeof(softmax_saved));
    if (node)
        *(softmax_saved *)node->saved = (softmax_saved){outer, n, inner};
    return y;
}

nb_tensor *nb_softmax(nb_tensor *x, int dim) { return softmax_impl(&op_softmax, x, dim); }
nb_tensor *nb_log_softmax(nb_tensor *x, int dim) { return softmax_impl(&op_log_softmax, x, dim); }

/* ---- registry entries: param "dim", default -1 (the last) -------------- */

static nb_tensor *apply_softmax(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)w;
    return nb_softmax(x, (int)p[0]);
}

static nb_tensor *apply_log_softmax(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)w;
    return nb_log_softmax(x, (int)p[0]);
}

const nb_activation nb_act_softmax = {.name = "softmax",
                                      .class_name = "Softmax",
                                      .n_params = 1,
                                      .param_names = {"dim"},
                                      .defaults = {-1},
                                      .apply = apply_softmax,
                                      .pointwise = false};

const nb_activation nb_act_log_softmax = {.name = "log_softmax",
                                          .class_name = "LogSoftmax",
                                          .n_params = 1,
                                          .param_names = {"dim"},
                                          .defaults = {-1},
                                          .apply = apply_log_softmax,
                                          .pointwise = false};
