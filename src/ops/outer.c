/* ops/outer.c — torch.outer(input, vec2)
 * (https://pytorch.org/docs/stable/generated/torch.outer.html):
 *   y[i, j] = a[i] b[j]        da[i] = Σ_j dy[i, j] b[j],   db[j] = Σ_i dy[i, j] a[i]
 * for 1-D a [n] and b [m], y [n, m]. As PyTorch's own (at::outer is
 * a.reshape({-1, 1}) * b, aten/src/ATen/native/LinearAlgebra.cpp), it is the
 * broadcast product of a column and a row, whose backward (ops/arith.c) is
 * the two sums above. */
#include "ops/op.h"

nb_tensor *nb_outer(nb_tensor *input, nb_tensor *vec2)
{
    if (!nb_check_input("outer", 1, input) || !nb_check_input("outer", 2, vec2))
        return NULL;
    if (input->ndim != 1 || vec2->ndim != 1)
        return nb_error(NB_ERR_SHAPE, "outer: input %s and vec2 %s: both must be 1-D", nb_shape_fmt(input),
                        nb_shape_fmt(vec2));
    return nb_mul(nb_view(input, NB_SHAPE(input->shape[0], 1)), vec2);
}
