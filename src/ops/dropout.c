/* ops/dropout.c — dropout and alpha dropout as ops (torch.nn.functional).
 * Both draw a keep mask m_i ~ Bernoulli(1 - p) and compute y = s_i x + c_i:
 *   dropout (Srivastava et al., 2014):  s_i = m_i / (1 - p), c_i = 0
 *   alpha dropout (Klambauer et al., 2017, section "New Dropout Technique"):
 *     dropped units are set to SELU's negative saturation -alpha' (alpha' =
 *     lambda alpha = 1.7580993408473766), then an affine map restores mean 0 and
 *     variance 1:  a = ((1 - p)(1 + p alpha'^2))^(-1/2),
 *     s_i = a m_i,  c_i = a alpha' (p - 1 + m_i)
 *     (PyTorch's constants and form: aten/src/ATen/native/Dropout.cpp, _dropout_impl).
 * p = 1 gives zeros, as PyTorch. Backward: dx += dy * s_i (the saved scales). */
#include <math.h>
#include "ops/op.h"

typedef struct dropout_saved {
    const nb_real *scale; /* s_i of every element */
} dropout_saved;

static void dropout_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    const nb_real *dy = n->out->grad, *s = ((const dropout_saved *)n->saved)->scale;
    if (dx)
        for (int64_t i = 0; i < n->out->numel; i++)
            dx[i] += dy[i] * s[i];
}

static const nb_op op_dropout = {"dropout", dropout_backward};
static const nb_op op_alpha_dropout = {"alpha_dropout", dropout_backward};

static nb_tensor *dropout(const nb_op *op, nb_tensor *x, double p, bool training, nb_generator *g, bool alpha)
{
    if (!nb_check_input(op->name, 1, x))
        return NULL;
    if (!(p >= 0 && p <= 1))
        return nb_error(NB_ERR_ARG, "%s: probability p = %g must be in [0, 1]", op->name, p);
    if (!training || p == 0)
        return x;
    nb_tensor *y = nb_op_output(x->ndim, x->shape);
    nb_real *s = y ? nb_step_alloc((size_t)x->numel * sizeof *s) : NULL;
    if (!s)
        return NULL;
    double keep = 0, shift_keep = 0, shift_drop = 0;
    if (p < 1 && alpha) {
        const double alpha_p = 1.7580993408473766;
        double a = 1 / sqrt((alpha_p * alpha_p * p + 1) * (1 - p));
        keep = a;
        shift_keep = alpha_p * a * p;
        shift_drop = alpha_p * a * (p - 1);
    } else if (p < 1) {
        keep = 1 / (1 - p);
    }
    if (!g)
        g = nb_default_generator();
    for (int64_t i = 0; i < x->numel; i++) {
        bool k = p < 1 && nb_generator_uniform(g) >= p;
        s[i] = (nb_real)(k ? keep : 0);
        y->data[i] = s[i] * x->data[i] + (nb_real)(k ? shift_keep : shift_drop);
    }
    nb_node *n = nb_record_saved(op, y, 1, &x, sizeof(dropout_saved));
    if (n)
        ((dropout_saved *)n->saved)->scale = s;
    return y;
}

nb_tensor *nb_dropout_op(nb_tensor *x, double p, bool training, nb_generator *g)
{
    return dropout(&op_dropout, x, p, training, g, false);
}

nb_tensor *nb_alpha_dropout_op(nb_tensor *x, double p, bool training, nb_generator *g)
{
    return dropout(&op_alpha_dropout, x, p, training, g, true);
}
