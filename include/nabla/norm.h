/* nabla/norm.h — normalization: the ops (torch.nn.functional.batch_norm,
 * layer_norm, group_norm, rms_norm) and their layers (torch.nn.BatchNorm1d,
 * BatchNorm2d, LayerNorm, GroupNorm, RMSNorm), with PyTorch's definitions,
 * defaults, parameter and buffer names, so that state_dicts carry over.
 * Each op's backward is one fused pass. */
#ifndef NABLA_NORM_H
#define NABLA_NORM_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Ops ------------------------------------------------------------------ */

/* F.batch_norm on x [N, C, *], per channel over the N * prod(*) elements:
 * y = (x - mean) / sqrt(var + eps) * weight + bias. training: mean and var
 * are the batch's (var biased), and when running_mean/running_var ([C]) are
 * given they are updated in place, without gradient:
 *   running = (1 - momentum) running + momentum batch_statistic
 * with the unbiased variance for running_var. Not training: running_mean and
 * running_var (required) are used. weight, bias [C] or NULL. */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var, nb_tensor *weight,
                         nb_tensor *bias, bool training, double momentum, double eps);
/* F.layer_norm: over the last nd dims of x, which must equal normalized_shape;
 * weight, bias of normalized_shape or NULL. */
nb_tensor *nb_layer_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight,
                         nb_tensor *bias, double eps);
/* F.group_norm on x [N, C, *]: the C channels in num_groups groups of C /
 * num_groups, each normalised over its channels and positions, per sample;
 * weight, bias [C] or NULL. */
nb_tensor *nb_group_norm(nb_tensor *x, int64_t num_groups, nb_tensor *weight, nb_tensor *bias, double eps);
/* F.rms_norm: y = x / sqrt(mean(x^2) + eps) * weight over the last nd dims
 * (normalized_shape); weight or NULL; eps NAN means PyTorch's None, the
 * epsilon of nb_real (2^-23 in float32). */
nb_tensor *nb_rms_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight, double eps);

/* ---- Layers --------------------------------------------------------------- */

/* torch.nn.BatchNorm1d(num_features) on [N, C] or [N, C, L], BatchNorm2d on
 * [N, C, H, W]: parameters "weight" (ones) and "bias" (zeros) [C]; buffers
 * "running_mean" (zeros), "running_var" (ones) [C] and "num_batches_tracked"
 * (a scalar count; int64 in PyTorch, a real here). eps 1e-5, momentum 0.1.
 * Training mode (nb_module_train) normalises with the batch's statistics and
 * updates the running ones; eval mode uses the running ones. */
nb_module *nb_batch_norm1d(int64_t num_features);
nb_module *nb_batch_norm2d(int64_t num_features);
/* All of PyTorch's arguments: momentum NAN is momentum=None (the running
 * statistics are the cumulative average, factor 1 / num_batches_tracked);
 * affine false: no weight and bias; track_running_stats false: no buffers, and
 * batch statistics in eval mode too. */
nb_module *nb_batch_norm1d_ex(int64_t num_features, double eps, double momentum, bool affine,
                              bool track_running_stats);
nb_module *nb_batch_norm2d_ex(int64_t num_features, double eps, double momentum, bool affine,
                              bool track_running_stats);
/* torch.nn.LayerNorm(normalized_shape): parameters "weight" (ones) and "bias"
 * (zeros) of normalized_shape, eps 1e-5. NB_SHAPE works for the shape:
 * nb_layer_norm_layer(NB_SHAPE(512)). */
nb_module *nb_layer_norm_layer(int nd, const int64_t *normalized_shape);
nb_module *nb_layer_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps, bool elementwise_affine,
                                  bool bias);
/* torch.nn.GroupNorm(num_groups, num_channels): "weight" (ones), "bias"
 * (zeros) [num_channels], eps 1e-5. */
nb_module *nb_group_norm_layer(int64_t num_groups, int64_t num_channels);
nb_module *nb_group_norm_layer_ex(int64_t num_groups, int64_t num_channels, double eps, bool affine);
/* torch.nn.RMSNorm(normalized_shape): "weight" (ones), eps None (NAN). */
nb_module *nb_rms_norm_layer(int nd, const int64_t *normalized_shape);
nb_module *nb_rms_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps, bool elementwise_affine);

#ifdef __cplusplus
}
#endif

#endif
