/* ops/conv2d.h — the one validation of nb_conv2d_opts, used by the op and by
 * the Conv2d layer (so that a bad option fails when the layer is made, with
 * the op's rule and message). */
#ifndef NB_OPS_CONV2D_H
#define NB_OPS_CONV2D_H

#include "ops/op.h"

/* stride and dilation positive (options made by NB_CONV2D_OPTS), padding non-negative, each at most
 * 2^30: the resolved values into s, d, p (may be NULL) and true; false with
 * the error recorded. */
bool nb_conv2d_resolve_opts(nb_conv2d_opts opts, int64_t *s, int64_t *d, int64_t *p);

#endif
