/* nn/layer.h — what the files of src/nn share: a module with zeroed state that
 * it owns (how every built-in layer is made) and the hook nb_forward() calls
 * after each forward (how nb_module_summary() sees every layer's output). */
#ifndef NB_NN_LAYER_H
#define NB_NN_LAYER_H

#include "internal.h"
#include "nabla/nn.h"

/* nb_module_new() with user = `state_size` zeroed bytes freed with the module. */
nb_module *nb_layer_new(const char *kind, nb_forward_fn forward, size_t state_size);

/* Called by nb_forward() with each module and its output; NULL for none.
 * Returns the previous hook (and its ctx through *prev_ctx). */
typedef void (*nb_forward_hook)(nb_module *m, nb_tensor *y, void *ctx);
nb_forward_hook nb_set_forward_hook(nb_forward_hook hook, void *ctx, void **prev_ctx);

#endif
