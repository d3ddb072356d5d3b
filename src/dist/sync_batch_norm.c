/* dist/sync_batch_norm.c — torch.nn.SyncBatchNorm: BatchNorm whose batch
 * statistics in training are those of the global batch, over every rank's
 * rows, so that W ranks of G / W rows normalise as one process of G rows.
 *
 * Built from ops and one differentiable all-reduce (below), so autograd
 * gives the backward, which all-reduces the gradients of the statistics as
 * torch's SyncBatchNorm backward does. In training, per channel c over the
 * n_r rows and positions of each rank r (n = sum of the n_r):
 *
 *   mean_c = all_reduce(sum x) / n
 *   var_c  = all_reduce(sum (x - mean_c)^2) / n       (two passes, biased)
 *   y      = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
 *   running = (1 - momentum) running + momentum stat  (var: times n / (n - 1))
 *
 * In eval mode, F.batch_norm with the running statistics (no communication). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dist/group.h"
#include "nabla/autograd.h"
#include "nabla/ops.h"

/* y = the sum over the ranks of x (in rank order); dL/dx = the sum over the
 * ranks of dL/dy (torch.distributed.nn.functional.all_reduce). */
static void all_reduce_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    nb_tensor *g = nb_op_output(n->out->ndim, n->out->shape);
    if (!dx || !g)
        return;
    memcpy(g->data, n->out->grad, (size_t)g->numel * sizeof(nb_real));
    if (nb_dist_all_reduce_sum(g) != 0)
        return;
    for (int64_t i = 0; i < g->numel; i++)
        dx[i] += g->data[i];
}
static const nb_op op_all_reduce = {"dist_all_reduce", all_reduce_backward};

static nb_tensor *all_reduce(nb_tensor *x)
{
    if (!nb_check_input("dist_all_reduce", 1, x))
        return NULL;
    nb_tensor *y = nb_op_output(x->ndim, x->shape);
    if (!y)
        return NULL;
    memcpy(y->data, x->data, (size_t)x->numel * sizeof(nb_real));
    if (nb_dist_all_reduce_sum(y) != 0)
        return NULL;
    nb_record(&op_all_reduce, y, 1, &x);
    return y;
}

typedef struct sync_bn {
    int64_t C;
    double eps, momentum;
    nb_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
} sync_bn;

/* Per channel of x3 [N, C, L]: the sum over N and L, as [1, C, 1]. */
static nb_tensor *channel_sum(nb_tensor *x3) { return nb_sum_dim(nb_sum_dim(x3, 2, true), 0, true); }

static nb_tensor *sync_bn_forward(nb_module *m, nb_tensor *x)
{
    sync_bn *s = m->user;
    if (!nb_check_input("SyncBatchNorm", 1, x))
        return NULL;
    if (x->ndim < 2 || x->shape[1] != s->C) {
        char shape[8 + 21 * NB_MAX_DIMS];
        return nb_error(NB_ERR_SHAPE, "SyncBatchNorm: expected input [N, %lld, *], got %s", (long long)s->C,
                        nb_shape_str(x, shape, sizeof shape));
    }
    if (!m->training)
        return nb_batch_norm(x, s->running_mean, s->running_var, s->weight, s->bias, false, s->momentum,
                             s->eps);
    int64_t L = x->numel / (x->shape[0] * s->C > 0 ? x->shape[0] * s->C : 1);
    nb_tensor *x3 = nb_reshape(x, NB_SHAPE(x->shape[0], s->C, L));
    nb_tensor *count = nb_full(NB_SHAPE(1), (nb_real)(x->shape[0] * L));
    if (!x3 || !count || nb_dist_all_reduce_sum(count) != 0) {
        nb_free(count);
        return NULL;
    }
    double n = count->data[0];
    nb_free(count);
    if (!(n > 1))
        return nb_error(
            NB_ERR_SHAPE,
            "SyncBatchNorm: expected more than 1 value per channel over all ranks in training, got %g", n);
    nb_tensor *mean = nb_mul_scalar(all_reduce(channel_sum(x3)), (nb_real)(1 / n));
    nb_tensor *d = nb_sub(x3, mean);
    nb_tensor *var = nb_mul_scalar(all_reduce(channel_sum(nb_mul(d, d))), (nb_real)(1 / n));
    nb_tensor *y = nb_div(d, nb_sqrt(nb_add_scalar(var, (nb_real)s->eps)));
    if (y && s->weight)
        y = nb_add(nb_mul(y, nb_reshape(s->weight, NB_SHAPE(1, s->C, 1))),
                   nb_reshape(s->bias, NB_SHAPE(1, s->C, 1)));
    if (!y)
        return NULL;
    s->num_batches_tracked->data[0] += 1;
    double mo = s->momentum;
    for (int64_t c = 0; c < s->C; c++) {
        s->running_mean->data[c] = (nb_real)((1 - mo) * s->running_mean->data[c] + mo * mean->data[c]);
        s->running_var->data[c] =
            (nb_real)((1 - mo) * s->running_var->data[c] + mo * var->data[c] * n / (n - 1));
    }
    return nb_reshape(y, x->ndim, x->shape);
}

nb_module *nb_sync_batch_norm_ex(int64_t num_features, double eps, double momentum)
{
    if (num_features < 1 || !(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return nb_error(NB_ERR_ARG,
                        "SyncBatchNorm: num_features %lld must be >= 1, eps %g > 0, momentum %g in [0, 1]",
                        (long long)num_features, eps, momentum);
    sync_bn *s = calloc(1, sizeof *s);
    nb_module *m = s ? nb_module_new("SyncBatchNorm", sync_bn_forward, s) : NULL;
    if (!m) {
        free(s);
        return nb_error(NB_ERR_MEMORY, "SyncBatchNorm: out of memory");
    }
    m->free_user = free;
    *s = (sync_bn){.C = num_features, .eps = eps, .momentum = momentum};
    int64_t C = num_features;
    /* torch.nn.SyncBatchNorm's parameters and buffers, under BatchNorm's names */
    bool ok = (s->weight = nb_module_param(m, "weight", nb_ones(NB_SHAPE(C)))) &&
              (s->bias = nb_module_param(m, "bias", nb_zeros(NB_SHAPE(C)))) &&
              (s->running_mean = nb_module_buffer(m, "running_mean", nb_zeros(NB_SHAPE(C)))) &&
              (s->running_var = nb_module_buffer(m, "running_var", nb_ones(NB_SHAPE(C)))) &&
              (s->num_batches_tracked = nb_module_buffer(m, "num_batches_tracked", nb_zeros(0, NULL)));
    if (!ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_sync_batch_norm(int64_t num_features) { return nb_sync_batch_norm_ex(num_features, 1e-5, 0.1); }
