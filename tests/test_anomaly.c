/* tests/test_anomaly.c — anomaly mode (nb_set_detect_anomaly,
 * NABLA_DETECT_ANOMALY): the first NaN or infinity of a step, in a forward
 * output or a backward's gradient, is an error naming the op, its inputs and
 * their makers, and backward refuses the step; off, nothing is checked. */
#include <stdlib.h>
#include "common.h"

TestSuite(anomaly, .init = quiet, .fini = end_step);

Test(anomaly, forward_inf_names_the_op_and_its_input)
{
    nb_set_detect_anomaly(true);
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){1, 0, 2}, NB_SHAPE(3)), true);
    nb_tensor *y = nb_log(x);
    cr_assert_not_null(y);
    assert_error(NB_ERR_STATE,
                 "anomaly: log: the forward output of shape [3] has -inf at element 1; inputs: [3] (a leaf)");
    nb_tensor *loss = nb_sum(nb_mul(y, y)); /* more infinities: not reported again */
    assert_error(NB_ERR_STATE, "anomaly: log:");
    cr_assert_eq(nb_backward(loss), -1);
    assert_error(NB_ERR_STATE,
                 "backward: not run: this step has an anomaly (anomaly: log: the forward output");
    cr_assert_null(x->grad, "backward trained on");
    nb_step_end();
    nb_clear_error();
    /* the next step is checked afresh */
    nb_tensor *ok = nb_sum(nb_mul(x, x));
    cr_assert_eq(nb_backward(ok), 0, "%s", nb_last_error_message());
    cr_assert_eq(x->grad[2], 4);
    nb_free(x);
}

Test(anomaly, the_op_that_made_the_offending_input_is_named)
{
    nb_set_detect_anomaly(true);
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){3, 4}, NB_SHAPE(2)), true);
    nb_tensor *one = nb_ones(NB_SHAPE(2));
    nb_tensor *zero = nb_sub(x, x);
    cr_assert_eq(nb_last_error(), NB_OK);
    nb_div(one, zero);
    assert_error(NB_ERR_STATE, "anomaly: div: the forward output of shape [2] has inf at element 0; inputs: "
                               "[2] (no grad); [2] sub");
    nb_free(x), nb_free(one);
}

Test(anomaly, backward_gradient_names_the_op)
{
    nb_set_detect_anomaly(true);
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){0, 4}, NB_SHAPE(2)), true);
    nb_tensor *loss = nb_sum(nb_sqrt(x)); /* sqrt(0) = 0 is finite; its derivative is not */
    cr_assert_eq(nb_last_error(), NB_OK, "%s", nb_last_error_message());
    cr_assert_eq(nb_backward(loss), -1);
    assert_error(NB_ERR_STATE, "anomaly: backward of sqrt: the gradient of input 1 has inf at element 0 (the "
                               "gradient from its output, of shape [2], is finite); inputs: [2] (a leaf)");
    nb_free(x);
}

Test(anomaly, off_by_default_nothing_is_checked)
{
    cr_assert(!nb_is_anomaly_enabled());
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){1, 0}, NB_SHAPE(2)), true);
    nb_tensor *loss = nb_sum(nb_log(x));
    cr_assert_eq(nb_last_error(), NB_OK);
    cr_assert_eq(nb_backward(loss), 0);
    cr_assert(isinf(x->grad[1]));
    nb_free(x);
}

Test(anomaly, environment_variable_turns_it_on)
{
    setenv("NABLA_DETECT_ANOMALY", "1", 1);
    cr_assert(nb_is_anomaly_enabled());
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){-1}, NB_SHAPE(1)), true);
    nb_sqrt(x);
    assert_error(NB_ERR_STATE, "anomaly: sqrt: the forward output of shape [1] has nan at element 0");
    nb_set_detect_anomaly(false);
    cr_assert(!nb_is_anomaly_enabled());
    nb_free(x);
}
