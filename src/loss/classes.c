/* loss/classes.c — reading class-index targets for cross-entropy and NLL:
 * shapes, integrality, range, the ignore index and the class weights, with
 * errors naming the row; the mean's divisor is PyTorch's Σ weight[y_i]. */
#include <math.h>
#include "loss/loss.h"

/* A step copy of the class weights: [C] finite values, no gradient. */
static bool read_weight(const char *op, const nb_tensor *x, const nb_tensor *weight, nb_class_target *ct)
{
    ct->w = NULL;
    ct->w_total = (double)ct->c;
    if (!weight)
        return true;
    if (!nb_check_input(op, 3, weight))
        return false;
    if (weight->ndim != 1 || weight->shape[0] != ct->c) {
        nb_error(NB_ERR_SHAPE, "%s: weight %s must be [C] = [%lld] for input %s", op, nb_shape_fmt(weight),
                 (long long)ct->c, nb_shape_fmt(x));
        return false;
    }
    if (weight->requires_grad) {
        nb_error(NB_ERR_ARG,
                 "%s: weight %s requires a gradient, which the loss does not compute (as PyTorch)", op,
                 nb_shape_fmt(weight));
        return false;
    }
    nb_real *w = nb_step_alloc((size_t)ct->c * sizeof *w);
    if (!w)
        return false;
    ct->w_total = 0;
    for (int64_t k = 0; k < ct->c; k++) {
        if (!isfinite((double)weight->data[k])) {
            nb_error(NB_ERR_ARG, "%s: weight[%lld] = %g is not finite", op, (long long)k,
                     (double)weight->data[k]);
            return false;
        }
        w[k] = weight->data[k];
        ct->w_total += (double)w[k];
    }
    ct->w = w;
    return true;
}

bool nb_class_target_read(const char *op, const nb_tensor *x, const nb_tensor *target,
                          const nb_tensor *weight, int64_t ignore_index, nb_class_target *ct)
{
    if (x->ndim != 1 && x->ndim != 2) {
        nb_error(NB_ERR_SHAPE, "%s: input %s: expected [N,C] or [C]", op, nb_shape_fmt(x));
        return false;
    }
    ct->batched = x->ndim == 2;
    ct->n = ct->batched ? x->shape[0] : 1;
    ct->c = x->shape[x->ndim - 1];
    if (target->ndim != x->ndim - 1 || (ct->batched && target->shape[0] != ct->n)) {
        nb_error(NB_ERR_SHAPE, "%s: input %s and target %s: expected target %s", op, nb_shape_fmt(x),
                 nb_shape_fmt(target), ct->batched ? nb_dims_fmt(1, &ct->n) : "[]");
        return false;
    }
    if (ct->c == 0) {
        nb_error(NB_ERR_SHAPE, "%s: input %s has no classes", op, nb_shape_fmt(x));
        return false;
    }
    if (!read_weight(op, x, weight, ct))
        return false;
    ct->y = nb_step_alloc((size_t)(ct->n ? ct->n : 1) * sizeof *ct->y);
    if (!ct->y)
        return false;
    ct->divisor = 0;
    for (int64_t i = 0; i < ct->n; i++) {
        double v = (double)target->data[i];
        bool integral = v == nearbyint(v) && fabs(v) < 0x1p62;
        int64_t k = integral ? (int64_t)v : 0;
        if (integral && k == ignore_index) {
            ct->y[i] = -1;
            continue;
        }
        if (!integral || k < 0 || k >= ct->c) {
            nb_error(NB_ERR_ARG,
                     "%s: target[%lld] = %g is not a class index in 0..%lld (nor the ignore index %lld)", op,
                     (long long)i, v, (long long)ct->c - 1, (long long)ignore_index);
            return false;
        }
        ct->y[i] = k;
        ct->divisor += (double)nb_class_weight(ct, k);
    }
    return true;
}
