/* activations/sinusoid.c — y = sin x, dy/dx = cos x (periodic activation, as
 * in SIREN, Sitzmann et al. 2020): the registry's name for the op nb_sin, with
 * the same mathematics (ops/trig.h). */
#include "activations/activation.h"
#include "ops/trig.h"

NB_DEFINE_POINTWISE(sinusoid, nb_sin_f, nb_sin_b, 0);

nb_tensor *nb_sinusoid(nb_tensor *x) { return nb_pointwise(&nb_pw_sinusoid, x, NULL); }

NB_POINTWISE_ACTIVATION(sinusoid, .class_name = "Sinusoid", .n_kinks = 0);
