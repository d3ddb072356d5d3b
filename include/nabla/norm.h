/* nabla/norm.h — the normalization layers (torch.nn.BatchNorm1d, BatchNorm2d,
 * LayerNorm, GroupNorm, RMSNorm), with PyTorch's definitions, defaults,
 * parameter and buffer names, so that state_dicts carry over. Their ops
 * (nb_batch_norm, nb_layer_norm, nb_group_norm, nb_rms_norm) are in
 * nabla/ops.h. */
#ifndef NABLA_NORM_H
#define NABLA_NORM_H

#include "nn.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

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
nb_module *nb_layer_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps,
                                  bool elementwise_affine, bool bias);
/* torch.nn.GroupNorm(num_groups, num_channels): "weight" (ones), "bias"
 * (zeros) [num_channels], eps 1e-5. */
nb_module *nb_group_norm_layer(int64_t num_groups, int64_t num_channels);
nb_module *nb_group_norm_layer_ex(int64_t num_groups, int64_t num_channels, double eps, bool affine);
/* torch.nn.RMSNorm(normalized_shape): "weight" (ones), eps None (NAN). */
nb_module *nb_rms_norm_layer(int nd, const int64_t *normalized_shape);
nb_module *nb_rms_norm_layer_ex(int nd, const int64_t *normalized_shape, double eps, bool elementwise_affine);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
