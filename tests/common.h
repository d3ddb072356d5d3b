/* tests/common.h — helpers every test file shares: quiet errors, tolerances
 * that fit the real type, and assertions on arrays. */
#ifndef NB_TESTS_COMMON_H
#define NB_TESTS_COMMON_H

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include "nabla/nabla.h"

#ifdef NABLA_F64
#define TOL 1e-12
#else
#define TOL 1e-5
#endif

/* Silence the stderr handler and forget earlier errors (use as .init). */
static inline void quiet(void)
{
    nb_set_error_handler(NULL, NULL);
    nb_clear_error();
}

/* Free the step (use as .fini). It does not check for a pending error: a test
 * that cares asserts nb_last_error() itself. */
static inline void end_step(void) { nb_step_end(); }

static inline void assert_close_array(const nb_real *got, const double *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) > 1 ? fabs(want[i]) : 1;
        cr_assert(fabs((double)got[i] - want[i]) <= tol * scale, "element %lld: got %.17g, want %.17g",
                  (long long)i, (double)got[i], want[i]);
    }
}

static inline void assert_shape(const nb_tensor *t, int ndim, const int64_t *shape)
{
    cr_assert_not_null(t);
    cr_assert_eq(t->ndim, ndim, "rank %d, want %d", t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "dim %d is %lld, want %lld", i, (long long)t->shape[i],
                     (long long)shape[i]);
}

/* The error pending now has this code and its message contains `text`. */
static inline void assert_error(nb_status code, const char *text)
{
    cr_assert_eq(nb_last_error(), code, "error code %d, want %d (message: %s)", nb_last_error(), code,
                 nb_last_error_message());
    cr_assert(strstr(nb_last_error_message(), text), "message \"%s\" lacks \"%s\"", nb_last_error_message(),
              text);
}

#endif
