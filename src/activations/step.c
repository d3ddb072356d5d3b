/* activations/step.c — the Heaviside step: y = 1 for x > 0, else 0 (the
 * threshold unit of the perceptron; torch.heaviside(x, 0) for x != 0).
 *
 * Its derivative is 0 wherever it exists (everywhere but 0, where it is
 * undefined; we return 0 there too). So a gradient that passes through a step
 * is zero: nothing upstream of it can be trained by gradient descent. That is
 * why the classic tutorials (Rumelhart, Hinton & Williams 1986) replaced it by
 * the sigmoid, its smooth version. It is here for completeness and for
 * networks trained by other means. */
#include "activations/activation.h"

static inline nb_real step_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_act_sel(x > 0, 1, 0);
}
static inline nb_real step_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)y;
    (void)dy;
    (void)p;
    return 0;
}
NB_DEFINE_POINTWISE(step, step_f, step_b, 0);

nb_tensor *nb_step(nb_tensor *x) { return nb_pointwise(&nb_pw_step, x, NULL); }

NB_POINTWISE_ACTIVATION(step, .class_name = "Step", .n_kinks = 1, .kinks = {0});
