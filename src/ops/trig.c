/* ops/trig.c — torch.sin and torch.cos
 * (https://pytorch.org/docs/stable/generated/torch.sin.html, .../torch.cos.html)
 * as pointwise ops; their mathematics is in ops/trig.h, shared with the
 * sinusoid activation. */
#include "ops/trig.h"

NB_DEFINE_POINTWISE(sin, nb_sin_f, nb_sin_b, 0);
NB_DEFINE_POINTWISE(cos, nb_cos_f, nb_cos_b, 0);

nb_tensor *nb_sin(nb_tensor *x) { return nb_pointwise(&nb_pw_sin, x, NULL); }
nb_tensor *nb_cos(nb_tensor *x) { return nb_pointwise(&nb_pw_cos, x, NULL); }
