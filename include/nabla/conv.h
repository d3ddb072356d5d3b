/* nabla/conv.h — 2-D convolution and pooling over images [N,C,H,W]
 * (torch.nn.functional.conv2d, max_pool2d, avg_pool2d) and their layers
 * (torch.nn.Conv2d, MaxPool2d, AvgPool2d).
 *
 * Output sizes follow PyTorch (floor mode): along each spatial dim,
 *   out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1. */
#ifndef NABLA_CONV_H
#define NABLA_CONV_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of nb_conv2d, per spatial dim ([0] height, [1] width). A zero
 * component means PyTorch's default: stride 1, padding 0, dilation 1. So
 * (nb_conv2d_opts){0} is F.conv2d's default, and
 * (nb_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}} is stride=2, padding=1.
 * Write both components: {.stride = {2}} is stride (2, 1). */
typedef struct nb_conv2d_opts {
    int64_t stride[2];
    int64_t padding[2];
    int64_t dilation[2];
} nb_conv2d_opts;

/* torch.nn.functional.conv2d with groups = 1 (a cross-correlation):
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i s0 - p0 + p d0, j s1 - p1 + q d1]
 * x [N,C,H,W], w [O,C,kh,kw], b [O] or NULL -> y [N,O,Ho,Wo], zero padding. */
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts);

/* torch.nn.functional.max_pool2d(x, kernel, stride, padding) on x [N,C,H,W]:
 * the maximum of each kernel x kernel window (padding counts as -inf);
 * stride 0 means stride = kernel; padding at most kernel / 2. The gradient goes
 * to the window's maximum, the first one in row-major order on ties (a NaN
 * counts as a maximum, as in PyTorch). */
nb_tensor *nb_max_pool2d(nb_tensor *x, int kernel, int stride, int padding);
/* torch.nn.functional.avg_pool2d(x, kernel, stride, padding) with PyTorch's
 * defaults ceil_mode = false, count_include_pad = true: the sum of each window
 * divided by kernel^2, padded zeros included. */
nb_tensor *nb_avg_pool2d(nb_tensor *x, int kernel, int stride, int padding);

/* ---- Layers ---------------------------------------------------------------- */

/* torch.nn.Conv2d(in_channels, out_channels, kernel, stride, padding): square
 * kernel, bias, parameters "weight" [out,in,k,k] and "bias" [out], initialised
 * as PyTorch does: kaiming_uniform(a = sqrt(5)) on the weight, i.e.
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in k k, and the bias from
 * the same distribution. stride 0 means 1. */
nb_module *nb_conv2d_layer(int64_t in_channels, int64_t out_channels, int kernel, int stride,
                           int padding);
/* The general form: kernel kh x kw, any nb_conv2d_opts, optional bias,
 * initialised from g (NULL: default generator). */
nb_module *nb_conv2d_layer_ex(int64_t in_channels, int64_t out_channels, int kh, int kw,
                              nb_conv2d_opts opts, bool bias, nb_generator *g);
/* torch.nn.MaxPool2d(kernel, stride) and AvgPool2d(kernel, stride);
 * stride 0 means kernel; no padding. */
nb_module *nb_max_pool2d_layer(int kernel, int stride);
nb_module *nb_avg_pool2d_layer(int kernel, int stride);
/* ... with padding (at most kernel / 2). */
nb_module *nb_max_pool2d_layer_ex(int kernel, int stride, int padding);
nb_module *nb_avg_pool2d_layer_ex(int kernel, int stride, int padding);

#ifdef __cplusplus
}
#endif

#endif
