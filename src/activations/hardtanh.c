/* activations/hardtanh.c — torch.nn.Hardtanh(min_val = -1, max_val = 1):
 *   y = min(max(x, min_val), max_val)
 *   dy/dx = 1 strictly inside (min_val, max_val), else 0 — the boundary gets
 *   0, as PyTorch's hardtanh_backward (x <= min_val || x >= max_val ? 0 : grad,
 *   aten/src/ATen/native/cpu/Activation.cpp). Note that clamp differs: its
 *   gradient passes at the bounds. */
#include "activations/activation.h"

static inline nb_real hardtanh_f(nb_real x, const nb_real *p)
{
    nb_real y = nb_act_sel(x < p[0], p[0], x);
    return nb_act_sel(y > p[1], p[1], y);
}
static inline nb_real hardtanh_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    return nb_act_sel((x > p[0]) & (x < p[1]), dy, 0);
}
NB_DEFINE_POINTWISE(hardtanh, hardtanh_f, hardtanh_b, 2);

nb_tensor *nb_hardtanh(nb_tensor *x, nb_real min_val, nb_real max_val)
{
    if (!nb_check_input("hardtanh", 1, x))
        return NULL;
    if (!(min_val <= max_val))
        return nb_error(NB_ERR_ARG, "hardtanh: %s: min_val %g is not <= max_val %g",
                        nb_shape_fmt(x), (double)min_val, (double)max_val);
    return nb_pointwise(&nb_pw_hardtanh, x, (nb_real[]){min_val, max_val});
}

static nb_tensor *apply(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)w;
    return nb_hardtanh(x, p[0], p[1]);
}
const nb_activation nb_act_hardtanh = {.name = "hardtanh",
                                       .n_params = 2,
                                       .param_names = {"min_val", "max_val"},
                                       .defaults = {-1, 1},
                                       .apply = apply,
                                       .n_kinks = 2,
                                       .kinks = {-1, 1},
                                       .pointwise = true};
