/* error.c — the per-thread last error, its message, and the handler that prints
 * each new error once (to stderr by default). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core.h"

static NB_TLS nb_status last_code = NB_OK;
static _Thread_local char last_message[512];
static NB_TLS uint64_t error_count;

static void print_to_stderr(nb_status code, const char *message, void *user)
{
    NB_UNUSED(code);
    NB_UNUSED(user);
    fprintf(stderr, "nabla: %s\n", message);
}

static nb_error_handler handler = print_to_stderr;
static void *handler_user = NULL;

nb_status nb_last_error(void) { return last_code; }
const char *nb_last_error_message(void) { return last_code == NB_OK ? "" : last_message; }

uint64_t nb_error_count(void) { return error_count; }

void nb_clear_error(void)
{
    last_code = NB_OK;
    last_message[0] = '\0';
}

void nb_set_error_handler(nb_error_handler h, void *user)
{
    handler = h;
    handler_user = user;
}

void nb_reset_error_handler(void) { nb_set_error_handler(print_to_stderr, NULL); }

void *nb_error(nb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_code = code == NB_OK ? NB_ERR_ARG : code;
    error_count++;
    if (handler)
        handler(last_code, last_message, handler_user);
    return NULL;
}
