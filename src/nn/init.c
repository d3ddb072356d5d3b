/* nn/init.c — torch.nn.init: fan computation, calculate_gain and the
 * initialisers, with PyTorch's definitions (torch/nn/init.py):
 *   fan_in = size(1) * rf, fan_out = size(0) * rf, rf = prod(size(2:))
 *   xavier:  std = gain * sqrt(2 / (fan_in + fan_out))       (Glorot & Bengio, 2010)
 *   kaiming: std = gain(nonlinearity, a) / sqrt(fan)          (He et al., 2015)
 *   uniform variants draw U(-sqrt(3) std, sqrt(3) std), which has that std.
 *   lecun_normal: std = 1 / sqrt(fan_in) (Klambauer et al., 2017, for SELU; what
 *   torch.nn.SELU's documentation gets with kaiming_normal_(nonlinearity='linear')). */
#include <math.h>
#include <string.h>
#include "nn/layer.h"

int nb_calculate_fan(const nb_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    if (!nb_check_input("calculate_fan", 1, t))
        return -1;
    if (t->ndim < 2) {
        nb_error(NB_ERR_SHAPE, "calculate_fan: tensor %s: fan in and fan out need at least 2 dimensions",
                 nb_shape_fmt(t));
        return -1;
    }
    int64_t rf = 1;
    for (int i = 2; i < t->ndim; i++)
        rf *= t->shape[i];
    if (fan_in)
        *fan_in = t->shape[1] * rf;
    if (fan_out)
        *fan_out = t->shape[0] * rf;
    return 0;
}

double nb_calculate_gain(const char *nonlinearity, double param)
{
    static const char *const unit[] = {"linear",           "conv1d",           "conv2d",           "conv3d",
                                       "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
    if (!nonlinearity) {
        nb_error(NB_ERR_NULL, "calculate_gain: nonlinearity is NULL");
        return NAN;
    }
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (strcmp(nonlinearity, unit[i]) == 0)
            return 1;
    if (strcmp(nonlinearity, "tanh") == 0)
        return 5.0 / 3;
    if (strcmp(nonlinearity, "relu") == 0)
        return sqrt(2.0);
    if (strcmp(nonlinearity, "selu") == 0)
        return 3.0 / 4;
    if (strcmp(nonlinearity, "leaky_relu") == 0) {
        double slope = isnan(param) ? 0.01 : param;
        if (!isfinite(slope)) {
            nb_error(NB_ERR_ARG, "calculate_gain: leaky_relu: negative slope %g is not finite", slope);
            return NAN;
        }
        return sqrt(2.0 / (1 + slope * slope));
    }
    nb_error(NB_ERR_ARG,
             "calculate_gain: unsupported nonlinearity '%s' (known: linear, conv1d, conv2d, conv3d, "
             "conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, "
             "leaky_relu, selu)",
             nonlinearity);
    return NAN;
}

nb_tensor *nb_init_uniform_(nb_tensor *t, double a, double b, nb_generator *g)
{
    if (!nb_check_input("init_uniform_", 1, t))
        return NULL;
    if (!(a <= b) || !isfinite(a) || !isfinite(b))
        return nb_error(NB_ERR_ARG, "init_uniform_: bounds [%g, %g) must be finite with a <= b", a, b);
    return nb_uniform_(t, a, b, g);
}

nb_tensor *nb_init_normal_(nb_tensor *t, double mean, double std, nb_generator *g)
{
    if (!nb_check_input("init_normal_", 1, t))
        return NULL;
    if (!(std >= 0) || !isfinite(std) || !isfinite(mean))
        return nb_error(NB_ERR_ARG, "init_normal_: mean %g, std %g: must be finite, std >= 0", mean, std);
    return nb_normal_(t, mean, std, g);
}

nb_tensor *nb_init_constant_(nb_tensor *t, double value) { return nb_fill_(t, (nb_real)value); }

/* The std of xavier or kaiming initialisation of t; NAN on error. */
static double init_std(const char *op, const nb_tensor *t, bool xavier, double gain_or_a, nb_fan_mode mode,
                       const char *nonlinearity)
{
    int64_t fan_in, fan_out;
    if (!nb_check_input(op, 1, t))
        return NAN;
    if (t->ndim < 2) {
        nb_error(NB_ERR_SHAPE, "%s: tensor %s: fan in and fan out need at least 2 dimensions", op,
                 nb_shape_fmt(t));
        return NAN;
    }
    nb_calculate_fan(t, &fan_in, &fan_out);
    if (xavier) {
        if (fan_in + fan_out == 0)
            return 0;
        return gain_or_a * sqrt(2.0 / (double)(fan_in + fan_out));
    }
    if (mode != NB_FAN_IN && mode != NB_FAN_OUT) {
        nb_error(NB_ERR_ARG, "%s: mode %d is neither NB_FAN_IN nor NB_FAN_OUT", op, (int)mode);
        return NAN;
    }
    int64_t fan = mode == NB_FAN_IN ? fan_in : fan_out;
    double gain = nb_calculate_gain(nonlinearity ? nonlinearity : "leaky_relu", gain_or_a);
    if (isnan(gain))
        return NAN;
    return fan > 0 ? gain / sqrt((double)fan) : 0;
}

nb_tensor *nb_init_xavier_uniform_(nb_tensor *t, double gain, nb_generator *g)
{
    double std = init_std("init_xavier_uniform_", t, true, gain, NB_FAN_IN, NULL);
    return isnan(std) ? NULL : nb_uniform_(t, -sqrt(3.0) * std, sqrt(3.0) * std, g);
}

nb_tensor *nb_init_xavier_normal_(nb_tensor *t, double gain, nb_generator *g)
{
    double std = init_std("init_xavier_normal_", t, true, gain, NB_FAN_IN, NULL);
    return isnan(std) ? NULL : nb_normal_(t, 0, std, g);
}

nb_tensor *nb_init_kaiming_uniform_(nb_tensor *t, double a, nb_fan_mode mode, const char *nonlinearity,
                                    nb_generator *g)
{
    double std = init_std("init_kaiming_uniform_", t, false, a, mode, nonlinearity);
    return isnan(std) ? NULL : nb_uniform_(t, -sqrt(3.0) * std, sqrt(3.0) * std, g);
}

nb_tensor *nb_init_kaiming_normal_(nb_tensor *t, double a, nb_fan_mode mode, const char *nonlinearity,
                                   nb_generator *g)
{
    double std = init_std("init_kaiming_normal_", t, false, a, mode, nonlinearity);
    return isnan(std) ? NULL : nb_normal_(t, 0, std, g);
}

nb_tensor *nb_init_lecun_normal_(nb_tensor *t, nb_generator *g)
{
    double std = init_std("init_lecun_normal_", t, false, 0, NB_FAN_IN, "linear");
    return isnan(std) ? NULL : nb_normal_(t, 0, std, g);
}
