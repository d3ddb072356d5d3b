/* nabla/optim.h — optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) with the
 * update rules, defaults and parameter groups of torch.optim, learning-rate
 * schedules with PyTorch's closed forms, and gradient-norm clipping.
 *
 * Options are one struct, nb_optim_opts, made by the macro of the algorithm
 * (NB_SGD_OPTS, NB_ADAM_OPTS, NB_ADAMW_OPTS, NB_RMSPROP_OPTS,
 * NB_ADAGRAD_OPTS): PyTorch's defaults, then the fields you name, so what you
 * write is what you get, 0 included (see "Options" in nabla/config.h):
 *
 *     nb_optim *opt = nb_adamw(params, n, NB_ADAMW_OPTS(.lr = 3e-4, .weight_decay = 0.1));
 *     for (...) {
 *         nb_optim_zero_grad(opt);
 *         nb_backward(loss);
 *         nb_optim_step(opt);
 *         nb_step_end();
 *     }
 *     nb_optim_free(opt);
 */
#ifndef NABLA_OPTIM_H
#define NABLA_OPTIM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef struct nb_optim nb_optim;

typedef enum nb_optim_kind {
    NB_OPTIM_NONE = 0,
    NB_SGD,
    NB_ADAM,
    NB_ADAMW,
    NB_RMSPROP,
    NB_ADAGRAD
} nb_optim_kind;

/* The options of every algorithm, PyTorch's keyword arguments under their
 * names. A field an algorithm does not have must stay 0 (an error otherwise,
 * e.g. .momentum for Adam). Defaults (torch 1.13, torch/optim/<name>.py; SGD's
 * lr is torch 2's default, 1.13 requires it):
 *                sgd      adam         adamw        rmsprop   adagrad
 *   lr           1e-3     1e-3         1e-3         1e-2      1e-2
 *   weight_decay 0        0            1e-2         0         0
 *   betas                 0.9, 0.999   0.9, 0.999
 *   eps                   1e-8         1e-8         1e-8      1e-10
 *   momentum     0                                  0
 *   alpha                                           0.99
 *   every other field false or 0.
 *
 * torch.optim.SGD: g ← ∇ (negated if maximize) + weight_decay·θ;
 *   with momentum μ: b ← g at the first step, else μ b + (1 - dampening) g;
 *   g ← g + μ b (nesterov) or b; θ ← θ - lr g.
 * torch.optim.Adam / AdamW: m ← β1 m + (1-β1) g, v ← β2 v + (1-β2) g²,
 *   θ ← θ - lr/(1-β1^t) · m / (√v / √(1-β2^t) + eps)   (√max(v) with amsgrad).
 *   Adam adds weight_decay·θ to g (L2); AdamW first scales θ by
 *   1 - lr·weight_decay (decoupled, Loshchilov & Hutter).
 * torch.optim.RMSprop: v ← α v + (1-α) g²; centered: ḡ ← α ḡ + (1-α) g and
 *   v̂ = v - ḡ², else v̂ = v; with momentum μ: b ← μ b + g / (√v̂ + eps),
 *   θ ← θ - lr b; without: θ ← θ - lr g / (√v̂ + eps).
 * torch.optim.Adagrad: s ← s + g² (s starts at initial_accumulator_value),
 *   θ ← θ - lr / (1 + (t-1) lr_decay) · g / (√s + eps). */
typedef struct nb_optim_opts {
    uint32_t nb_tag;    /* set by the macros and nb_<name>_defaults() */
    nb_optim_kind kind; /* the algorithm */
    double lr;
    double weight_decay;
    bool maximize;
    double momentum;                  /* sgd, rmsprop */
    double dampening;                 /* sgd */
    bool nesterov;                    /* sgd: needs momentum > 0 and dampening 0 */
    double betas[2];                  /* adam, adamw */
    double eps;                       /* adam, adamw, rmsprop, adagrad */
    bool amsgrad;                     /* adam, adamw */
    double alpha;                     /* rmsprop */
    bool centered;                    /* rmsprop */
    double lr_decay;                  /* adagrad */
    double initial_accumulator_value; /* adagrad */
} nb_optim_opts;

#define NB_SGD_OPTS(...) NB_OPTS_(nb_optim_opts, .kind = NB_SGD, .lr = 1e-3, __VA_ARGS__)
#define NB_ADAM_OPTS(...)                                                                                    \
    NB_OPTS_(nb_optim_opts, .kind = NB_ADAM, .lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, __VA_ARGS__)
#define NB_ADAMW_OPTS(...)                                                                                   \
    NB_OPTS_(nb_optim_opts, .kind = NB_ADAMW, .lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8,                \
             .weight_decay = 1e-2, __VA_ARGS__)
#define NB_RMSPROP_OPTS(...)                                                                                 \
    NB_OPTS_(nb_optim_opts, .kind = NB_RMSPROP, .lr = 1e-2, .alpha = 0.99, .eps = 1e-8, __VA_ARGS__)
#define NB_ADAGRAD_OPTS(...)                                                                                 \
    NB_OPTS_(nb_optim_opts, .kind = NB_ADAGRAD, .lr = 1e-2, .eps = 1e-10, __VA_ARGS__)
nb_optim_opts nb_sgd_defaults(void);
nb_optim_opts nb_adam_defaults(void);
nb_optim_opts nb_adamw_defaults(void);
nb_optim_opts nb_rmsprop_defaults(void);
nb_optim_opts nb_adagrad_defaults(void);

/* Create an optimizer over n_params persistent tensors (the array is copied;
 * the tensors must outlive the optimizer), its parameter group 0. opts must be
 * of the constructor's algorithm (NB_ADAMW_OPTS for nb_adamw). State is
 * allocated here, zeroed. NULL with an error for a bad option (same checks as
 * PyTorch) or parameter. */
nb_optim *nb_sgd(nb_tensor *const *params, int n_params, nb_optim_opts opts);
nb_optim *nb_adam(nb_tensor *const *params, int n_params, nb_optim_opts opts);
nb_optim *nb_adamw(nb_tensor *const *params, int n_params, nb_optim_opts opts);
nb_optim *nb_rmsprop(nb_tensor *const *params, int n_params, nb_optim_opts opts);
nb_optim *nb_adagrad(nb_tensor *const *params, int n_params, nb_optim_opts opts);

/* One update of every parameter that has a gradient; a parameter whose grad is
 * NULL is skipped and its state (step count included) left as is, as in
 * PyTorch. Records nothing on the tape. 0, or -1 with an error. */
int nb_optim_step(nb_optim *opt);
/* Zero every parameter's gradient in place (PyTorch's zero_grad with
 * set_to_none=False: buffers are kept, so a step allocates nothing). A zero
 * gradient is still a gradient: the parameter is updated (decay, momentum). */
void nb_optim_zero_grad(nb_optim *opt);
/* The lr of every group (for g in opt.param_groups: g['lr'] = lr), and group 0's. */
void nb_optim_set_lr(nb_optim *opt, double lr);
double nb_optim_get_lr(const nb_optim *opt);
void nb_optim_free(nb_optim *opt);

/* ---- Parameter groups (torch.optim's param_groups) ------------------------
 * The constructor makes group 0; nb_optim_add_param_group adds group 1, 2, ...
 * over more parameters with options of its own (of the same algorithm). As
 * in PyTorch, a parameter is in at most one group, and state is numbered over
 * all parameters in group order. E.g. no weight decay on PReLU's alpha:
 *
 *     nb_optim *opt = nb_adamw(weights, n, NB_ADAMW_OPTS(.lr = 1e-3, .weight_decay = 0.1));
 *     nb_optim_add_param_group(opt, &alpha, 1, NB_ADAMW_OPTS(.lr = 1e-3, .weight_decay = 0));
 *
 * Returns the new group's index, or -1 with an error (nothing changed). */
int nb_optim_add_param_group(nb_optim *opt, nb_tensor *const *params, int n_params, nb_optim_opts opts);
int nb_optim_group_count(const nb_optim *opt);
/* Every effective option of group g (optimizer.param_groups[g]); lr is the
 * current one, as a scheduler set it. A zeroed struct with an error for a bad g. */
nb_optim_opts nb_optim_group_opts(const nb_optim *opt, int group);
/* Replace group g's options (param_groups[g]['weight_decay'] = 0), checked as
 * at creation; the ones that decide the state buffers (amsgrad, momentum zero
 * or not, centered) cannot change. 0, or -1 with an error. */
int nb_optim_set_group_opts(nb_optim *opt, int group, nb_optim_opts opts);
/* The parameters of group g, *n_params of them (NULL and 0 for a bad g). */
nb_tensor *const *nb_optim_group_params(const nb_optim *opt, int group, int *n_params);

/* The state as named tensors, for checkpoints (safetensors names): per
 * parameter i, "state.<i>.step" (rank 0, updates applied to that parameter)
 * and the buffers of the optimizer, each of the parameter's shape:
 *   sgd (momentum > 0)  "state.<i>.momentum_buffer"
 *   adam, adamw         "state.<i>.exp_avg", "state.<i>.exp_avg_sq",
 *                       "state.<i>.max_exp_avg_sq" (amsgrad)
 *   rmsprop             "state.<i>.square_avg", "state.<i>.momentum_buffer"
 *                       (momentum > 0), "state.<i>.grad_avg" (centered)
 *   adagrad             "state.<i>.sum"
 * The names are PyTorch's state_dict keys. nb_optim_state(opt, k, &name)
 * returns the k-th tensor (0 <= k < nb_optim_state_count(opt)) and its name;
 * writing into it (e.g. nb_copy_ from a checkpoint) restores the state.
 * The index i runs over the parameters of every group in group order.
 * Step counts are nb_real, exact up to 2^24 steps in float32 (as PyTorch's
 * float32 step tensors). */
int nb_optim_state_count(const nb_optim *opt);
nb_tensor *nb_optim_state(nb_optim *opt, int k, const char **name);

/* ---- Learning-rate schedules ---------------------------------------------
 * A scheduler sets the lr of each parameter group from the group's base lr
 * (its lr when a scheduler first saw it: PyTorch's group['initial_lr'],
 * shared by later schedulers) and an epoch counter: lr(0) at creation, then
 * nb_scheduler_step() moves to the next epoch. Each lr is PyTorch's closed
 * form (_get_closed_form_lr), so it does not drift with the number of steps
 * (PyTorch's recursive form can differ from it in the last bits). */
typedef struct nb_scheduler nb_scheduler;

/* Every argument is taken as written (PyTorch's defaults, where it has them,
 * are given beside each). */
/* StepLR: base · gamma^⌊epoch / step_size⌋ (PyTorch: gamma=0.1) */
nb_scheduler *nb_step_lr(nb_optim *opt, int64_t step_size, double gamma);
/* ExponentialLR: base · gamma^epoch */
nb_scheduler *nb_exponential_lr(nb_optim *opt, double gamma);
/* CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(π epoch / T_max)) / 2 */
nb_scheduler *nb_cosine_annealing_lr(nb_optim *opt, int64_t T_max, double eta_min);
/* LinearLR: base · (start + (end - start) · min(epoch, total_iters) / total_iters)
 * (PyTorch: start_factor=1/3, end_factor=1.0, total_iters=5). */
nb_scheduler *nb_linear_lr(nb_optim *opt, double start_factor, double end_factor, int64_t total_iters);
/* SequentialLR: schedulers[k] runs from milestones[k-1] (its own epoch counted
 * from there). Takes ownership of the n schedulers (made on the same
 * optimizer), also when it fails. */
nb_scheduler *nb_sequential_lr(nb_optim *opt, nb_scheduler *const *schedulers, int n,
                               const int64_t *milestones);
/* Linear warm-up from base·start_factor to base over warmup_iters epochs, then
 * cosine annealing to eta_min over the remaining total_iters - warmup_iters:
 * SequentialLR([LinearLR(start_factor, 1, warmup), CosineAnnealingLR(total -
 * warmup, eta_min)], [warmup]). */
nb_scheduler *nb_warmup_cosine(nb_optim *opt, int64_t warmup_iters, int64_t total_iters, double start_factor,
                               double eta_min);

/* Next epoch: sets every group's lr and returns group 0's. */
double nb_scheduler_step(nb_scheduler *s);
double nb_scheduler_get_lr(const nb_scheduler *s);
int64_t nb_scheduler_last_epoch(const nb_scheduler *s);
/* Jump to an epoch (resuming from a checkpoint): sets the lr of that epoch. */
double nb_scheduler_set_last_epoch(nb_scheduler *s, int64_t epoch);
void nb_scheduler_free(nb_scheduler *s);

/* ---- Clipping -------------------------------------------------------------
 * torch.nn.utils.clip_grad_norm_ (norm_type 2): the L2 norm of all gradients
 * together, and every gradient scaled by min(1, max_norm / (norm + 1e-6)).
 * Parameters with a NULL grad are skipped. Returns the norm before clipping
 * (NaN with an error for bad arguments). */
nb_real nb_clip_grad_norm(nb_tensor *const *params, int n_params, nb_real max_norm);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
