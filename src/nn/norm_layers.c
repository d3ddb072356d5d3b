/* nn/norm_layers.c — torch.nn.BatchNorm1d/2d, LayerNorm, GroupNorm and RMSNorm
 * as modules over the ops of ops/batch_norm.c and ops/row_norm.c, with
 * PyTorch's parameters, buffers and defaults (torch/nn/modules/batchnorm.py,
 * normalization.py): weight ones, bias zeros, running_mean zeros, running_var
 * ones, num_batches_tracked 0; eps 1e-5 (RMSNorm: None, the dtype's epsilon);
 * momentum 0.1, None (NAN here) meaning the cumulative average. */
#include <math.h>
#include "nabla/norm.h"
#include "nn/layer.h"

typedef struct batch_norm_state {
    int dims; /* 1 or 2: the input ranks accepted */
    int64_t num_features;
    double eps, momentum;                                        /* momentum NAN: cumulative moving average */
    nb_tensor *weight, *bias;                                    /* NULL unless affine */
    nb_tensor *running_mean, *running_var, *num_batches_tracked; /* NULL unless tracking */
} batch_norm_state;

static nb_tensor *batch_norm_forward(nb_module *m, nb_tensor *x)
{
    batch_norm_state *s = m->user;
    bool rank_ok = s->dims == 1 ? x->ndim == 2 || x->ndim == 3 : x->ndim == 4;
    if (!rank_ok)
        return nb_error(NB_ERR_SHAPE, "%s: expected %s input, got %s", m->kind,
                        s->dims == 1 ? "[N, C] or [N, C, L]" : "[N, C, H, W]", nb_shape_fmt(x));
    /* As BatchNorm's forward: count the batch, then the factor of the running update. */
    double factor = isnan(s->momentum) ? 0 : s->momentum;
    if (m->training && s->num_batches_tracked) {
        s->num_batches_tracked->data[0] += 1;
        if (isnan(s->momentum))
            factor = 1 / (double)s->num_batches_tracked->data[0];
    }
    bool batch_stats = m->training || !s->running_mean;
    return nb_batch_norm(x, s->running_mean, s->running_var, s->weight, s->bias, batch_stats, factor, s->eps);
}

/* torch.nn's "16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True" */
static void batch_norm_repr(const nb_module *m, char *buf, size_t size)
{
    const batch_norm_state *s = m->user;
    char momentum[32] = "None";
    if (!isnan(s->momentum))
        snprintf(momentum, sizeof momentum, "%g", s->momentum);
    snprintf(buf, size, "%lld, eps=%g, momentum=%s, affine=%s, track_running_stats=%s",
             (long long)s->num_features, s->eps, momentum, s->weight ? "True" : "False",
             s->running_mean ? "True" : "False");
}

static nb_module *batch_norm_layer(const char *kind, int dims, int64_t C, double eps, double momentum,
                                   bool affine, bool track)
{
    if (C < 1 || !(eps > 0) || !(isnan(momentum) || (momentum >= 0 && momentum <= 1)))
        return nb_error(NB_ERR_ARG,
                        "%s: num_features %lld must be >= 1, eps %g > 0, momentum %g in [0, 1] or NAN", kind,
                        (long long)C, eps, momentum);
    nb_module *m = nb_layer_new(kind, batch_norm_forward, sizeof(batch_norm_state));
    if (!m)
        return NULL;
    batch_norm_state *s = m->user;
    *s = (batch_norm_state){.dims = dims, .num_features = C, .eps = eps, .momentum = momentum};
    m->extra_repr = batch_norm_repr;
    bool ok = true;
    if (affine)
        ok = (s->weight = nb_module_param(m, "weight", nb_ones(NB_SHAPE(C)))) &&
             (s->bias = nb_module_param(m, "bias", nb_zeros(NB_SHAPE(C))));
    if (ok && track)
        ok = (s->running_mean = nb_module_buffer(m, "running_mean", nb_zeros(NB_SHAPE(C)))) &&
             (s->running_var = nb_module_buffer(m, "running_var", nb_ones(NB_SHAPE(C)))) &&
             (s->num_batches_tracked = nb_module_buffer(m, "num_batches_tracked", nb_zeros(0, NULL)));
    if (!ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_batch_norm1d(int64_t num_features)
{
    return batch_norm_layer("BatchNorm1d", 1, num_features, 1e-5, 0.1, true, true);
}

nb_module *nb_batch_norm2d(int64_t num_features)
{
    return batch_norm_layer("BatchNorm2d", 2, num_features, 1e-5, 0.1, true, true);
}

nb_module *nb_batch_norm1d_ex(int64_t num_features, double eps, double momentum, bool affine,
                              bool track_running_stats)
{
    return batch_norm_layer("BatchNorm1d", 1, num_features, eps, momentum, affine, track_running_stats);
}

nb_module *nb_batch_norm2d_ex(int64_t num_features, double eps, double momentum, bool affine,
                              bool track_running_stats)
{
    return batch_norm_layer("BatchNorm2d", 2, num_features, eps, momentum, affine, track_running_stats);
}

/* LayerNorm and RMSNorm: the normalized shape, eps and the affine tensors. */
typedef struct last_dims_state {
    int nd;
    int64_t shape[NB_MAX_DIMS];
    double eps;
    nb_tensor *weight, *bias;
} last_dims_state;

static nb_tensor *layer_norm_forward(nb_module *m, nb_tensor *x)
{
    last_dims_state *s = m->user;
    return nb_layer_norm(x, s->nd, s->shape, s->weight, s->bias, s->eps);
}

static nb_tensor *rms_norm_forward(nb_module *m, nb_tensor *x)
{
    last_dims_state *s = m->user;
    return nb_rms_norm(x, s->nd, s->shape, s->weight, s->eps);
}

/* torch.nn's "(8,), eps=1e-05, elementwise_affine=True" (RMSNorm's eps may be None) */
static void last_dims_repr(const nb_module *m, char *buf, size_t size)
{
    const last_dims_state *s = m->user;
    char shape[NB_MAX_DIMS * 24] = "(", eps[32] = "None";
    size_t k = 1;
    for (int i = 0; i < s->nd; i++)
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%lld,%s", (long long)s->shape[i],
                              i + 1 < s->nd ? " " : "");
    snprintf(shape + k, sizeof shape - k, ")");
    if (!isnan(s->eps))
        snprintf(eps, sizeof eps, "%g", s->eps);
    snprintf(buf, size, "%s, eps=%s, elementwise_affine=%s", shape, eps, s->weight ? "True" : "False");
}

static nb_module *last_dims_layer(const char *kind, nb_forward_fn forward, int nd, const int64_t *shape,
                                  double eps, bool affine, bool bias)
{
    if (nd < 1 || nd > NB_MAX_DIMS || !shape || nb_shape_numel(nd, shape) < 1)
        return nb_error(NB_ERR_ARG, "%s: normalized_shape %s must have 1..%d dims, all >= 1", kind,
                        shape && nd >= 1 && nd <= NB_MAX_DIMS ? nb_dims_fmt(nd, shape) : "(invalid)",
                        NB_MAX_DIMS);
    if (!(eps > 0) && !isnan(eps))
        return nb_error(NB_ERR_ARG, "%s: eps %g must be > 0", kind, eps);
    nb_module *m = nb_layer_new(kind, forward, sizeof(last_dims_state));
    if (!m)
        return NULL;
    last_dims_state *s = m->user;
    s->nd = nd;
    s->eps = eps;
    m->extra_repr = last_dims_repr;
    for (int k = 0; k < nd; k++)
        s->shape[k] = shape[k];
    bool ok = true;
    if (affine)
        ok = (s->weight = nb_module_param(m, "weight", nb_ones(nd, shape))) &&
             (!bias || (s->bias = nb_module_param(m, "bias", nb_zeros(nd, shape))));
    if (!ok) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_layer_norm_layer(int nd, const int64_t *normalized_shape)
{
    return last_dims_layer("LayerNorm", layer_norm_forward, nd, normalized_shape, 1e-5, true, true);
}

nb_module *nb_layer_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps,
                                  bool elementwise_affine, bool bias)
{
    if (!(eps > 0))
        return nb_error(NB_ERR_ARG, "LayerNorm: eps %g must be > 0", eps);
    return last_dims_layer("LayerNorm", layer_norm_forward, nd, normalized_shape, eps, elementwise_affine,
                           bias);
}

nb_module *nb_rms_norm_layer(int nd, const int64_t *normalized_shape)
{
    return last_dims_layer("RMSNorm", rms_norm_forward, nd, normalized_shape, NAN, true, false);
}

nb_module *nb_rms_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps, bool elementwise_affine)
{
    return last_dims_layer("RMSNorm", rms_norm_forward, nd, normalized_shape, eps, elementwise_affine, false);
}

typedef struct group_norm_state {
    int64_t num_groups, num_channels;
    double eps;
    nb_tensor *weight, *bias;
} group_norm_state;

static nb_tensor *group_norm_forward(nb_module *m, nb_tensor *x)
{
    group_norm_state *s = m->user;
    return nb_group_norm(x, s->num_groups, s->weight, s->bias, s->eps);
}

/* torch.nn's "2, 8, eps=1e-05, affine=True" */
static void group_norm_repr(const nb_module *m, char *buf, size_t size)
{
    const group_norm_state *s = m->user;
    snprintf(buf, size, "%lld, %lld, eps=%g, affine=%s", (long long)s->num_groups, (long long)s->num_channels,
             s->eps, s->weight ? "True" : "False");
}

nb_module *nb_group_norm_layer_ex(int64_t num_groups, int64_t num_channels, double eps, bool affine)
{
    if (num_groups < 1 || num_channels < 1 || num_channels % num_groups != 0 || !(eps > 0))
        return nb_error(
            NB_ERR_ARG,
            "GroupNorm: num_channels %lld must be a positive multiple of num_groups %lld, eps %g > 0",
            (long long)num_channels, (long long)num_groups, eps);
    nb_module *m = nb_layer_new("GroupNorm", group_norm_forward, sizeof(group_norm_state));
    if (!m)
        return NULL;
    group_norm_state *s = m->user;
    *s = (group_norm_state){.num_groups = num_groups, .num_channels = num_channels, .eps = eps};
    m->extra_repr = group_norm_repr;
    if (affine && !((s->weight = nb_module_param(m, "weight", nb_ones(NB_SHAPE(num_channels)))) &&
                    (s->bias = nb_module_param(m, "bias", nb_zeros(NB_SHAPE(num_channels)))))) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

nb_module *nb_group_norm_layer(int64_t num_groups, int64_t num_channels)
{
    return nb_group_norm_layer_ex(num_groups, num_channels, 1e-5, true);
}
