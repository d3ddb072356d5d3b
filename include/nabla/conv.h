/* nabla/conv.h — the layers of 2-D convolution and pooling over images
 * [N,C,H,W] (torch.nn.Conv2d, MaxPool2d, AvgPool2d); their ops (nb_conv2d,
 * nb_max_pool2d, nb_avg_pool2d) are in nabla/ops.h. */
#ifndef NABLA_CONV_H
#define NABLA_CONV_H

#include "nn.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* ---- Layers ---------------------------------------------------------------- */

/* torch.nn.Conv2d(in_channels, out_channels, kernel, stride, padding): square
 * kernel, bias, parameters "weight" [out,in,k,k] and "bias" [out], initialised
 * as PyTorch does: kaiming_uniform(a = sqrt(5)) on the weight, i.e.
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in k k, and the bias from
 * the same distribution. */
nb_module *nb_conv2d_layer(int64_t in_channels, int64_t out_channels, int kernel, int stride, int padding);
/* The general form: kernel kh x kw, any nb_conv2d_opts, optional bias,
 * initialised from g (NULL: default generator). */
nb_module *nb_conv2d_layer_ex(int64_t in_channels, int64_t out_channels, int kh, int kw, nb_conv2d_opts opts,
                              bool bias, nb_generator *g);
/* torch.nn.MaxPool2d(kernel, stride) and AvgPool2d(kernel, stride);
 * stride 0 means kernel; no padding. */
nb_module *nb_max_pool2d_layer(int kernel, int stride);
nb_module *nb_avg_pool2d_layer(int kernel, int stride);
/* ... with padding (at most kernel / 2). */
nb_module *nb_max_pool2d_layer_ex(int kernel, int stride, int padding);
nb_module *nb_avg_pool2d_layer_ex(int kernel, int stride, int padding);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
