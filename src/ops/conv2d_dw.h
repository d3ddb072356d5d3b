/* ops/conv2d_dw.h — dW of a stride-1 convolution with few input channels,
 * straight from the padded image (ops/conv2d_dw.c), for ops/conv2d.c. */
#ifndef NB_OPS_CONV2D_DW_H
#define NB_OPS_CONV2D_DW_H

#include <stdbool.h>
#include <stdint.h>
#include "nabla/config.h"

/* The sizes of one image's dW product: O output channels, C input channels,
 * a kh x kw kernel dilated by (d0, d1), output [Ho, Wo] at stride 1, and the
 * padded image [C, Hp, Wp] (Hp = Ho + (kh - 1) d0, Wp = Wo + (kw - 1) d1). */
typedef struct nb_conv2d_dw_shape {
    int64_t O, C, kh, kw, d0, d1, Ho, Wo, Hp, Wp;
} nb_conv2d_dw_shape;

/* Whether this machine has the kernel (AVX-512 or AVX2, float32 build). */
bool nb_conv2d_dw_direct_ok(void);

/* dw [O, C kh kw] = (accumulate ? dw : 0) + dy xp's receptive fields:
 *   dw[o, (c,p,q)] += sum_{i<Ho, j<Wo} dy[o, i Wo + j] xp[c, i + p d0, j + q d1]
 * dy [O, Ho Wo] is one image's output gradient, xp [C, Hp, Wp] its padded
 * input. Each sum runs in 16 lanes (8 with AVX2) over (i, j) in order, then the lanes are
 * added in a fixed order: the same result on any thread count. */
void nb_conv2d_dw_direct(const nb_conv2d_dw_shape *s, const nb_real *dy, const nb_real *xp, nb_real *dw,
                         bool accumulate);

#endif
