/* activations/list.h — every built-in activation, one line each, in the order
 * nb_activation_at() lists them: NB_ACT(name, file) for the entry
 * `const nb_activation nb_act_<name>` defined in src/activations/<file>.c.
 * This list is the only place besides its own file that an activation is
 * named: activation.h makes the externs from it, registry.c the table and
 * the count, and src/activations/meson.build the list of sources. The
 * includer defines NB_ACT(name, file) first; no include guard, on purpose. */
/* pointwise, scalar hyper-parameters only */
NB_ACT(step, step)
NB_ACT(sigmoid, sigmoid)
NB_ACT(tanh, tanh)
NB_ACT(logsigmoid, logsigmoid)
NB_ACT(relu, relu)
NB_ACT(relu6, relu6)
NB_ACT(leaky_relu, leaky_relu)
NB_ACT(hardtanh, hardtanh)
NB_ACT(elu, elu)
NB_ACT(celu, celu)
NB_ACT(selu, selu)
NB_ACT(gelu, gelu)
NB_ACT(gelu_tanh, gelu_tanh)
NB_ACT(silu, silu)
NB_ACT(softplus, softplus)
NB_ACT(mish, mish)
NB_ACT(softsign, softsign)
NB_ACT(hardsigmoid, hardsigmoid)
NB_ACT(hardswish, hardswish)
NB_ACT(bent_identity, bent_identity)
NB_ACT(sinusoid, sinusoid)
NB_ACT(identity, identity)
/* with a learnable tensor parameter; along a dim; maxout */
NB_ACT(prelu, prelu)
NB_ACT(swish, swish)
NB_ACT(softmax, softmax)
NB_ACT(log_softmax, softmax)
NB_ACT(maxout, maxout)
