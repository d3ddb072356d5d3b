/* optim/clip.c — torch.nn.utils.clip_grad_norm_ with norm_type 2:
 *   N = √(Σ over all gradients of g²),  c = min(1, max_norm / (N + 1e-6)),
 *   every gradient ← c · gradient   (skipped when c = 1: the identity)
 * The sum of squares is accumulated in double, in an order fixed by the code. */
#include <math.h>
#include "kernels/lanesum.h"
#include "optim/optim.h"

typedef struct job {
    nb_real *g;
    nb_real c;
} job;

NB_VECTORIZE static void scale(nb_real *restrict g, nb_real c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] *= c;
}

static void range(void *ctx, int64_t b, int64_t e)
{
    job *j = ctx;
    scale(j->g + b, j->c, e - b);
}

nb_real nb_clip_grad_norm(nb_tensor *const *params, int n_params, nb_real max_norm)
{
    if (n_params > 0 && !params) {
        nb_error(NB_ERR_NULL, "clip_grad_norm: params is NULL (%d parameters)", n_params);
        return (nb_real)NAN;
    }
    double ss = 0;
    for (int i = 0; i < n_params; i++) {
        if (!nb_check_input("clip_grad_norm", i + 1, params[i]))
            return (nb_real)NAN;
        if (params[i]->grad)
            ss += nb_sumsq_d(params[i]->grad, params[i]->numel);
    }
    double norm = sqrt(ss);
    double c = (double)max_norm / (norm + 1e-6);
    if (!(c >= 1)) /* c < 1, or NaN which spreads as in PyTorch */
        for (int i = 0; i < n_params; i++)
            if (params[i]->grad) {
                job j = {params[i]->grad, (nb_real)c};
                nb_parallel_for(params[i]->numel, NB_OPTIM_GRAIN, range, &j);
            }
    return (nb_real)norm;
}
