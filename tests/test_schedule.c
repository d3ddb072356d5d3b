/* tests/test_schedule.c — learning-rate schedules: each lr sequence against its
 * closed form written out here (and the figures of PyTorch's StepLR docs
 * example), the optimizer's lr following, chaining, jumping to an epoch,
 * errors. lr values are doubles in both builds. */
#include "common.h"
#include "nabla/optim.h"

static nb_tensor *param;
static nb_optim *opt;

static void setup(void)
{
    quiet();
    param = nb_zeros(NB_SHAPE(3));
    opt = nb_sgd(&param, 1, NB_SGD_OPTS(.lr = 0.1));
}

static void teardown(void)
{
    nb_optim_free(opt);
    nb_free(param);
    nb_step_end();
}

TestSuite(schedule, .init = setup, .fini = teardown);

static void assert_lr(nb_scheduler *s, int64_t epoch, double want)
{
    double got = nb_scheduler_get_lr(s);
    cr_assert(fabs(got - want) <= 1e-13 * fabs(want) + 1e-18, "epoch %lld: lr %.17g, want %.17g",
              (long long)epoch, got, want);
    cr_assert_eq(nb_optim_get_lr(opt), got, "the optimizer's lr follows the schedule");
    cr_assert_eq(nb_scheduler_last_epoch(s), epoch);
}

Test(schedule, step_lr_docs_example)
{
    /* torch.optim.lr_scheduler.StepLR docs: lr = 0.05 if epoch < 30, 0.005 if
     * 30 <= epoch < 60, 0.0005 if 60 <= epoch < 90 */
    nb_optim_set_lr(opt, 0.05);
    nb_scheduler *s = nb_step_lr(opt, 30, 0.1);
    for (int64_t e = 0; e < 90; e++) {
        assert_lr(s, e, e < 30 ? 0.05 : e < 60 ? 0.05 * 0.1 : 0.05 * 0.1 * 0.1);
        nb_scheduler_step(s);
    }
    nb_scheduler_free(s);
}

Test(schedule, step_lr_gamma_zero_and_exponential)
{
    nb_scheduler *s = nb_step_lr(opt, 3, 0); /* gamma 0 is 0: the lr drops to 0 at epoch 3 */
    for (int64_t e = 0; e < 10; e++, nb_scheduler_step(s))
        assert_lr(s, e, e < 3 ? 0.1 : 0);
    nb_scheduler_free(s);
    nb_optim_set_lr(opt, 0.1);
    nb_optim *o2 = nb_sgd(&param, 1, NB_SGD_OPTS(.lr = 0.2));
    nb_scheduler *x = nb_exponential_lr(o2, 0.9);
    for (int64_t e = 0; e < 10; e++, nb_scheduler_step(x))
        cr_assert_float_eq(nb_scheduler_get_lr(x), 0.2 * pow(0.9, (double)e), 1e-15);
    nb_scheduler_free(x);
    nb_optim_free(o2);
}

Test(schedule, cosine_annealing_closed_form)
{
    nb_scheduler *s = nb_cosine_annealing_lr(opt, 10, 0.001);
    for (int64_t e = 0; e <= 20; e++, nb_scheduler_step(s))
        assert_lr(s, e, 0.001 + (0.1 - 0.001) * (1 + cos(3.14159265358979323846 * (double)e / 10)) / 2);
    nb_scheduler_set_last_epoch(s, 5);
    assert_lr(s, 5, (0.1 + 0.001) / 2); /* half way: the mean of the ends */
    nb_scheduler_set_last_epoch(s, 10);
    assert_lr(s, 10, 0.001);
    nb_scheduler_free(s);
}

Test(schedule, linear_lr_pytorch_defaults_and_a_literal_zero)
{
    /* LinearLR's defaults written out: start_factor 1/3, end_factor 1, total_iters 5 */
    nb_scheduler *s = nb_linear_lr(opt, 1.0 / 3, 1, 5);
    for (int64_t e = 0; e < 8; e++, nb_scheduler_step(s))
        assert_lr(s, e, 0.1 * (1.0 / 3 + (1 - 1.0 / 3) * (double)(e < 5 ? e : 5) / 5));
    nb_scheduler_free(s);
    nb_optim_set_lr(opt, 0.1);
    nb_scheduler *d = nb_linear_lr(opt, 1, 0, 4); /* decay to a literal 0 */
    for (int64_t e = 0; e < 6; e++, nb_scheduler_step(d))
        assert_lr(d, e, 0.1 * (1 - (double)(e < 4 ? e : 4) / 4));
    nb_scheduler_free(d);
}

Test(schedule, warmup_then_cosine)
{
    nb_scheduler *s = nb_warmup_cosine(opt, 4, 20, 0.01, 1e-4);
    for (int64_t e = 0; e < 25; e++, nb_scheduler_step(s)) {
        double want =
            e < 4 ? 0.1 * (0.01 + 0.99 * (double)e / 4)
                  : 1e-4 + (0.1 - 1e-4) * (1 + cos(3.14159265358979323846 * (double)(e - 4) / 16)) / 2;
        assert_lr(s, e, want);
    }
    nb_scheduler_free(s);
}

Test(schedule, sequential_uses_the_initial_lr_for_every_child)
{
    /* the second child is made after the first changed the lr: its base is still 0.1 */
    nb_scheduler *a = nb_exponential_lr(opt, 0.5);
    nb_scheduler *b = nb_step_lr(opt, 2, 0.1);
    nb_scheduler *s = nb_sequential_lr(opt, (nb_scheduler *[]){a, b}, 2, (const int64_t[]){3});
    cr_assert_not_null(s);
    double want[] = {0.1, 0.05, 0.025, 0.1, 0.1, 0.01, 0.01, 0.001};
    for (int64_t e = 0; e < 8; e++, nb_scheduler_step(s))
        assert_lr(s, e, want[e]);
    nb_scheduler_free(s);
}

Test(schedule, errors)
{
    cr_assert_null(nb_cosine_annealing_lr(opt, 0, 0));
    assert_error(NB_ERR_ARG, "cosine_annealing_lr: T_max 0 must be >= 1");
    nb_clear_error();
    cr_assert_null(nb_linear_lr(opt, 2, 1, 5));
    assert_error(NB_ERR_ARG, "linear_lr: start_factor 2 must be in (0, 1]");
    nb_clear_error();
    cr_assert_null(nb_step_lr(NULL, 3, 0.1));
    assert_error(NB_ERR_NULL, "step_lr: optimizer is NULL");
    nb_clear_error();
    cr_assert_null(nb_warmup_cosine(opt, 5, 5, 0.1, 0));
    assert_error(NB_ERR_ARG, "need 1 <= warmup_iters < total_iters");
    nb_clear_error();
    /* a failing sequential_lr still frees its children (LSan checks) */
    nb_scheduler *a = nb_exponential_lr(opt, 0.5), *b = nb_exponential_lr(opt, 0.9);
    cr_assert_null(nb_sequential_lr(opt, (nb_scheduler *[]){a, b}, 2, (const int64_t[]){0}));
    assert_error(NB_ERR_ARG, "sequential_lr: milestones[0] = 0");
}
