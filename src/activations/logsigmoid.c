/* activations/logsigmoid.c — log of the sigmoid (torch.nn.LogSigmoid):
 *   y = log(1 / (1 + e^-x)) = min(x, 0) - log1p(e^-|x|)
 *   dy/dx = 1 - sigmoid(x) = sigmoid(-x)
 * The split form is PyTorch's (aten/src/ATen/native/cpu/Activation.cpp,
 * _vec_log_sigmoid): no overflow, and no cancellation for either sign
 * (logsigmoid(-1000) = -1000, logsigmoid(1000) = -0). The derivative is
 * sigmoid(-x) computed directly (nb_act_sigmoid2), not 1 - sigmoid(x), so it
 * keeps its relative accuracy for large x. */
#include "activations/activation.h"

static inline nb_real logsigmoid_f(nb_real x, const nb_real *p)
{
    (void)p;
    return -nb_vsoftplus(-x); /* = min(x, 0) - log1p(e^-|x|), bit for bit */
}
static inline nb_real logsigmoid_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real s, sn;
    nb_act_sigmoid2(x, &s, &sn);
    return dy * sn;
}
NB_DEFINE_POINTWISE_FMA(logsigmoid, logsigmoid_f, logsigmoid_b, 0);

nb_tensor *nb_logsigmoid(nb_tensor *x) { return nb_pointwise(&nb_pw_logsigmoid, x, NULL); }

NB_POINTWISE_ACTIVATION(logsigmoid, .class_name = "LogSigmoid", .n_kinks = 0);
