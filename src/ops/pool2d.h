/* ops/pool2d.h — max-pooling's pieces that the convolution fused with a ReLU
 * and a MaxPool2d (ops/conv2d.c) runs image by image: the plan of a pool over
 * planes and its forward and backward over a range of planes. */
#ifndef NB_OPS_POOL2D_H
#define NB_OPS_POOL2D_H

#include "ops/op.h"

typedef struct nb_pool2d {
    int64_t planes, H, W, Ho, Wo, k, s, p;
    const nb_real *x, *dy;
    nb_real *y, *dx;
    int32_t *idx; /* max: argmax of each output within its plane (< 2^31); NULL when not needed */
    bool zero;    /* backward: dx is fresh, each plane is zeroed before it is added to */
} nb_pool2d;

/* q's geometry for `planes` planes [H, W] under op `name`'s rules (kernel
 * positive, stride 0 = kernel, padding at most kernel / 2, the padded plane
 * at least a kernel, planes below 2^31 elements); data pointers NULL. false
 * with the error recorded, naming `what` ("input [2,3,8,8]"). */
bool nb_pool2d_plan(const char *name, const char *what, int64_t planes, int64_t H, int64_t W, int kernel,
                    int stride, int padding, nb_pool2d *q);

/* Planes [b, e) of q: y, and idx when not NULL, from x (max-pooling's forward);
 * and dx[plane][idx[o]] += dy[o] (its backward, zeroing each plane of dx
 * first when q->zero). Signatures of nb_parallel_for's tasks. */
void nb_max_pool2d_planes(void *q, int64_t b, int64_t e);
void nb_max_pool2d_backward_planes(void *q, int64_t b, int64_t e);

#endif
