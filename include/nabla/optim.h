/* nabla/optim.h — optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) with the
 * update rules and defaults of torch.optim, learning-rate schedules with
 * PyTorch's closed forms, and gradient-norm clipping.
 *
 * Options structs are written with designated initializers; a field left zero
 * takes PyTorch's default (listed beside it). Where zero is a legal value that
 * is not the default (betas, eps, alpha, AdamW's weight_decay), write NB_ZERO:
 * it is -0.0, which the optimizer reads as a literal zero.
 *
 *     nb_optim *opt = nb_adamw(params, n, (nb_adam_opts){.lr = 3e-4});
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

#define NB_ZERO (-0.0)

typedef struct nb_optim nb_optim;

/* torch.optim.SGD: g ← ∇ (negated if maximize) + weight_decay·θ;
 * with momentum μ: b ← g at the first step, else μ b + (1 - dampening) g;
 * g ← g + μ b (nesterov) or b; θ ← θ - lr g. */
typedef struct nb_sgd_opts {
    double lr;           /* 1e-3 */
    double momentum;     /* 0 */
    double dampening;    /* 0 */
    double weight_decay; /* 0: L2 penalty added to the gradient */
    bool nesterov;       /* needs momentum > 0 and dampening 0 */
    bool maximize;
} nb_sgd_opts;

/* torch.optim.Adam / AdamW: m ← β1 m + (1-β1) g, v ← β2 v + (1-β2) g²,
 * θ ← θ - lr/(1-β1^t) · m / (√v / √(1-β2^t) + eps)   (√max(v) with amsgrad).
 * Adam adds weight_decay·θ to g (L2); AdamW first scales θ by 1 - lr·weight_decay
 * (decoupled, Loshchilov & Hutter). */
typedef struct nb_adam_opts {
    double lr;           /* 1e-3 */
    double betas[2];     /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* Adam: 0; AdamW: 1e-2 (NB_ZERO for none) */
    bool amsgrad;
    bool maximize;
} nb_adam_opts;

/* torch.optim.RMSprop: v ← α v + (1-α) g²; centered: ḡ ← α ḡ + (1-α) g and
 * v̂ = v - ḡ², else v̂ = v; with momentum μ: b ← μ b + g / (√v̂ + eps),
 * θ ← θ - lr b; without: θ ← θ - lr g / (√v̂ + eps). */
typedef struct nb_rmsprop_opts {
    double lr;           /* 1e-2 */
    double alpha;        /* 0.99 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
    double momentum;     /* 0 */
    bool centered;
    bool maximize;
} nb_rmsprop_opts;

/* torch.optim.Adagrad: s ← s + g² (s starts at initial_accumulator_value),
 * θ ← θ - lr / (1 + (t-1) lr_decay) · g / (√s + eps). */
typedef struct nb_adagrad_opts {
    double lr;                        /* 1e-2 */
    double lr_decay;                  /* 0 */
    double weight_decay;              /* 0 */
    double initial_accumulator_value; /* 0 */
    double eps;                       /* 1e-10 */
    bool maximize;
} nb_adagrad_opts;

/* Create an optimizer over n_params persistent tensors (the array is copied;
 * the tensors must outlive the optimizer). State is allocated here, zeroed.
 * NULL with an error for a bad option (same checks as PyTorch) or parameter. */
nb_optim *nb_sgd(nb_tensor *const *params, int n_params, nb_sgd_opts opts);
nb_optim *nb_adam(nb_tensor *const *params, int n_params, nb_adam_opts opts);
nb_optim *nb_adamw(nb_tensor *const *params, int n_params, nb_adam_opts opts);
nb_optim *nb_rmsprop(nb_tensor *const *params, int n_params, nb_rmsprop_opts opts);
nb_optim *nb_adagrad(nb_tensor *const *params, int n_params, nb_adagrad_opts opts);

/* One update of every parameter that has a gradient; a parameter whose grad is
 * NULL is skipped and its state (step count included) left as is, as in
 * PyTorch. Records nothing on the tape. 0, or -1 with an error. */
int nb_optim_step(nb_optim *opt);
/* Zero every parameter's gradient in place (PyTorch's zero_grad with
 * set_to_none=False: buffers are kept, so a step allocates nothing). A zero
 * gradient is still a gradient: the parameter is updated (decay, momentum). */
void nb_optim_zero_grad(nb_optim *opt);
void nb_optim_set_lr(nb_optim *opt, double lr);
double nb_optim_get_lr(const nb_optim *opt);
void nb_optim_free(nb_optim *opt);

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
 * Resuming bit-identically: recreate the optimizer with the same parameters
 * (same order) and options, copy parameters and every state tensor back, set
 * the scheduler to its saved epoch (nb_scheduler_set_last_epoch), and run the
 * same data order; the update is deterministic (thread-count independent).
 * Step counts are nb_real, exact up to 2^24 steps in float32 (as PyTorch's
 * float32 step tensors). */
int nb_optim_state_count(const nb_optim *opt);
nb_tensor *nb_optim_state(nb_optim *opt, int k, const char **name);

/* ---- Learning-rate schedules ---------------------------------------------
 * A scheduler sets the optimizer's lr from a base lr (the optimizer's lr when
 * its first scheduler was made: PyTorch's initial_lr, shared by later ones) and
 * an epoch counter: lr(0) at creation, then
 * nb_scheduler_step() moves to the next epoch. Each lr is PyTorch's closed
 * form (_get_closed_form_lr), so it does not drift with the number of steps
 * (PyTorch's recursive form can differ from it in the last bits). */
typedef struct nb_scheduler nb_scheduler;

/* StepLR: base · gamma^⌊epoch / step_size⌋ (gamma: 0 means 0.1) */
nb_scheduler *nb_step_lr(nb_optim *opt, int64_t step_size, double gamma);
/* ExponentialLR: base · gamma^epoch */
nb_scheduler *nb_exponential_lr(nb_optim *opt, double gamma);
/* CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(π epoch / T_max)) / 2 */
nb_scheduler *nb_cosine_annealing_lr(nb_optim *opt, int64_t T_max, double eta_min);
/* LinearLR: base · (start + (end - start) · min(epoch, total_iters) / total_iters);
 * zero factors and total_iters take PyTorch's defaults 1/3, 1.0 and 5. */
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

/* Next epoch: sets and returns the new lr. */
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
