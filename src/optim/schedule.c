/* optim/schedule.c — learning-rate schedules of torch.optim.lr_scheduler in
 * their closed forms (each class's _get_closed_form_lr), as functions of the
 * base lr b and the epoch e, applied to every parameter group with its own b
 * (the group's lr when a scheduler first saw it, PyTorch's group['initial_lr']):
 *   StepLR             b · γ^⌊e / step_size⌋
 *   ExponentialLR      b · γ^e
 *   CosineAnnealingLR  η_min + (b − η_min)(1 + cos(π e / T_max)) / 2
 *   LinearLR           b · (s + (f − s) · min(e, T) / T)
 *   SequentialLR       child k (milestones[k−1] <= e < milestones[k]) at epoch
 *                      e − milestones[k−1], as SequentialLR.step restarts it */
#include <math.h>
#include <stdlib.h>
#include "optim/optim.h"

static const double PI = 3.14159265358979323846; /* math.pi */

typedef enum kind { STEP, EXPONENTIAL, COSINE, LINEAR, SEQUENTIAL } kind;

struct nb_scheduler {
    kind k;
    nb_optim *opt;
    int64_t epoch;
    double lr;
    double gamma, eta_min, start, end;
    int64_t period;          /* step_size, T_max or total_iters */
    nb_scheduler **children; /* SEQUENTIAL */
    int64_t *milestones;
    int n;
};

static double lr_at(const nb_scheduler *s, double b, int64_t e)
{
    switch (s->k) {
    case STEP: return b * pow(s->gamma, (double)(e / s->period));
    case EXPONENTIAL: return b * pow(s->gamma, (double)e);
    case COSINE: return s->eta_min + (b - s->eta_min) * (1 + cos(PI * (double)e / (double)s->period)) / 2;
    case LINEAR:
        return b *
               (s->start + (s->end - s->start) * (double)(e < s->period ? e : s->period) / (double)s->period);
    case SEQUENTIAL: {
        int k = 0;
        while (k < s->n - 1 && e >= s->milestones[k])
            k++;
        return lr_at(s->children[k], b, k ? e - s->milestones[k - 1] : e);
    }
    }
    return NAN;
}

double nb_scheduler_set_last_epoch(nb_scheduler *s, int64_t epoch)
{
    if (!s)
        return NAN;
    s->epoch = epoch;
    for (int k = 0; k < s->opt->n_groups; k++) {
        nb_optim_group *g = &s->opt->groups[k];
        if (!g->has_initial_lr) /* group.setdefault('initial_lr', group['lr']) */
            g->initial_lr = g->opts.lr, g->has_initial_lr = true;
        g->opts.lr = lr_at(s, g->initial_lr, epoch);
    }
    s->lr = s->opt->groups[0].opts.lr;
    return s->lr;
}

const char *nb_scheduler_kind_name(const nb_scheduler *s)
{
    static const char *const names[] = {"step_lr", "exponential_lr", "cosine_annealing_lr", "linear_lr",
                                        "sequential_lr"};
    return names[s->k];
}

void nb_scheduler_restore_epoch(nb_scheduler *s, int64_t epoch)
{
    s->epoch = epoch;
    s->lr = s->opt->groups[0].opts.lr;
}

double nb_scheduler_step(nb_scheduler *s) { return s ? nb_scheduler_set_last_epoch(s, s->epoch + 1) : NAN; }
double nb_scheduler_get_lr(const nb_scheduler *s) { return s ? s->lr : NAN; }
int64_t nb_scheduler_last_epoch(const nb_scheduler *s) { return s ? s->epoch : -1; }

void nb_scheduler_free(nb_scheduler *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->n; k++)
        nb_scheduler_free(s->children[k]);
    free(s->children);
    free(s->milestones);
    free(s);
}

/* A scheduler of kind k on opt, at epoch 0 (its lr set). */
static nb_scheduler *make(const char *op, nb_optim *opt, nb_scheduler s)
{
    if (!opt)
        return nb_error(NB_ERR_NULL, "%s: optimizer is NULL", op);
    nb_scheduler *p = malloc(sizeof *p);
    if (!p)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", op);
    *p = s;
    p->opt = opt;
    nb_scheduler_set_last_epoch(p, 0);
    return p;
}

nb_scheduler *nb_step_lr(nb_optim *opt, int64_t step_size, double gamma)
{
    if (step_size < 1)
        return nb_error(NB_ERR_ARG, "step_lr: step_size %lld must be >= 1", (long long)step_size);
    return make("step_lr", opt, (nb_scheduler){.k = STEP, .period = step_size, .gamma = gamma});
}

nb_scheduler *nb_exponential_lr(nb_optim *opt, double gamma)
{
    return make("exponential_lr", opt, (nb_scheduler){.k = EXPONENTIAL, .gamma = gamma});
}

nb_scheduler *nb_cosine_annealing_lr(nb_optim *opt, int64_t T_max, double eta_min)
{
    if (T_max < 1)
        return nb_error(NB_ERR_ARG, "cosine_annealing_lr: T_max %lld must be >= 1", (long long)T_max);
    return make("cosine_annealing_lr", opt, (nb_scheduler){.k = COSINE, .period = T_max, .eta_min = eta_min});
}

nb_scheduler *nb_linear_lr(nb_optim *opt, double start_factor, double end_factor, int64_t total_iters)
{
    const char *op = "linear_lr";
    /* PyTorch's checks (LinearLR.__init__) */
    if (!(start_factor > 0 && start_factor <= 1))
        return nb_error(NB_ERR_ARG, "%s: start_factor %g must be in (0, 1]", op, start_factor);
    if (!(end_factor >= 0 && end_factor <= 1))
        return nb_error(NB_ERR_ARG, "%s: end_factor %g must be in [0, 1]", op, end_factor);
    if (total_iters < 1)
        return nb_error(NB_ERR_ARG, "%s: total_iters %lld must be >= 1", op, (long long)total_iters);
    return make(op, opt,
                (nb_scheduler){.k = LINEAR, .start = start_factor, .end = end_factor, .period = total_iters});
}

static nb_scheduler *free_all(nb_scheduler *const *s, int n)
{
    for (int k = 0; s && k < n; k++)
        nb_scheduler_free(s[k]);
    return NULL;
}

nb_scheduler *nb_sequential_lr(nb_optim *opt, nb_scheduler *const *schedulers, int n,
                               const int64_t *milestones)
{
    const char *op = "sequential_lr";
    if (n < 1 || !schedulers || (n > 1 && !milestones)) {
        nb_error(NB_ERR_ARG, "%s: needs at least one scheduler and %d milestones", op, n - 1);
        return free_all(schedulers, n);
    }
    for (int k = 0; k < n; k++)
        if (!schedulers[k] || schedulers[k]->opt != opt) {
            nb_error(NB_ERR_ARG, "%s: schedulers[%d] is %s", op, k,
                     schedulers[k] ? "made on another optimizer" : "NULL");
            return free_all(schedulers, n);
        }
    for (int k = 0; k + 1 < n; k++)
        if (milestones[k] < 1 || (k && milestones[k] <= milestones[k - 1])) {
            nb_error(NB_ERR_ARG,
                     "%s: milestones[%d] = %lld: milestones must be positive and "
                     "increasing",
                     op, k, (long long)milestones[k]);
            return free_all(schedulers, n);
        }
    nb_scheduler s = {.k = SEQUENTIAL, .n = n};
    s.children = malloc((size_t)n * sizeof *s.children);
    s.milestones = malloc((size_t)n * sizeof *s.milestones);
    if (!s.children || !s.milestones) {
        free(s.children), free(s.milestones);
        nb_error(NB_ERR_MEMORY, "%s: out of memory", op);
        return free_all(schedulers, n);
    }
    for (int k = 0; k < n; k++) {
        s.children[k] = schedulers[k];
        s.milestones[k] = k + 1 < n ? milestones[k] : 0;
    }
    nb_scheduler *p = make(op, opt, s);
    if (!p) {
        free(s.milestones);
        free_all(s.children, n);
        free(s.children);
    }
    return p;
}

nb_scheduler *nb_warmup_cosine(nb_optim *opt, int64_t warmup_iters, int64_t total_iters, double start_factor,
                               double eta_min)
{
    if (warmup_iters < 1 || total_iters <= warmup_iters)
        return nb_error(NB_ERR_ARG,
                        "warmup_cosine: warmup_iters %lld and total_iters %lld: need "
                        "1 <= warmup_iters < total_iters",
                        (long long)warmup_iters, (long long)total_iters);
    nb_scheduler *warm = nb_linear_lr(opt, start_factor, 1.0, warmup_iters);
    nb_scheduler *cos = warm ? nb_cosine_annealing_lr(opt, total_iters - warmup_iters, eta_min) : NULL;
    if (!cos) {
        nb_scheduler_free(warm);
        return NULL;
    }
    return nb_sequential_lr(opt, (nb_scheduler *[]){warm, cos}, 2, &warmup_iters);
}
