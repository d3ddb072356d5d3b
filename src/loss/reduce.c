/* loss/reduce.c — reducing per-item losses: the deterministic double sum and
 * the output tensor of the class losses. */
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "loss/loss.h"

enum { BLOCK = 1 << 12 };

bool nb_check_reduction(const char *op, nb_reduction r)
{
    if (r == NB_MEAN || r == NB_SUM || r == NB_NONE)
        return true;
    nb_error(NB_ERR_ARG, "%s: reduction %d is not NB_MEAN, NB_SUM or NB_NONE", op, (int)r);
    return false;
}

double nb_loss_sum(const nb_real *l, int64_t n)
{
    double s = 0;
    for (int64_t b = 0; b < n; b += BLOCK)
        s += nb_sum_d(l + b, n - b < BLOCK ? n - b : BLOCK);
    return s;
}

nb_tensor *nb_class_loss_output(const char *op, const nb_class_target *ct, const nb_real *l,
                                nb_reduction reduction)
{
    if (reduction == NB_NONE) {
        nb_tensor *y = nb_tensor_alloc(op, ct->batched ? 1 : 0, &ct->n, false);
        if (y)
            for (int64_t i = 0; i < ct->n; i++)
                y->data[i] = l[i];
        return y;
    }
    nb_tensor *y = nb_tensor_alloc(op, 0, NULL, false);
    if (!y)
        return NULL;
    double s = nb_loss_sum(l, ct->n);
    y->data[0] = (nb_real)(reduction == NB_SUM ? s : s / ct->divisor);
    return y;
}
