/* tests/test_errors.c — error codes and messages, NULL propagation that keeps
 * the first message, the handler, and use of freed step tensors. */
#include "common.h"
#include <criterion/redirect.h>
#include <stdlib.h>

TestSuite(errors, .init = quiet, .fini = end_step);

Test(errors, matmul_style_message_names_op_and_shapes)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(4));
    cr_assert_null(nb_add(a, b));
    assert_error(NB_ERR_SHAPE, "add: [2,3] and [4]: shapes cannot be broadcast (dim -1: 3 vs 4)");
    nb_free(a), nb_free(b);
}

Test(errors, null_is_passed_on_without_overwriting_the_first_message)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(3, 2));
    nb_tensor *y = nb_exp(nb_mul_scalar(nb_sub(a, b), 2));
    cr_assert_null(y);
    assert_error(NB_ERR_SHAPE, "sub: [2,3] and [3,2]");
    nb_free(a), nb_free(b);
}

Test(errors, null_argument_without_pending_error_is_reported)
{
    cr_assert_null(nb_exp(NULL));
    assert_error(NB_ERR_NULL, "exp: argument 1 is NULL");
    nb_clear_error();
    nb_tensor *a = nb_zeros(NB_SHAPE(1));
    cr_assert_null(nb_mul(a, NULL));
    assert_error(NB_ERR_NULL, "mul: argument 2 is NULL");
    nb_free(a);
}

Test(errors, clear_error_resets_code_and_message)
{
    nb_error(NB_ERR_IO, "load: %s: missing", "x.bin");
    cr_assert_eq(nb_last_error(), NB_ERR_IO);
    cr_assert_str_eq(nb_last_error_message(), "load: x.bin: missing");
    nb_clear_error();
    cr_assert_eq(nb_last_error(), NB_OK);
    cr_assert_str_eq(nb_last_error_message(), "");
}

static int handled;
static char seen[512];
static void record(nb_status code, const char *msg, void *user)
{
    handled++;
    *(nb_status *)user = code;
    snprintf(seen, sizeof seen, "%s", msg);
}

Test(errors, handler_is_called_once_per_error_not_per_propagation)
{
    nb_status code = NB_OK;
    nb_set_error_handler(record, &code);
    handled = 0;
    nb_tensor *a = nb_zeros(NB_SHAPE(2)), *b = nb_zeros(NB_SHAPE(3));
    nb_tensor *y = nb_neg(nb_exp(nb_div(a, b)));
    cr_assert_null(y);
    cr_assert_eq(handled, 1);
    cr_assert_eq(code, NB_ERR_SHAPE);
    cr_assert(strstr(seen, "div: [2] and [3]"));
    nb_set_error_handler(NULL, NULL);
    nb_free(a), nb_free(b);
}

Test(errors, default_handler_prints_once_to_stderr, .init = cr_redirect_stderr)
{
    nb_reset_error_handler();
    nb_clear_error();
    nb_tensor *a = nb_zeros(NB_SHAPE(2)), *b = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_exp(nb_add(a, b)));
    fflush(stderr);
    cr_assert_stderr_eq_str("nabla: add: [2] and [3]: shapes cannot be broadcast (dim -1: 2 vs 3)\n");
    nb_free(a), nb_free(b);
}

Test(errors, step_tensor_used_after_step_end_is_detected)
{
    nb_tensor *a = nb_ones(NB_SHAPE(4));
    nb_tensor *y = nb_mul_scalar(a, 2);
    nb_step_end();
    cr_assert_null(nb_exp(y));
    assert_error(NB_ERR_STATE, "exp: argument 1 is a step tensor freed by nb_step_end()");
    nb_free(a);
}

Test(errors, backward_on_freed_or_null_is_an_error)
{
    cr_assert_eq(nb_backward(NULL), -1);
    assert_error(NB_ERR_NULL, "backward: argument 1 is NULL");
}

/* Issue 11: a long message is kept whole (a checkpoint's list of mismatches),
 * and the handler sees all of it; past 1 MiB it says how much is missing. */
static size_t seen_len;
static void record_len(nb_status code, const char *msg, void *user)
{
    (void)code, (void)user;
    seen_len = strlen(msg);
}

Test(errors, long_messages_are_kept_whole)
{
    char *big = malloc(3001);
    memset(big, 'x', 3000);
    big[3000] = '\0';
    nb_set_error_handler(record_len, NULL);
    nb_error(NB_ERR_ARG, "start %s end", big);
    cr_assert_eq(strlen(nb_last_error_message()), 3000 + 10);
    cr_assert_eq(seen_len, 3010);
    cr_assert(strncmp(nb_last_error_message() + 3006, " end", 4) == 0);
    nb_error(NB_ERR_ARG, "short");
    cr_assert_str_eq(nb_last_error_message(), "short");
    char *huge = malloc((1 << 20) + 101);
    memset(huge, 'y', (1 << 20) + 100);
    huge[(1 << 20) + 100] = '\0';
    nb_error(NB_ERR_ARG, "%s", huge);
    const char *m = nb_last_error_message();
    cr_assert_eq(strlen(m), (1 << 20) - 1);
    cr_assert(strstr(m, "... (") && strstr(m, " more bytes)"), "%.40s", m + strlen(m) - 40);
    nb_set_error_handler(NULL, NULL);
    nb_clear_error();
    free(big), free(huge);
}
