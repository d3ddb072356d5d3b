/* nabla/config.h — the real type every tensor holds and the library's limits.
 * Link with nabla for float32; with nabla64 (which defines NABLA_F64) for float64. */
#ifndef NABLA_CONFIG_H
#define NABLA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef NABLA_F64
typedef double nb_real;
#define NB_REAL_NAME "float64"
#else
typedef float nb_real;
#define NB_REAL_NAME "float32"
#endif

/* nabla is built with -fvisibility=hidden: the shared library exports only
 * what the public headers declare between NB_API_BEGIN and NB_API_END. */
#if defined(__GNUC__)
#define NB_API_BEGIN _Pragma("GCC visibility push(default)")
#define NB_API_END _Pragma("GCC visibility pop")
#else
#define NB_API_BEGIN
#define NB_API_END
#endif

#define NB_MAX_DIMS 8 /* highest tensor rank */
#define NB_ALIGN 64   /* every tensor buffer starts on a 64-byte boundary */

/* NB_SHAPE(2, 3) expands to the (ndim, shape) pair that creation functions take:
 * nb_zeros(NB_SHAPE(2, 3)). For rank 0 pass (0, NULL), or use nb_scalar(). */
#define NB__NARGS(...) NB__NARGS_(0, __VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define NB__NARGS_(_0, _1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#ifdef __cplusplus /* C++ has no compound literals: a temporary struct holds the dims */
struct nb__shape {
    int64_t dims[NB_MAX_DIMS];
};
#define NB_SHAPE(...) NB__NARGS(__VA_ARGS__), (nb__shape{{__VA_ARGS__}}).dims
#else
#define NB_SHAPE(...)                                                                                        \
    NB__NARGS(__VA_ARGS__), (const int64_t[NB_MAX_DIMS]) { __VA_ARGS__ }
#endif

/* ---- Options --------------------------------------------------------------
 * Each options struct nb_<x>_opts has a macro NB_<X>_OPTS(...) that makes it
 * with PyTorch's defaults and then sets the fields you name, so a field you
 * write is what you get (0 included) and a field you omit is the default:
 *
 *     nb_adamw(params, n, NB_ADAMW_OPTS(.lr = 3e-4, .weight_decay = 0));
 *
 * and a function nb_<x>_defaults() returning the same defaults, for C++ or
 * for setting fields one by one (o = nb_adamw_defaults(); o.lr = 3e-4;).
 * Their first field, nb_tag, says the struct was made by one of the two: a
 * struct literal such as (nb_rnn_opts){.batch_first = true} leaves the other
 * fields zero rather than at their defaults, and is refused with an error.
 * The macro is a compound literal of the caller's block (arrays written
 * inside it, such as .columns = (const char *[]){"a", "b"}, live as long as
 * the block), in which the fields you name override the defaults before
 * them; that is C's rule for designated initializers, and GCC's -Wextra
 * (Clang: -Winitializer-overrides) would warn about each one, so this header
 * turns -Woverride-init off for the C files that include it. */
#define NB_OPTS_TAG 0x706f626eu /* "nbop" */
#define NB_OPTS_(type, ...) ((type){.nb_tag = NB_OPTS_TAG, __VA_ARGS__})
#if defined(__GNUC__) && !defined(__cplusplus)
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

#ifdef __cplusplus
}
#endif

#endif
