/* nabla/error.h — how the library reports bad input: a failing call returns NULL
 * (or a negative status) and records a code and a message; it never aborts. */
#ifndef NABLA_ERROR_H
#define NABLA_ERROR_H

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef enum nb_status {
    NB_OK = 0,
    NB_ERR_NULL,   /* an argument was NULL */
    NB_ERR_SHAPE,  /* shapes that do not fit the op */
    NB_ERR_ARG,    /* a value out of range: dim, index, size, option */
    NB_ERR_STATE,  /* the call is not valid now: freed step tensor, backward without grad... */
    NB_ERR_MEMORY, /* an allocation failed or would overflow */
    NB_ERR_IO,     /* a file could not be opened, read or written */
    NB_ERR_FORMAT  /* a file's contents are corrupt, truncated or inconsistent */
} nb_status;

/* The last error of this thread: NB_OK when none is pending. */
nb_status nb_last_error(void);
/* Its message, e.g. "matmul: [32,784] x [100,10]: inner dimensions differ (784 vs 100)";
 * "" when none is pending. Messages are never cut (up to 1 MiB, beyond which
 * one ends in "... (N more bytes)"). */
const char *nb_last_error_message(void);
/* Forget the pending error. Ops handed NULL pass a pending error on untouched. */
void nb_clear_error(void);

/* Called once for every new error. The default handler prints
 * "nabla: <message>" to stderr; nb_set_error_handler(NULL, NULL) silences it. */
typedef void (*nb_error_handler)(nb_status code, const char *message, void *user);
void nb_set_error_handler(nb_error_handler handler, void *user);
/* Restore the default stderr handler. */
void nb_reset_error_handler(void);

/* Record an error (for code that extends nabla: custom ops, loaders). Always
 * returns NULL so that `return nb_error(...)` reads naturally. printf format. */
void *nb_error(nb_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* For options structs of your own made the nabla way (NB_OPTS_, nabla/config.h):
 * true when tag, the struct's nb_tag, says it was made by NB_<NAME>_OPTS() or
 * nb_<name>_defaults(); otherwise records "<op>: options were not made by
 * NB_<NAME>_OPTS() or nb_<name>_defaults(): a struct literal leaves the fields
 * it omits at zero, ..." and returns false. name is lower case ("ddp"). */
bool nb_opts_made(const char *op, uint32_t tag, const char *name);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
