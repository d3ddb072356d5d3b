/* loss/cross_entropy.c — cross-entropy over class indices as one fused node
 * (log-softmax + NLL), with PyTorch's class weights, label smoothing and
 * ignore_index.
 *
 * Row i with logits x, class y, C classes, ε the label smoothing, w the class
 * weights (ones without) and W = Σ_c w_c:
 *   lse    = m + log Σ_c e^(x_c - m),  m = max_c x_c    (no overflow at any x)
 *   loss_i = (1 - ε) w_y (lse - x_y) + (ε / C) Σ_c w_c (lse - x_c)
 * which is (1 - ε) nll + (ε / C) Σ_c -w_c log p_c, the formula of
 * cross_entropy_loss_label_smoothing in aten/src/ATen/native/LossNLL.cpp
 * (the smoothing term uses the same ignore mask, and the mean of both terms
 * divides by Σ_i w[y_i] over the rows not ignored, as nll_loss's does).
 * Backward, with g_i the upstream gradient of row i (/ that divisor for mean):
 *   ∂loss_i/∂x_c = ((1 - ε) w_y + ε W / C) p_c - (1 - ε) w_y [c = y] - ε w_c / C,
 *   p_c = e^(x_c - lse), computed row by row from the saved lse: nothing of
 *   size [N, C] is built. */
#include <math.h>
#include "nabla/threads.h"
#include "kernels/vmath.h"
#include "loss/loss.h"

enum { LANES = 16, GRAIN = 1 << 14 };

typedef struct saved {
    nb_class_target ct;
    nb_real *lse; /* per row */
    double eps;
    nb_reduction reduction;
} saved;

NB_VECTORIZE static nb_real row_lse(const nb_real *restrict x, int64_t c)
{
    nb_real m = x[0];
    for (int64_t k = 1; k < c; k++)
        m = x[k] > m ? x[k] : m;
    double acc[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= c; k += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += (double)nb_vexp(x[k + j] - m);
    for (int j = 0; k < c; k++, j++)
        acc[j] += (double)nb_vexp(x[k] - m);
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return (nb_real)((double)m + log(acc[0]));
}

/* Σ_k w_k x_k in double, in a fixed order (the same for any thread count). */
static double weighted_sum(const nb_real *x, const nb_real *w, int64_t c)
{
    double s = 0;
    for (int64_t k = 0; k < c; k++)
        s += (double)w[k] * (double)x[k];
    return s;
}

typedef struct job {
    const saved *s;
    const nb_real *x, *dy;
    nb_real *l, *dx;
    nb_real g; /* the upstream gradient of every row when reduced */
} job;

static void forward_rows(void *c, int64_t b, int64_t e)
{
    job *j = c;
    const saved *s = j->s;
    int64_t nc = s->ct.c;
    for (int64_t i = b; i < e; i++) {
        const nb_real *x = j->x + i * nc;
        nb_real lse = s->lse[i] = row_lse(x, nc);
        int64_t y = s->ct.y[i];
        if (y < 0) {
            j->l[i] = 0;
            continue;
        }
        double loss = (double)nb_class_weight(&s->ct, y) * ((double)lse - (double)x[y]);
        if (s->eps > 0) {
            /* Σ_c w_c (lse - x_c) = W lse - Σ_c w_c x_c */
            double wx = s->ct.w ? weighted_sum(x, s->ct.w, nc) : nb_loss_sum(x, nc);
            loss = (1 - s->eps) * loss + s->eps / (double)nc * (s->ct.w_total * (double)lse - wx);
        }
        j->l[i] = (nb_real)loss;
    }
}

NB_VECTORIZE static void row_grad(nb_real *restrict dx, const nb_real *restrict x, int64_t c, nb_real lse,
                                  nb_real g, nb_real smooth)
{
    for (int64_t k = 0; k < c; k++)
        dx[k] += g * (nb_vexp(x[k] - lse) - smooth);
}

/* The same with class weights: dx_k += g (a p_k - smooth w_k). */
NB_VECTORIZE static void row_grad_weighted(nb_real *restrict dx, const nb_real *restrict x,
                                           const nb_real *restrict w, int64_t c, nb_real lse, nb_real g,
                                           nb_real a, nb_real smooth)
{
    for (int64_t k = 0; k < c; k++)
        dx[k] += g * (a * nb_vexp(x[k] - lse) - smooth * w[k]);
}

static void backward_rows(void *c, int64_t b, int64_t e)
{
    job *j = c;
    const saved *s = j->s;
    int64_t nc = s->ct.c;
    nb_real smooth = (nb_real)(s->eps / (double)nc), hit = (nb_real)(1 - s->eps);
    for (int64_t i = b; i < e; i++) {
        int64_t y = s->ct.y[i];
        if (y < 0)
            continue;
        nb_real g = s->reduction == NB_NONE ? j->dy[i] : j->g;
        nb_real *dx = j->dx + i * nc;
        if (s->ct.w) {
            nb_real wy = s->ct.w[y];
            nb_real a = (nb_real)((1 - s->eps) * (double)wy + s->eps * s->ct.w_total / (double)nc);
            row_grad_weighted(dx, j->x + i * nc, s->ct.w, nc, s->lse[i], g, a, smooth);
            dx[y] -= g * hit * wy;
        } else {
            row_grad(dx, j->x + i * nc, nc, s->lse[i], g, smooth);
            dx[y] -= g * hit;
        }
    }
}

static int64_t row_grain(int64_t c) { return c >= GRAIN ? 1 : GRAIN / c; }

static void ce_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const saved *s = n->saved;
    const nb_real *dy = n->out->grad;
    job j = {.s = s,
             .x = n->in[0]->data,
             .dy = dy,
             .dx = dx,
             .g = s->reduction == NB_MEAN ? (nb_real)((double)dy[0] / s->ct.divisor) : dy[0]};
    nb_parallel_for(s->ct.n, row_grain(s->ct.c), backward_rows, &j);
}

static const nb_op op_ce = {"cross_entropy", ce_backward};

nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *target, nb_cross_entropy_opts opts)
{
    const char *op = op_ce.name;
    if (!nb_check_input(op, 1, logits) || !nb_check_input(op, 2, target))
        return NULL;
    if (!nb_opts_made(op, opts.nb_tag, "cross_entropy") || !nb_check_reduction(op, opts.reduction))
        return NULL;
    if (!(opts.label_smoothing >= 0 && opts.label_smoothing <= 1))
        return nb_error(NB_ERR_ARG, "%s: label_smoothing %g is outside [0, 1]", op, opts.label_smoothing);
    saved *s = nb_step_alloc(sizeof *s);
    if (!s || !nb_class_target_read(op, logits, target, opts.weight, opts.ignore_index, &s->ct))
        return NULL;
    s->eps = opts.label_smoothing;
    s->reduction = opts.reduction;
    s->lse = nb_step_alloc((size_t)s->ct.n * sizeof *s->lse + 1);
    nb_real *l = nb_step_alloc((size_t)s->ct.n * sizeof *l + 1);
    if (!s->lse || !l)
        return NULL;
    job j = {.s = s, .x = logits->data, .l = l};
    nb_parallel_for(s->ct.n, row_grain(s->ct.c), forward_rows, &j);
    nb_tensor *y = nb_class_loss_output(op, &s->ct, l, opts.reduction);
    nb_node *n = nb_record(&op_ce, y, 1, &logits);
    if (n)
        n->saved = s;
    return y;
}

nb_cross_entropy_opts nb_cross_entropy_defaults(void) { return NB_CROSS_ENTROPY_OPTS(); }
