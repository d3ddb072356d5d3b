/* ops/conv2d.h — the one validation of nb_conv2d_opts, used by the op and by
 * the Conv2d layer (so that a bad option fails when the layer is made, with
 * the op's rule and message), and the convolution fused with a ReLU. */
#ifndef NB_OPS_CONV2D_H
#define NB_OPS_CONV2D_H

#include "ops/op.h"

/* stride and dilation positive (options made by NB_CONV2D_OPTS), padding non-negative, each at most
 * 2^30: the resolved values into s, d, p (may be NULL) and true; false with
 * the error recorded. */
bool nb_conv2d_resolve_opts(nb_conv2d_opts opts, int64_t *s, int64_t *d, int64_t *p);

/* relu(nb_conv2d(x, w, b, opts)) as one op ("conv2d_relu"): the same values
 * and gradients, bit for bit, without storing or re-reading the
 * pre-activation (see ops/conv2d.c). For Sequential's fusion of a Conv2d
 * followed by a ReLU (nn/sequential.c). */
nb_tensor *nb_conv2d_relu(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts);
/* nb_max_pool2d(nb_conv2d_relu(...), kernel, stride, padding) as one op
 * ("conv2d_relu_max_pool2d"), bit for bit: each image's rectified
 * convolution is pooled while it is in cache, and never stored. */
nb_tensor *nb_conv2d_relu_max_pool2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts,
                                     int kernel, int stride, int padding);

#endif
