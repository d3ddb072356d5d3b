/* tests/test_memory.c — a million tiny training steps run in constant memory:
 * the step arena stops growing after the first step and the process's resident
 * size stays flat. */
#include <stdio.h>
#include <unistd.h>
#include "common.h"

TestSuite(memory, .init = quiet, .fini = end_step);

static long resident_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

Test(memory, a_million_tiny_steps_stay_flat, .timeout = 240)
{
    /* fit y = k * x + b to y = 2x + 1 by gradient descent, one step per iteration */
    nb_tensor *x = nb_from_array((nb_real[]){-1, 0, 1, 2}, NB_SHAPE(4));
    nb_tensor *t = nb_from_array((nb_real[]){-1, 1, 3, 5}, NB_SHAPE(4));
    nb_tensor *k = nb_requires_grad(nb_scalar(0), true), *b = nb_requires_grad(nb_scalar(0), true);
    nb_tensor *w = nb_full(NB_SHAPE(4), 0.25); /* mean as a weighted sum */
    size_t arena_after_first = 0;
    long rss_start = 0;
    for (long step = 0; step < 1000000; step++) {
        nb_tensor *err = nb_sub(nb_add(nb_mul(k, x), b), t);
        nb_tensor *loss = nb_mul(nb_mul(err, err), w); /* per-element weighted squares */
        nb_zero_grad(k), nb_zero_grad(b);
        cr_assert_eq(nb_backward_grad(loss, nb_detach(w)), 0);
        k->data[0] -= (nb_real)0.1 * k->grad[0];
        b->data[0] -= (nb_real)0.1 * b->grad[0];
        nb_step_end();
        if (step == 0)
            arena_after_first = nb_step_arena_bytes();
        if (step == 1000)
            rss_start = resident_kib();
    }
    cr_assert_eq(nb_step_arena_bytes(), arena_after_first, "the arena grew after the first step");
    long rss_end = resident_kib();
    cr_assert(rss_end - rss_start < 1024, "resident memory grew by %ld KiB", rss_end - rss_start);
    cr_assert_float_eq(k->data[0], 2, 1e-3);
    cr_assert_float_eq(b->data[0], 1, 1e-3);
    nb_free(x), nb_free(t), nb_free(k), nb_free(b), nb_free(w);
}

Test(memory, a_big_step_is_merged_into_one_chunk_and_reused)
{
    nb_tensor *a = nb_ones(NB_SHAPE(1 << 20));
    for (int i = 0; i < 3; i++)
        nb_mul_scalar(a, 2); /* 3 x 4 MiB: the arena chains chunks */
    nb_step_end();
    size_t merged = nb_step_arena_bytes();
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++)
            nb_mul_scalar(a, 2);
        nb_step_end();
        cr_assert_eq(nb_step_arena_bytes(), merged);
    }
    nb_free(a);
}
