/* activations/activation.h — what the files of src/activations share: the
 * registry entry each one defines (registry.c lists them in its table), and a
 * select on nb_real for writing f and f' branch-free.
 *
 * A new activation is one small file (its mathematics, f and dy*f' as static
 * inline functions, one NB_DEFINE_POINTWISE line or its own op, the public
 * function and `const nb_activation nb_act_<name>`) and one line in
 * activations/list.h. */
#ifndef NB_ACTIVATIONS_ACTIVATION_H
#define NB_ACTIVATIONS_ACTIVATION_H

#include "kernels/vmath.h"
#include "ops/pointwise.h"

/* c ? a : b. In float32 a bit blend (nb__sel of kernels/vmath.h: both sides are
 * computed, so GCC keeps the loop vectorizable under -ftrapping-math); in
 * float64 a plain select. c must be a comparison (0 or 1), combined with & | */
static inline nb_real nb_act_sel(int c, nb_real a, nb_real b)
{
#ifdef NABLA_F64
    return c ? a : b;
#else
    return nb__sel(c, a, b);
#endif
}

/* The rectifier (torch.nn.ReLU), written once for activations/relu.c and the
 * fused convolution of ops/conv2d.c:
 *   y = max(0, x),  dy/dx = 1 where y > 0, else 0 (so relu'(0) = 0)
 * The backward tests the output, as PyTorch's threshold_backward(grad,
 * result, 0) in derivatives.yaml. NaN propagates (x < 0 is false for NaN). */
static inline nb_real nb_act_relu_value(nb_real x) { return nb_act_sel(x < 0, 0, x); }
static inline nb_real nb_act_relu_grad(nb_real y, nb_real dy) { return nb_act_sel(y > 0, dy, 0); }

/* sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), each to full relative accuracy
 * (no 1 - s cancellation) and without overflow: with e = e^-|x|,
 * s = (x >= 0 ? 1 : e) / (1 + e), 1 - s = (x >= 0 ? e : 1) / (1 + e). */
static inline void nb_act_sigmoid2(nb_real x, nb_real *s, nb_real *sn)
{
    nb_real e = nb_vexp(-fabs(x)), d = 1 + e;
    *s = nb_act_sel(x >= 0, 1, e) / d;
    *sn = nb_act_sel(x >= 0, e, 1) / d;
}

/* The ELU family (elu, celu, selu), computed as PyTorch computes all three:
 * elu(x, alpha, scale, input_scale) =
 *     scale x                                 for x > 0
 *     scale alpha (e^(x input_scale) - 1)     otherwise (0 included)
 * with derivative scale, or scale alpha input_scale e^(x input_scale).
 * The callers pass the coefficients PyTorch precomputes: pos = scale,
 * neg = scale alpha, dneg = scale alpha input_scale, and the input scale as
 * a divisor (div = 1 / input_scale: celu's x / alpha, exactly). Constant
 * coefficients of 1 fold away, so elu and selu compute what they always did.
 * The exponentials take 0 on the x > 0 branch, which therefore never
 * overflows. The backward multiplies dy on both sides: one unconditional load
 * of dy, not two masked ones, which the hardware prefetcher does not follow. */
static inline nb_real nb_act_elu_f(nb_real x, nb_real pos, nb_real neg, nb_real div)
{
    nb_real z = nb_act_sel(x > 0, 0, x / div);
    return nb_act_sel(x > 0, pos * x, neg * nb_vexpm1(z));
}
static inline nb_real nb_act_elu_b(nb_real x, nb_real dy, nb_real pos, nb_real dneg, nb_real div)
{
    nb_real z = nb_act_sel(x > 0, 0, x / div);
    return dy * nb_act_sel(x > 0, pos, dneg * nb_vexp(z));
}

/* const nb_activation nb_act_<name>, the registry entry of the pointwise op
 * nb_pw_<name> (made by NB_DEFINE_POINTWISE*): its apply runs nb_pw_<name>
 * with the entry's parameters (and the op's check of them); the arguments
 * after the name are the entry's other fields (.param_names, .defaults,
 * .n_kinks, .kinks). */
#define NB_POINTWISE_ACTIVATION(act, ...)                                                                    \
    static nb_tensor *act##_apply(nb_tensor *x, const nb_real *p, nb_tensor *w)                              \
    {                                                                                                        \
        (void)w;                                                                                             \
        return nb_pointwise(&nb_pw_##act, x, p);                                                             \
    }                                                                                                        \
    const nb_activation nb_act_##act = {                                                                     \
        .name = #act, .n_params = act##_n_params, .apply = act##_apply, .pointwise = true, __VA_ARGS__}

/* const nb_activation nb_act_<name> of every built-in activation
 * (activations/list.h). */
#define NB_ACT(name, file) extern const nb_activation nb_act_##name;
#include "activations/list.h"
#undef NB_ACT

#endif
