/* tests/test_stale_guard.c — the stale-pointer guard (NABLA_STALE_GUARD=1):
 * a step tensor read after nb_step_end() holds a signalling NaN, data and
 * gradient, while the next step runs; without it the old numbers are still
 * there. And the one warning for an arena that grows over many backward
 * passes without nb_step_end(). */
#include <stdlib.h>
#include "common.h"
#include <criterion/redirect.h>

static void redirect(void)
{
    quiet();
    cr_redirect_stderr();
}
TestSuite(stale_guard, .init = redirect, .fini = end_step);

static bool is_snan(nb_real v)
{
#ifdef NABLA_F64
    uint64_t bits, want = 0x7ff4000000000000ull;
#else
    uint32_t bits, want = 0x7fa00000u;
#endif
    memcpy(&bits, &v, sizeof bits);
    return bits == want;
}

Test(stale_guard, ended_step_tensors_read_as_signalling_nan)
{
    setenv("NABLA_STALE_GUARD", "1", 1);
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(3)), true);
    nb_tensor *y = nb_mul(x, x);
    cr_assert_eq(nb_backward(nb_sum(nb_mul(y, y))), 0);
    cr_assert_eq(y->data[2], 9);
    cr_assert_eq(y->grad[2], 18);
    nb_step_end();
    for (int i = 0; i < 3; i++) {
        cr_assert(is_snan(y->data[i]), "data[%d] = %g after the step ended", i, (double)y->data[i]);
        cr_assert(is_snan(y->grad[i]), "grad[%d] = %g after the step ended", i, (double)y->grad[i]);
    }
    /* the next step's tensors are elsewhere: the stale one stays NaN meanwhile */
    nb_tensor *w = nb_mul(x, x);
    cr_assert_neq(w->data, y->data);
    cr_assert_eq(w->data[1], 4);
    cr_assert(is_snan(y->data[1]));
    /* persistent tensors are never touched */
    cr_assert_eq(x->data[1], 2);
    cr_assert_eq(x->grad[1], 4 * 2 * 2 * 2);
    nb_free(x);
}

/* Issue 11: a value other than 0 and 1 is not taken silently. */
Test(stale_guard, a_value_other_than_0_or_1_is_on_and_said)
{
    setenv("NABLA_STALE_GUARD", "yes", 1);
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    nb_tensor *y = nb_mul(x, x);
    nb_step_end();
    cr_assert(is_snan(y->data[0]));
    nb_free(x);
    fflush(stderr);
    cr_assert_stderr_eq_str("nabla: NABLA_STALE_GUARD=yes is not 0 or 1; taken as 1 (on)\n");
}

Test(stale_guard, without_it_a_stale_tensor_still_looks_plausible)
{
    unsetenv("NABLA_STALE_GUARD");
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    nb_tensor *y = nb_mul(x, x);
    nb_step_end();
    cr_assert_eq(y->data[2], 9, "the reason for the guard: the old value is still there");
    nb_free(x);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(stale_guard, one_warning_when_the_arena_grows_over_many_passes_without_step_end)
{
    nb_tensor *x = nb_requires_grad(nb_ones(NB_SHAPE(10000)), true);
    for (int i = 0; i < 400; i++) /* a training loop that forgot nb_step_end() */
        cr_assert_eq(nb_backward(nb_sum(nb_mul(x, x))), 0);
    nb_step_end();
    for (int i = 0; i < 400; i++)
        cr_assert_eq(nb_backward(nb_sum(nb_mul(x, x))), 0);
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    static char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    cr_assert_eq(count(out, "nabla: warning: the step arena has grown to "), 1, "stderr: %s", out);
    cr_assert(
        strstr(out, " backward passes without nb_step_end(); call nb_step_end() after each training step"),
        "stderr: %s", out);
    nb_free(x);
}
