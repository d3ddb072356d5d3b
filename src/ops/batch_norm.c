/* ops/batch_norm.c — torch.nn.functional.batch_norm over x [N, C, *]: per
 * channel c, over the M = N * prod(*) elements of that channel,
 *   training:  mean_c = sum x / M,  var_c = sum (x - mean_c)^2 / M   (biased)
 *              running_mean = (1 - momentum) running_mean + momentum mean_c
 *              running_var  = (1 - momentum) running_var  + momentum var_c M / (M - 1)
 *   eval:      mean_c = running_mean, var_c = running_var
 *   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
 * (aten/src/ATen/native/Normalization.cpp, batch_norm_cpu_update_stats_template:
 * the running variance takes the unbiased estimate.) Backward in one pass per
 * channel, with xhat = (x - mean) invstd and g = dy weight:
 *   training:  dx = invstd (g - mean(g) - xhat mean(g xhat))   (the statistics depend on x)
 *   eval:      dx = invstd g
 *   dweight = sum dy xhat,  dbias = sum dy. */
#include <math.h>
#include "nabla/threads.h"
#include "ops/op.h"

typedef struct batch_norm_saved {
    int64_t N, C, S; /* x viewed as [N, C, S] */
    bool training;   /* whether mean/invstd are the batch's (so dx has the two extra terms) */
    int w_in, b_in;  /* weight's and bias's input numbers, -1 when absent */
    nb_real *mean;   /* [C] the mean used */
    nb_real *invstd; /* [C] 1 / sqrt(var + eps) */
} batch_norm_saved;

typedef struct bn_job {
    const batch_norm_saved *s;
    const nb_real *x, *w, *b, *dy;
    nb_real *y, *dx, *dw, *db;
    nb_real *running_mean, *running_var;
    double momentum, eps;
} bn_job;

static void bn_stats(void *ctx, int64_t c0, int64_t c1)
{
    bn_job *j = ctx;
    const batch_norm_saved *s = j->s;
    double M = (double)(s->N * s->S);
    for (int64_t c = c0; c < c1; c++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < s->N; n++) {
            const nb_real *xc = j->x + (n * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++)
                sum += xc[i];
        }
        double mean = sum / M;
        for (int64_t n = 0; n < s->N; n++) {
            const nb_real *xc = j->x + (n * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++)
                sq += ((double)xc[i] - mean) * ((double)xc[i] - mean);
        }
        double var = sq / M;
        s->mean[c] = (nb_real)mean;
        s->invstd[c] = (nb_real)(1 / sqrt(var + j->eps));
        if (j->running_mean) {
            j->running_mean[c] = (nb_real)((1 - j->momentum) * j->running_mean[c] + j->momentum * mean);
            j->running_var[c] = (nb_real)((1 - j->momentum) * j->running_var[c] + j->momentum * sq / (M - 1));
        }
    }
}

static void bn_apply(void *ctx, int64_t c0, int64_t c1)
{
    bn_job *j = ctx;
    const batch_norm_saved *s = j->s;
    for (int64_t c = c0; c < c1; c++) {
        nb_real w = j->w ? j->w[c] : 1, b = j->b ? j->b[c] : 0;
        nb_real scale = s->invstd[c] * w, shift = b - s->mean[c] * scale;
        for (int64_t n = 0; n < s->N; n++) {
            const nb_real *xc = j->x + (n * s->C + c) * s->S;
            nb_real *yc = j->y + (n * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++)
                yc[i] = xc[i] * scale + shift;
        }
    }
}

static void bn_grad(void *ctx, int64_t c0, int64_t c1)
{
    bn_job *j = ctx;
    const batch_norm_saved *s = j->s;
    double M = (double)(s->N * s->S);
    for (int64_t c = c0; c < c1; c++) {
        double mean = s->mean[c], invstd = s->invstd[c], sum_dy = 0, sum_dy_xhat = 0;
        for (int64_t n = 0; n < s->N; n++) {
            const nb_real *xc = j->x + (n * s->C + c) * s->S, *dyc = j->dy + (n * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++) {
                sum_dy += dyc[i];
                sum_dy_xhat += dyc[i] * (xc[i] - mean) * invstd;
            }
        }
        if (j->dw)
            j->dw[c] += (nb_real)sum_dy_xhat;
        if (j->db)
            j->db[c] += (nb_real)sum_dy;
        if (!j->dx)
            continue;
        double w = j->w ? j->w[c] : 1, k = invstd * w;
        double mean_dy = s->training ? sum_dy / M : 0, mean_dy_xhat = s->training ? sum_dy_xhat / M : 0;
        for (int64_t n = 0; n < s->N; n++) {
            const nb_real *xc = j->x + (n * s->C + c) * s->S, *dyc = j->dy + (n * s->C + c) * s->S;
            nb_real *dxc = j->dx + (n * s->C + c) * s->S;
            for (int64_t i = 0; i < s->S; i++) {
                double xhat = (xc[i] - mean) * invstd;
                dxc[i] += (nb_real)(k * (dyc[i] - mean_dy - xhat * mean_dy_xhat));
            }
        }
    }
}

static void batch_norm_backward(nb_node *n)
{
    const batch_norm_saved *s = n->saved;
    bn_job j = {.s = s, .x = n->in[0]->data, .dy = n->out->grad, .dx = nb_input_grad(n, 0)};
    j.w = s->w_in >= 0 ? n->in[s->w_in]->data : NULL;
    j.dw = s->w_in >= 0 ? nb_input_grad(n, s->w_in) : NULL;
    j.db = s->b_in >= 0 ? nb_input_grad(n, s->b_in) : NULL;
    nb_parallel_for(s->C, 1, bn_grad, &j);
}

static const nb_op op_batch_norm = {"batch_norm", batch_norm_backward};

/* A [C] tensor argument, or NULL: true when usable. */
static bool channel_vector(const char *what, const nb_tensor *t, const nb_tensor *x, int64_t C)
{
    if (!t)
        return true;
    if (!nb_check_input("batch_norm", 2, t))
        return false;
    if (t->ndim != 1 || t->shape[0] != C) {
        nb_error(NB_ERR_SHAPE, "batch_norm: input %s has %lld channels but %s is %s (expected [%lld])",
                 nb_shape_fmt(x), (long long)C, what, nb_shape_fmt(t), (long long)C);
        return false;
    }
    return true;
}

nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var, nb_tensor *weight,
                         nb_tensor *bias, bool training, double momentum, double eps)
{
    if (!nb_check_input("batch_norm", 1, x))
        return NULL;
    if (x->ndim < 2)
        return nb_error(NB_ERR_SHAPE, "batch_norm: input %s must be [N, C, *] (rank >= 2)", nb_shape_fmt(x));
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int k = 2; k < x->ndim; k++)
        S *= x->shape[k];
    if (!channel_vector("running_mean", running_mean, x, C) ||
        !channel_vector("running_var", running_var, x, C) || !channel_vector("weight", weight, x, C) ||
        !channel_vector("bias", bias, x, C))
        return NULL;
    if (!running_mean != !running_var)
        return nb_error(NB_ERR_ARG,
                        "batch_norm: running_mean and running_var must both be given or both NULL");
    if (!training && !running_mean)
        return nb_error(NB_ERR_ARG,
                        "batch_norm: eval mode (training false) needs running_mean and running_var");
    if (training && N * S <= 1)
        return nb_error(NB_ERR_SHAPE,
                        "batch_norm: input %s: expected more than 1 value per channel when training",
                        nb_shape_fmt(x));
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return nb_error(NB_ERR_ARG, "batch_norm: eps %g must be > 0 and momentum %g in [0, 1]", eps,
                        momentum);
    batch_norm_saved *s = nb_step_alloc(sizeof *s);
    nb_real *stats = nb_step_alloc(2 * (size_t)(C ? C : 1) * sizeof *stats);
    nb_tensor *y = s && stats ? nb_op_output(x->ndim, x->shape) : NULL;
    if (!y)
        return NULL;
    *s = (batch_norm_saved){.N = N,
                            .C = C,
                            .S = S,
                            .training = training,
                            .w_in = -1,
                            .b_in = -1,
                            .mean = stats,
                            .invstd = stats + C};
    bn_job j = {.s = s,
                .x = x->data,
                .y = y->data,
                .w = weight ? weight->data : NULL,
                .b = bias ? bias->data : NULL,
                .momentum = momentum,
                .eps = eps};
    if (training) {
        j.running_mean = running_mean ? running_mean->data : NULL;
        j.running_var = running_var ? running_var->data : NULL;
        nb_parallel_for(C, 1, bn_stats, &j);
    } else {
        for (int64_t c = 0; c < C; c++) {
            s->mean[c] = running_mean->data[c];
            s->invstd[c] = (nb_real)(1 / sqrt((double)running_var->data[c] + eps));
        }
    }
    nb_parallel_for(C, 1, bn_apply, &j);
    nb_tensor *in[3] = {x};
    int n_in = 1;
    if (weight)
        s->w_in = n_in, in[n_in++] = weight;
    if (bias)
        s->b_in = n_in, in[n_in++] = bias;
    nb_node *n = nb_record(&op_batch_norm, y, n_in, in);
    if (n)
        n->saved = s;
    return y;
}
