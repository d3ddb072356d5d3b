/* nn/layer.h — what the files of src/nn share: a module with zeroed state that
 * it owns (how every built-in layer is made), the hook nb_forward() calls
 * after each forward (how nb_module_summary() sees every layer's output), and
 * what Sequential needs to run a Conv2d and the ReLU after it as one op. */
#ifndef NB_NN_LAYER_H
#define NB_NN_LAYER_H

#include "nabla/conv.h"
#include "nabla/nn.h"
#include "ops/op.h"

/* nb_module_new() with user = `state_size` zeroed bytes freed with the module. */
nb_module *nb_layer_new(const char *kind, nb_forward_fn forward, size_t state_size);

/* PyTorch's reset_parameters of Linear and ConvNd: a parameter "weight" of
 * shape [out, ...] from kaiming_uniform(a = sqrt(5)), i.e. U(+-1/sqrt(fan_in)),
 * and, with bias, "bias" [out] from U(+-1/sqrt(fan_in)), fan_in = numel / out,
 * drawn from g in that order. Registers them on m; false on failure. */
bool nb_layer_weight_bias(nb_module *m, int ndim, const int64_t *shape, bool bias, nb_generator *g,
                          nb_tensor **weight, nb_tensor **bias_out);

/* Called by nb_forward() with each module and its output; NULL for none.
 * Returns the previous hook (and its ctx through *prev_ctx). */
typedef void (*nb_forward_hook)(nb_module *m, nb_tensor *y, void *ctx);
nb_forward_hook nb_set_forward_hook(nb_forward_hook hook, void *ctx, void **prev_ctx);
/* Whether a hook is set on this thread: a fusion would hide a layer's output from it. */
bool nb_forward_hooked(void);

/* A layer's forward fused with layers after it: fn(m, x, after). */
typedef nb_tensor *(*nb_fused_forward_fn)(nb_module *m, nb_tensor *x, const nb_module *after);

/* nb_forward(m, x) running fn(m, x, after) in place of m->forward: the same
 * checks, error frame and hook. For the fusions of nn/sequential.c. */
nb_tensor *nb_forward_fused(nb_module *m, nb_tensor *x, nb_fused_forward_fn fn, const nb_module *after);

/* Conv2d, ReLU[, MaxPool2d] as one op (nn/sequential.c): whether m is a
 * Conv2d, ReLU or MaxPool2d layer, and the Conv2d's forward fused with the
 * ReLU and, when `pool` is not NULL, that MaxPool2d layer. */
bool nb_is_conv2d_layer(const nb_module *m);
bool nb_is_relu_layer(const nb_module *m);
bool nb_is_max_pool2d_layer(const nb_module *m);
nb_tensor *nb_conv2d_layer_fused_forward(nb_module *m, nb_tensor *x, const nb_module *pool);

#endif
