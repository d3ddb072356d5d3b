/* nabla/activations.h — every activation as a differentiable op, and the
 * registry that finds them by name (nb_activation_find("leaky_relu")).
 * Definitions and defaults are PyTorch's (torch.nn.functional). */
#ifndef NABLA_ACTIVATIONS_H
#define NABLA_ACTIVATIONS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Pointwise. */
nb_tensor *nb_step(nb_tensor *x); /* Heaviside: 1 for x > 0 else 0; gradient 0 */
nb_tensor *nb_sigmoid(nb_tensor *x);
nb_tensor *nb_tanh(nb_tensor *x);
nb_tensor *nb_logsigmoid(nb_tensor *x);
nb_tensor *nb_relu(nb_tensor *x);
nb_tensor *nb_relu6(nb_tensor *x);
nb_tensor *nb_leaky_relu(nb_tensor *x, nb_real negative_slope);         /* torch default 0.01 */
nb_tensor *nb_hardtanh(nb_tensor *x, nb_real min_val, nb_real max_val); /* -1, 1 */
nb_tensor *nb_elu(nb_tensor *x, nb_real alpha);                         /* 1.0 */
nb_tensor *nb_celu(nb_tensor *x, nb_real alpha);                        /* 1.0 */
nb_tensor *nb_selu(nb_tensor *x);
nb_tensor *nb_gelu(nb_tensor *x);      /* exact, erf */
nb_tensor *nb_gelu_tanh(nb_tensor *x); /* approximate='tanh' */
nb_tensor *nb_silu(nb_tensor *x);
nb_tensor *nb_softplus(nb_tensor *x, nb_real beta, nb_real threshold); /* 1, 20 */
nb_tensor *nb_mish(nb_tensor *x);
nb_tensor *nb_softsign(nb_tensor *x);
nb_tensor *nb_hardsigmoid(nb_tensor *x);
nb_tensor *nb_hardswish(nb_tensor *x);
nb_tensor *nb_bent_identity(nb_tensor *x);
nb_tensor *nb_sinusoid(nb_tensor *x); /* sin */
nb_tensor *nb_identity(nb_tensor *x);

/* With a learnable parameter, an ordinary input tensor of the node (its
 * gradient comes out of the same backward). */
/* prelu: max(0,x) + alpha * min(0,x); alpha has 1 element (shared) or one per
 * channel (dim 1 of x, as torch.nn.PReLU(num_parameters)). */
nb_tensor *nb_prelu(nb_tensor *x, nb_tensor *alpha);
/* swish: x * sigmoid(beta * x), beta a one-element tensor (learnable or not). */
nb_tensor *nb_swish(nb_tensor *x, nb_tensor *beta);

/* Along a dim, overflow-safe. */
nb_tensor *nb_softmax(nb_tensor *x, int dim);
nb_tensor *nb_log_softmax(nb_tensor *x, int dim);
/* maxout: the last dim (size C*k) split into C groups of k consecutive values,
 * each replaced by its maximum; the gradient goes to the (first) winner. */
nb_tensor *nb_maxout(nb_tensor *x, int k);

/* ---- The registry ------------------------------------------------------- */
#define NB_ACT_MAX_PARAMS 4

typedef struct nb_activation {
    const char *name;       /* "leaky_relu" */
    const char *class_name; /* torch.nn's class, the kind of its layer: "LeakyReLU"; NULL: name */
    int n_params;           /* scalar hyper-parameters */
    const char *param_names[NB_ACT_MAX_PARAMS];
    nb_real defaults[NB_ACT_MAX_PARAMS]; /* PyTorch's defaults */
    /* learnable: 1 when the activation owns a tensor parameter (prelu's alpha,
     * swish's beta), initialised to `learnable_init`; its layer registers it
     * as `learnable_name` (NULL: "weight", PReLU's name in PyTorch) */
    int learnable;
    nb_real learnable_init;
    const char *learnable_name;
    /* y = f(x; params, weight); weight is NULL unless learnable */
    nb_tensor *(*apply)(nb_tensor *x, const nb_real *params, nb_tensor *weight);
    /* points where f' is discontinuous (gradient checks step around them) */
    int n_kinks;
    nb_real kinks[4];
    bool pointwise; /* y[i] depends on x[i] only */
} nb_activation;

int nb_activation_count(void);
const nb_activation *nb_activation_at(int i);
/* NULL with "act: unknown activation 'foo' (known: step, sigmoid, ...)" */
const nb_activation *nb_activation_find(const char *name);
/* Add a program's own activation to the registry, after the built-in ones, so
 * that nb_activation_find() and nb_act() know its name. The entry must stay
 * valid (static storage) for as long as it is used. Returns 0, or -1 when the
 * name is taken or the entry is incomplete. Call it before starting threads
 * that look activations up. */
int nb_activation_register(const nb_activation *a);
/* Apply with PyTorch's defaults; a learnable activation gets a fresh constant
 * weight of learnable_init. */
nb_tensor *nb_activation_apply(const nb_activation *a, nb_tensor *x);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
