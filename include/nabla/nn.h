/* nabla/nn.h — models and layers (torch.nn): the module tree with named
 * parameters, the built-in layers and initialisers (torch.nn.init).
 * Checkpoints of a training run are in nabla/io.h.
 *
 * A module owns its parameters (persistent tensors with requires_grad), its
 * children and its state; nb_module_free() frees all of it. Parameter names are
 * dotted paths as in PyTorch's state_dict: "0.weight" for the first layer of a
 * sequential, "fc1.bias" for a child registered as "fc1". */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stdio.h>
#include "activations.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef struct nb_module nb_module;

/* y = forward(m, x). The function reads its parameters from m (or from the
 * pointers kept in m->user) and runs its children with nb_forward(). */
typedef nb_tensor *(*nb_forward_fn)(nb_module *m, nb_tensor *x);

struct nb_module {
    char *kind;    /* "Linear", "Sequential", "relu", a custom model's name */
    bool training; /* train (default) or eval mode: nb_module_train() */
    nb_forward_fn forward;
    int n_params; /* own parameters (children's not included) */
    nb_tensor **params;
    char **param_names;
    int n_buffers; /* own buffers: state that is saved but not trained */
    nb_tensor **buffers;
    char **buffer_names;
    int n_children;
    nb_module **children;
    char **child_names;
    bool *param_tied; /* [n_params] or NULL: params[i] is tied (nb_module_tie), owned elsewhere */
    void *user;       /* the forward function's state */
    void (*free_user)(void *user); /* if set, nb_module_free() calls it on user */
    nb_generator *generator;       /* stochastic layers (dropout): their own, seeded generator */
    /* PyTorch's extra_repr: the hyper-parameters inside "Linear(...)" in
     * error messages ("in_features=64, out_features=32, bias=True"); NULL for
     * none. Writes at most size bytes into buf, NUL-terminated. */
    void (*extra_repr)(const nb_module *m, char *buf, size_t size);
};

/* ---- Modules ----------------------------------------------------------- */

/* A module of your own: kind is its type name (copied), forward its function,
 * user anything the forward needs (not freed unless you set m->free_user). */
nb_module *nb_module_new(const char *kind, nb_forward_fn forward, void *user);
/* Register a parameter under `name` (no dots): the module takes ownership of
 * the persistent tensor t and sets its requires_grad. Returns t. On failure
 * (duplicate name, step tensor) returns NULL and frees t, so that
 * nb_module_param(m, "w", nb_randn(...)) never leaks. */
nb_tensor *nb_module_param(nb_module *m, const char *name, nb_tensor *t);
/* Weight tying (PyTorch: lm_head.weight = wte.weight): m's parameter `name`
 * becomes t, a parameter owned by another module of the same tree, of the
 * same shape; m's own tensor is freed. Both names stay in the state_dict
 * (nb_module_state_dict lists the one tensor twice, as PyTorch's does), and
 * nb_module_parameters lists it once, under its first name (PyTorch's
 * named_parameters drops duplicates), so an optimizer updates it once with
 * the sum of both uses' gradients. The built-in layers read their
 * parameters from m->params at every forward, so the tie takes effect at
 * once. Returns t, or NULL with an error (nothing changed). Free the tree
 * from its root: the owner frees t. */
nb_tensor *nb_module_tie(nb_module *m, const char *name, nb_tensor *t);
/* Register a buffer (PyTorch's register_buffer): state that belongs to the
 * module, is saved in its state_dict and checkpoints, and is not a parameter
 * (no gradient, not given to optimizers), such as BatchNorm's running_mean.
 * Ownership and failure as nb_module_param. Returns t. */
nb_tensor *nb_module_buffer(nb_module *m, const char *name, nb_tensor *t);
/* Register a child under `name` (no dots), taking ownership; on failure returns
 * -1 and frees child. */
int nb_module_add(nb_module *m, const char *name, nb_module *child);
/* Run m on x (checks the arguments, then m->forward). An error recorded
 * during the forward starts with where in the model it happened: the
 * module's path from the root (the root's kind in lower case, then the child
 * names of nb_module_child) and the module as PyTorch prints it,
 *   sequential.2 Linear(in_features=64, out_features=32, bias=True): linear: input [8,128] ...
 * which costs nothing unless an error happens. */
nb_tensor *nb_forward(nb_module *m, nb_tensor *x);
/* Free m, its parameters, its children and (through free_user) its state. */
void nb_module_free(nb_module *m);

/* Every parameter of the tree, depth first (own parameters, then each child's),
 * with its dotted name: PyTorch's named_parameters() / state_dict() order. */
typedef struct nb_param_list {
    int count;
    nb_tensor **tensors;
    char **names;
} nb_param_list;
/* Fills *out (free with nb_param_list_free). Returns count, or -1. */
int nb_module_parameters(nb_module *m, nb_param_list *out);
/* Every buffer of the tree with its dotted name (named_buffers()). */
int nb_module_buffers(nb_module *m, nb_param_list *out);
/* Parameters and buffers in state_dict() order: each module's parameters, then
 * its buffers, then its children's, depth first ("0.weight", "0.bias",
 * "0.running_mean", ...). What checkpoints save under "model.". */
int nb_module_state_dict(nb_module *m, nb_param_list *out);
void nb_param_list_free(nb_param_list *list);
/* The parameter or buffer at a dotted path ("fc1.weight"), or NULL with an error. */
nb_tensor *nb_module_get(nb_module *m, const char *name);
/* The child at a dotted path ("0", "encoder.fc1"), or NULL with an error. */
nb_module *nb_module_child(nb_module *m, const char *name);
/* Number of scalar parameters in the tree. */
int64_t nb_module_num_params(const nb_module *m);
/* Zero the gradient of every parameter (optimizer.zero_grad()). */
void nb_module_zero_grad(nb_module *m);
/* Train (true) or eval (false) mode for m and every descendant: dropout is the
 * identity in eval mode. */
void nb_module_train(nb_module *m, bool training);
/* Reseed every stochastic layer of the tree (the k-th in depth-first order
 * from seed + k): the same seed gives the same dropout masks. At construction
 * a stochastic layer takes its seed from nb_default_generator(), so
 * nb_manual_seed() before building a model does the same. */
void nb_module_seed(nb_module *m, uint64_t seed);
/* Print a torchsummary-style table after a forward pass on a zero input of the
 * given shape (no grad): each layer, its output shape, its parameter count,
 * then the totals. Returns 0, or -1 when the forward fails. */
int nb_module_summary(nb_module *m, FILE *f, int ndim, const int64_t *input_shape);

/* ---- Layers ------------------------------------------------------------ */

/* torch.nn.Linear: y = x W^T + b, weight [out,in], bias [out], x [..., in].
 * Initialised as PyTorch does: W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform
 * with a = sqrt(5)), b ~ U(-1/sqrt(in), 1/sqrt(in)). */
nb_module *nb_linear(int64_t in_features, int64_t out_features);
/* With or without the bias, initialised from g (NULL: default generator). */
nb_module *nb_linear_ex(int64_t in_features, int64_t out_features, bool bias, nb_generator *g);
/* The fused op behind it is nb_linear_op (nabla/ops.h). */

/* An activation of the registry as a layer: nb_act("relu"); NULL (with the
 * registry's error) for an unknown name. Its kind is torch.nn's class name
 * ("ReLU", "LeakyReLU"; a->class_name). params: the activation's scalar
 * parameters (a->n_params values), NULL for PyTorch's defaults. A learnable
 * activation owns its parameter (one element of learnable_init, named
 * a->learnable_name: "weight" for prelu, "beta" for swish). */
nb_module *nb_act(const char *name);
nb_module *nb_act_layer(const nb_activation *a, const nb_real *params);
/* torch.nn.PReLU(num_parameters): parameter "weight" [num_parameters], 0.25. */
nb_module *nb_prelu_layer(int64_t num_parameters);
/* swish x * sigmoid(beta x): beta a learnable parameter "beta" (1.0), as
 * nb_act("swish") has it, or fixed at 1. */
nb_module *nb_swish_layer(bool learnable);
/* Linear in -> out*pieces, then the maximum of each group of `pieces`:
 * out features (Goodfellow et al., 2013). Child "linear". */
nb_module *nb_maxout_layer(int64_t in_features, int64_t out_features, int pieces);
/* torch.nn.Flatten(start_dim, end_dim); PyTorch's default is (1, -1). */
nb_module *nb_flatten_layer(int start_dim, int end_dim);

/* torch.nn.Dropout(p): in train mode zeroes each element with probability p and
 * scales the rest by 1/(1-p); the identity in eval mode. */
nb_module *nb_dropout(double p);
/* torch.nn.AlphaDropout(p), for SELU networks: keeps zero mean and unit
 * variance; the identity in eval mode. */
nb_module *nb_alpha_dropout(double p);
/* The ops behind them are nb_dropout_op and nb_alpha_dropout_op (nabla/ops.h). */

/* torch.nn.Sequential: takes ownership of the n layers (children "0", "1", ...).
 * If one of them is NULL, frees the others and returns NULL (passing the
 * error on), so layers can be constructed inline. */
nb_module *nb_sequential(int n, ...);
/* Append a layer (named by its index), taking ownership; -1 and frees layer on failure. */
int nb_sequential_add(nb_module *seq, nb_module *layer);

/* ---- Initialisers (torch.nn.init) ---------------------------------------
 * All fill a tensor in place from g (NULL: default generator): the same seed
 * gives the same bits. They return t, or NULL with an error. */

typedef enum nb_fan_mode { NB_FAN_IN = 0, NB_FAN_OUT } nb_fan_mode;

/* torch.nn.init._calculate_fan_in_and_fan_out: for t of rank >= 2,
 * fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, the
 * receptive field being the product of dims 2... Returns 0, or -1. */
int nb_calculate_fan(const nb_tensor *t, int64_t *fan_in, int64_t *fan_out);
/* torch.nn.init.calculate_gain: linear, conv1d..3d, conv_transpose1d..3d and
 * sigmoid 1; tanh 5/3; relu sqrt(2); leaky_relu sqrt(2 / (1 + slope^2)) with
 * slope = param (NAN: PyTorch's default 0.01); selu 3/4. NAN with an error for
 * another name. */
double nb_calculate_gain(const char *nonlinearity, double param);

nb_tensor *nb_init_uniform_(nb_tensor *t, double a, double b, nb_generator *g);
nb_tensor *nb_init_normal_(nb_tensor *t, double mean, double std, nb_generator *g);
nb_tensor *nb_init_constant_(nb_tensor *t, double value);
/* Glorot: U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)); N(0, std^2) with
 * std = gain sqrt(2 / (fan_in + fan_out)). PyTorch's default gain is 1. */
nb_tensor *nb_init_xavier_uniform_(nb_tensor *t, double gain, nb_generator *g);
nb_tensor *nb_init_xavier_normal_(nb_tensor *t, double gain, nb_generator *g);
/* He: std = gain / sqrt(fan) with gain = calculate_gain(nonlinearity, a) and fan
 * the mode's; uniform on +-sqrt(3) std, or normal. PyTorch's defaults: a = 0,
 * NB_FAN_IN, "leaky_relu" (nonlinearity NULL means "leaky_relu"). */
nb_tensor *nb_init_kaiming_uniform_(nb_tensor *t, double a, nb_fan_mode mode, const char *nonlinearity,
                                    nb_generator *g);
nb_tensor *nb_init_kaiming_normal_(nb_tensor *t, double a, nb_fan_mode mode, const char *nonlinearity,
                                   nb_generator *g);
/* LeCun normal, for SELU networks: N(0, 1 / fan_in). */
nb_tensor *nb_init_lecun_normal_(nb_tensor *t, nb_generator *g);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
