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
static bool hardtanh_check(const nb_tensor *x, const nb_real *p)
{
    if (!(p[0] <= p[1])) {
        nb_error(NB_ERR_ARG, "hardtanh: %s: min_val %g is not <= max_val %g", nb_shape_fmt(x), (double)p[0],
                 (double)p[1]);
        return false;
    }
    return true;
}
NB_DEFINE_POINTWISE_CHECKED(hardtanh, hardtanh_f, hardtanh_b, 2, hardtanh_check);

nb_tensor *nb_hardtanh(nb_tensor *x, nb_real min_val, nb_real max_val)
{
    return nb_pointwise(&nb_pw_hardtanh, x, (nb_real[]){min_val, max_val});
}

NB_POINTWISE_ACTIVATION(hardtanh, .class_name = "Hardtanh", .param_names = {"min_val", "max_val"},
                        .defaults = {-1, 1}, .n_kinks = 2, .kinks = {-1, 1});
