/* anomaly.c — anomaly mode, the counterpart of torch.autograd.detect_anomaly:
 * when on (nb_set_detect_anomaly or NABLA_DETECT_ANOMALY=1), the output of
 * every recorded op and every gradient a backward writes are checked for NaN
 * and infinity. The first one of a step is an error naming the op, its input
 * shapes and the ops that made them, and backward refuses to train on it. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/env_flag.h"
#include "internal.h"

static atomic_int mode = -1; /* -1: the environment not read yet */

void nb_set_detect_anomaly(bool enabled) { atomic_store(&mode, enabled ? 1 : 0); }

bool nb_is_anomaly_enabled(void) { return nb_env_flag(&mode, "NABLA_DETECT_ANOMALY"); }

static NB_TLS uint64_t flagged_step;   /* the step of this thread's anomaly; 0: none */
static _Thread_local char first[1024]; /* its message */

static int64_t first_bad(const nb_real *v, int64_t n)
{
    for (int64_t i = 0; v && i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return -1;
}

static const char *value_name(nb_real v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* What made t and whether it holds a non-finite value: "[2,3] from exp". */
static size_t describe(char *buf, size_t size, const nb_tensor *t)
{
    if (!t)
        return (size_t)snprintf(buf, size, "NULL");
    int64_t bad = first_bad(t->data, t->numel);
    char holds[64] = "";
    if (bad >= 0)
        if (snprintf(holds, sizeof holds, ", holding %s at element %lld", value_name(t->data[bad]),
                     (long long)bad) < 0)
            holds[0] = '\0';
    return (size_t)snprintf(buf, size, "%s %s%s", nb_shape_fmt(t),
                            t->node            ? t->node->op->name
                            : t->requires_grad ? "(a leaf)"
                                               : "(no grad)",
                            holds);
}

static void inputs(char *buf, size_t size, const nb_node *n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n->n_in && k + 1 < size; i++) {
        k += (size_t)snprintf(buf + k, size - k, i ? "; " : "");
        if (k < size)
            k += describe(buf + k, size - k, n->in[i]);
    }
}

static bool flag(const char *fmt, const char *op, const char *what, const char *ins)
{
    if (snprintf(first, sizeof first, fmt, op, what, ins) < 0) /* a long message is cut */
        first[0] = '\0';
    flagged_step = nb_step_number();
    nb_error(NB_ERR_STATE, "%s", first);
    return false;
}

bool nb_anomaly_check_forward(const nb_node *n)
{
    if (flagged_step == nb_step_number())
        return false; /* only the first of a step is reported */
    int64_t bad = first_bad(n->out->data, n->out->numel);
    if (bad < 0)
        return true;
    char what[240], ins[320];
    if (snprintf(what, sizeof what, "of shape %s has %s at element %lld", nb_shape_fmt(n->out),
                 value_name(n->out->data[bad]), (long long)bad) < 0)
        what[0] = '\0';
    inputs(ins, sizeof ins, n);
    return flag("anomaly: %s: the forward output %s; inputs: %s", n->op->name, what, ins);
}

bool nb_anomaly_check_backward(const nb_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        const nb_tensor *t = n->in[i];
        int64_t bad = t && t->requires_grad ? first_bad(t->grad, t->numel) : -1;
        if (bad < 0)
            continue;
        char what[320], ins[320];
        int64_t up = first_bad(n->out->grad, n->out->numel);
        if (snprintf(what, sizeof what,
                     "of input %d has %s at element %lld (the gradient from its output, of "
                     "shape %s, is %s)",
                     i + 1, value_name(t->grad[bad]), (long long)bad, nb_shape_fmt(n->out),
                     up < 0 ? "finite" : value_name(n->out->grad[up])) < 0)
            what[0] = '\0';
        inputs(ins, sizeof ins, n);
        return flag("anomaly: backward of %s: the gradient %s; inputs: %s", n->op->name, what, ins);
    }
    return true;
}

bool nb_anomaly_refuse_backward(void)
{
    if (flagged_step != nb_step_number())
        return false;
    nb_error(NB_ERR_STATE, "backward: not run: this step has an anomaly (%s)", first);
    return true;
}
