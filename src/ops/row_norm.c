/* ops/row_norm.c — the normalizations whose statistics are taken over
 * contiguous rows of K elements, one kernel for three ops:
 *   layer_norm  (torch.nn.functional.layer_norm)  rows: the last dims (normalized_shape);
 *               weight, bias of normalized_shape
 *   group_norm  (torch.nn.functional.group_norm)  x [N, C, *]: row (n, g) holds the
 *               C/G channels of group g of sample n; weight, bias [C]
 *   rms_norm    (torch.nn.functional.rms_norm)    rows as layer_norm, not centred; weight only
 * With mu = mean(x) over the row (0 for rms_norm) and
 *   invstd = 1 / sqrt(mean((x - mu)^2) + eps),   xhat = (x - mu) invstd,
 *   y = xhat w_ch + b_ch,
 * ch being the affine channel of the element. Backward in one pass per row,
 * with g = dy w_ch (derivation: the chain rule through mu and invstd):
 *   centred:  dx = invstd (g - mean(g) - xhat mean(g xhat))
 *   rms:      dx = invstd (g - xhat mean(g xhat))
 * and per channel dw = sum dy xhat, db = sum dy over the elements it scales. */
#include <math.h>
#include <string.h>
#include "kernels/lanesum.h"
#include "kernels/simd.h"
#include "nabla/threads.h"
#include "ops/op.h"

typedef struct row_norm_saved {
    int64_t R, K;      /* rows and their length */
    int64_t G, CpG, S; /* element k of row r scales by channel (r % G) CpG + k / S */
    bool center;       /* subtract the mean (layer_norm, group_norm) or not (rms_norm) */
    int w_in, b_in;    /* weight's and bias's input numbers, -1 when absent */
    nb_real *mean;     /* [R] mu of each row */
    nb_real *invstd;   /* [R] */
} row_norm_saved;

typedef struct rn_job {
    const row_norm_saved *s;
    const nb_real *x, *w, *b, *dy;
    nb_real *y, *dx, *dw, *db;
    double eps;
    bool dx_fresh; /* dx holds nothing of this pass yet: stored, not added to */
} rn_job;

/* The rows' loops, one row at a time: w and b point at the row's first
 * channel (r % G) CpG, element k of the row being scaled by channel k / S
 * (S is 1 for layer_norm and rms_norm: the affine parameters are then read
 * as contiguous vectors). The sums are lane sums in double
 * (kernels/lanesum.h): vectorized, their order fixed by the code, so the
 * same for any thread count and instruction set. Inlined into each caller
 * twice, once with S = 1 as a constant. */
#define RN_KERNEL static inline __attribute__((always_inline))

RN_KERNEL double w_at(const nb_real *w, int64_t k, int64_t S) { return w ? w[S == 1 ? k : k / S] : 1; }

RN_KERNEL void forward_row(const nb_real *restrict x, nb_real *restrict y, const nb_real *restrict w,
                           const nb_real *restrict b, int64_t K, int64_t S, bool center, double eps,
                           nb_real *mean, nb_real *invstd_out)
{
    double mu = 0, sq;
    if (center) {
        NB_LANE_SUM_AS(double, mu, K, (double)x[nb_i]);
        mu /= (double)K;
    }
    NB_LANE_SUM_AS(double, sq, K, ((double)x[nb_i] - mu) * ((double)x[nb_i] - mu));
    double invstd = 1 / sqrt(sq / (double)K + eps);
    *mean = (nb_real)mu;
    *invstd_out = (nb_real)invstd;
    for (int64_t k = 0; k < K; k++)
        y[k] = (nb_real)(((double)x[k] - mu) * invstd * w_at(w, k, S) + (b ? b[S == 1 ? k : k / S] : 0));
}

/* dx = invstd (g - mean(g) - xhat mean(g xhat)), g = dy w (stored, or added). */
RN_KERNEL void input_grad_row(const nb_real *restrict x, const nb_real *restrict dy,
                              const nb_real *restrict w, nb_real *restrict dx, int64_t K, int64_t S,
                              bool center, double mu, double invstd, bool store)
{
    double sum_g, sum_g_xhat;
    NB_LANE_SUM_AS(double, sum_g, K, dy[nb_i] * w_at(w, nb_i, S));
    NB_LANE_SUM_AS(double, sum_g_xhat, K, dy[nb_i] * w_at(w, nb_i, S) * ((x[nb_i] - mu) * invstd));
    double mean_g = center ? sum_g / (double)K : 0, mean_g_xhat = sum_g_xhat / (double)K;
#define RN_DX(k) ((nb_real)(invstd * (dy[k] * w_at(w, k, S) - mean_g - (x[k] - mu) * invstd * mean_g_xhat)))
    if (store)
        for (int64_t k = 0; k < K; k++)
            dx[k] = RN_DX(k);
    else
        for (int64_t k = 0; k < K; k++)
            dx[k] += RN_DX(k);
#undef RN_DX
}

NB_VECTORIZE static void rn_forward(void *ctx, int64_t r0, int64_t r1)
{
    rn_job *j = ctx;
    const row_norm_saved *s = j->s;
    for (int64_t r = r0; r < r1; r++) {
        int64_t c0 = (r % s->G) * s->CpG;
        const nb_real *w = j->w ? j->w + c0 : NULL, *b = j->b ? j->b + c0 : NULL;
        const nb_real *x = j->x + r * s->K;
        nb_real *y = j->y + r * s->K;
        if (s->S == 1)
            forward_row(x, y, w, b, s->K, 1, s->center, j->eps, s->mean + r, s->invstd + r);
        else
            forward_row(x, y, w, b, s->K, s->S, s->center, j->eps, s->mean + r, s->invstd + r);
    }
}

NB_VECTORIZE static void rn_input_grad(void *ctx, int64_t r0, int64_t r1)
{
    rn_job *j = ctx;
    const row_norm_saved *s = j->s;
    for (int64_t r = r0; r < r1; r++) {
        const nb_real *w = j->w ? j->w + (r % s->G) * s->CpG : NULL;
        const nb_real *x = j->x + r * s->K, *dy = j->dy + r * s->K;
        nb_real *dx = j->dx + r * s->K;
        if (s->S == 1)
            input_grad_row(x, dy, w, dx, s->K, 1, s->center, s->mean[r], s->invstd[r], j->dx_fresh);
        else
            input_grad_row(x, dy, w, dx, s->K, s->S, s->center, s->mean[r], s->invstd[r], j->dx_fresh);
    }
}

enum { AFFINE_BLOCK = 64 }; /* channels summed side by side, rows outer (layer_norm, rms_norm) */

/* dw, db of channels [c0, c1): each sums, in row order, the elements it
 * scales. With S == 1 and one group (layer_norm, rms_norm) channel c is
 * column c of every row: blocks of columns are summed row after row, which
 * vectorizes over the columns and gives each channel the same sequence of
 * additions. */
NB_VECTORIZE static void rn_affine_grad(void *ctx, int64_t c0, int64_t c1)
{
    rn_job *j = ctx;
    const row_norm_saved *s = j->s;
    if (s->S == 1 && s->G == 1) {
        for (int64_t cb = c0; cb < c1; cb += AFFINE_BLOCK) {
            int64_t n = c1 - cb < AFFINE_BLOCK ? c1 - cb : AFFINE_BLOCK;
            double sw[AFFINE_BLOCK] = {0}, sb[AFFINE_BLOCK] = {0};
            for (int64_t r = 0; r < s->R; r++) {
                const nb_real *x = j->x + r * s->K + cb, *dy = j->dy + r * s->K + cb;
                double mu = s->mean[r], invstd = s->invstd[r];
                for (int64_t k = 0; k < n; k++) {
                    sw[k] += dy[k] * (x[k] - mu) * invstd;
                    sb[k] += dy[k];
                }
            }
            for (int64_t k = 0; k < n; k++) {
                if (j->dw)
                    j->dw[cb + k] += (nb_real)sw[k];
                if (j->db)
                    j->db[cb + k] += (nb_real)sb[k];
            }
        }
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        int64_t g = c / s->CpG, k0 = (c % s->CpG) * s->S;
        double sw = 0, sb = 0;
        for (int64_t r = g; r < s->R; r += s->G) {
            const nb_real *x = j->x + r * s->K, *dy = j->dy + r * s->K;
            double mu = s->mean[r], invstd = s->invstd[r];
            for (int64_t k = k0; k < k0 + s->S; k++) {
                sw += dy[k] * (x[k] - mu) * invstd;
                sb += dy[k];
            }
        }
        if (j->dw)
            j->dw[c] += (nb_real)sw;
        if (j->db)
            j->db[c] += (nb_real)sb;
    }
}

static void row_norm_backward(nb_node *n)
{
    const row_norm_saved *s = n->saved;
    rn_job j = {.s = s, .x = n->in[0]->data, .dy = n->out->grad};
    j.dx = nb_input_grad_fresh(n, 0, &j.dx_fresh);
    j.w = s->w_in >= 0 ? n->in[s->w_in]->data : NULL;
    j.dw = s->w_in >= 0 ? nb_input_grad(n, s->w_in) : NULL;
    j.db = s->b_in >= 0 ? nb_input_grad(n, s->b_in) : NULL;
    int64_t grain = 1 + (1 << 14) / (s->K ? s->K : 1);
    if (j.dx)
        nb_parallel_for(s->R, grain, rn_input_grad, &j);
    /* layer_norm: at least 16 columns (a cache line of float32) a task, each column read once */
    if (j.dw || j.db)
        nb_parallel_for(s->G * s->CpG, s->S == 1 && s->G == 1 ? 16 : 1, rn_affine_grad, &j);
}

static const nb_op op_layer_norm = {"layer_norm", row_norm_backward};
static const nb_op op_group_norm = {"group_norm", row_norm_backward};
static const nb_op op_rms_norm = {"rms_norm", row_norm_backward};

/* Checks an affine tensor (NULL allowed) against the expected shape. */
static bool affine_ok(const char *op, const char *what, const nb_tensor *t, const nb_tensor *x, int ndim,
                      const int64_t *shape)
{
    if (!t)
        return true;
    if (!nb_check_input(op, 2, t))
        return false;
    if (t->ndim != ndim || memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) != 0) {
        nb_error(NB_ERR_SHAPE, "%s: input %s: %s is %s, expected %s", op, nb_shape_fmt(x), what,
                 nb_shape_fmt(t), nb_dims_fmt(ndim, shape));
        return false;
    }
    return true;
}

static nb_tensor *row_norm(const nb_op *op, nb_tensor *x, nb_tensor *w, nb_tensor *b, row_norm_saved layout,
                           double eps)
{
    if (!(eps > 0))
        return nb_error(NB_ERR_ARG, "%s: eps %g must be > 0", op->name, eps);
    row_norm_saved *s = nb_step_alloc(sizeof *s);
    nb_real *stats = nb_step_alloc(2 * (size_t)(layout.R ? layout.R : 1) * sizeof *stats);
    nb_tensor *y = s && stats ? nb_op_output(x->ndim, x->shape) : NULL;
    if (!y)
        return NULL;
    *s = layout;
    s->w_in = s->b_in = -1;
    s->mean = stats;
    s->invstd = stats + layout.R;
    rn_job j = {
        .s = s, .x = x->data, .y = y->data, .w = w ? w->data : NULL, .b = b ? b->data : NULL, .eps = eps};
    nb_parallel_for(s->R, 1 + (1 << 14) / (s->K ? s->K : 1), rn_forward, &j);
    nb_tensor *in[3] = {x};
    int n_in = 1;
    if (w)
        s->w_in = n_in, in[n_in++] = w;
    if (b)
        s->b_in = n_in, in[n_in++] = b;
    nb_node *n = nb_record(op, y, n_in, in);
    if (n)
        n->saved = s;
    return y;
}

/* Rows over the last `nd` dims of x, which must equal normalized_shape. */
static bool last_dims(const char *op, const nb_tensor *x, int nd, const int64_t *shape, row_norm_saved *l)
{
    if (nd < 1 || nd > x->ndim || !shape ||
        memcmp(x->shape + x->ndim - nd, shape, (size_t)nd * sizeof *shape) != 0) {
        nb_error(NB_ERR_SHAPE, "%s: input %s does not end in normalized_shape %s", op, nb_shape_fmt(x),
                 shape && nd >= 0 && nd <= NB_MAX_DIMS ? nb_dims_fmt(nd, shape) : "(invalid)");
        return false;
    }
    int64_t K = 1;
    for (int k = 0; k < nd; k++)
        K *= shape[k];
    *l = (row_norm_saved){.R = K ? x->numel / K : 0, .K = K, .G = 1, .CpG = K, .S = 1, .center = true};
    return true;
}

nb_tensor *nb_layer_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight,
                         nb_tensor *bias, double eps)
{
    row_norm_saved l;
    if (!nb_check_input("layer_norm", 1, x) || !last_dims("layer_norm", x, nd, normalized_shape, &l) ||
        !affine_ok("layer_norm", "weight", weight, x, nd, normalized_shape) ||
        !affine_ok("layer_norm", "bias", bias, x, nd, normalized_shape))
        return NULL;
    return row_norm(&op_layer_norm, x, weight, bias, l, eps);
}

nb_tensor *nb_rms_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight, double eps)
{
    row_norm_saved l;
    if (!nb_check_input("rms_norm", 1, x) || !last_dims("rms_norm", x, nd, normalized_shape, &l) ||
        !affine_ok("rms_norm", "weight", weight, x, nd, normalized_shape))
        return NULL;
    l.center = false;
    if (isnan(eps)) /* PyTorch's eps=None: torch.finfo(dtype).eps */
        eps = sizeof(nb_real) == sizeof(float) ? 0x1p-23 : 0x1p-52;
    return row_norm(&op_rms_norm, x, weight, NULL, l, eps);
}

nb_tensor *nb_group_norm(nb_tensor *x, int64_t num_groups, nb_tensor *weight, nb_tensor *bias, double eps)
{
    if (!nb_check_input("group_norm", 1, x))
        return NULL;
    if (x->ndim < 2)
        return nb_error(NB_ERR_SHAPE, "group_norm: input %s must be [N, C, *] (rank >= 2)", nb_shape_fmt(x));
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int k = 2; k < x->ndim; k++)
        S *= x->shape[k];
    if (num_groups < 1 || C % num_groups != 0)
        return nb_error(NB_ERR_ARG, "group_norm: input %s: %lld channels cannot be split into %lld groups",
                        nb_shape_fmt(x), (long long)C, (long long)num_groups);
    if (!affine_ok("group_norm", "weight", weight, x, 1, &C) ||
        !affine_ok("group_norm", "bias", bias, x, 1, &C))
        return NULL;
    int64_t CpG = C / num_groups;
    row_norm_saved l = {
        .R = N * num_groups, .K = CpG * S, .G = num_groups, .CpG = CpG, .S = S, .center = true};
    return row_norm(&op_group_norm, x, weight, bias, l, eps);
}
