/* loss/classes.c — reading class-index targets for cross-entropy and NLL:
 * shapes, integrality, range and the ignore index, with errors naming the row. */
#include <math.h>
#include "loss/loss.h"

bool nb_class_target_read(const char *op, const nb_tensor *x, const nb_tensor *target, int64_t ignore_index,
                          nb_class_target *ct)
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
    ct->y = nb_step_alloc((size_t)(ct->n ? ct->n : 1) * sizeof *ct->y);
    if (!ct->y)
        return false;
    ct->counted = 0;
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
        ct->counted++;
    }
    return true;
}
