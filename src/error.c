/* error.c — the per-thread last error, its message (after the prefix that
 * says where it happened, when one is set), and the handler that prints
 * each new error once (to stderr by default). A message is kept whole: up to
 * 511 bytes in a per-thread buffer, a longer one in a heap buffer of the
 * thread, up to 1 MiB (beyond it ends in "... (N more bytes)"); if that
 * buffer cannot be allocated, the message is cut at 511 bytes with the same
 * ending. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

enum { SMALL = 512, MAX_MESSAGE = 1 << 20 };

static NB_TLS nb_status last_code = NB_OK;
static _Thread_local char small_message[SMALL];
static _Thread_local char *long_message; /* grown as needed, kept for the thread */
static _Thread_local size_t long_cap;
static _Thread_local bool is_long; /* the message is in long_message */
static NB_TLS uint64_t error_count;
static NB_TLS nb_error_prefix_fn prefix_fn;

nb_error_prefix_fn nb_set_error_prefix(nb_error_prefix_fn fn)
{
    nb_error_prefix_fn prev = prefix_fn;
    prefix_fn = fn;
    return prev;
}

static void print_to_stderr(nb_status code, const char *message, void *user)
{
    NB_UNUSED(code);
    NB_UNUSED(user);
    fprintf(stderr, "nabla: %s\n", message);
}

static nb_error_handler handler = print_to_stderr;
static void *handler_user = NULL;

nb_status nb_last_error(void) { return last_code; }
static char *message(void) { return is_long ? long_message : small_message; }

const char *nb_last_error_message(void) { return last_code == NB_OK ? "" : message(); }

uint64_t nb_error_count(void) { return error_count; }

void nb_clear_error(void)
{
    last_code = NB_OK;
    is_long = false;
    small_message[0] = '\0';
}

/* pre and the message of fmt in a buffer large enough for them (or cut, see above). */
static void format_message(const char *pre, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    size_t np = strlen(pre);
    int n = vsnprintf(NULL, 0, fmt, ap);
    size_t want = np + (n < 0 ? 0 : (size_t)n) + 1, keep = want < MAX_MESSAGE ? want : MAX_MESSAGE;
    is_long = false;
    if (keep > SMALL) {
        if (keep > long_cap) {
            char *p = realloc(long_message, keep);
            if (p)
                long_message = p, long_cap = keep;
        }
        if (long_cap >= keep)
            is_long = true;
        else
            keep = SMALL;
    }
    char *buf = message();
    size_t k = np < keep - 1 ? np : keep - 1;
    memcpy(buf, pre, k);
    buf[k] = '\0';
    vsnprintf(buf + k, keep - k, fmt, again);
    if (keep < want) { /* say how much is missing instead of stopping mid-word */
        char tail[48];
        int t = snprintf(tail, sizeof tail, "... (%zu more bytes)", want - keep + 0u);
        t = snprintf(tail, sizeof tail, "... (%zu more bytes)", want - keep + (size_t)t);
        memcpy(buf + keep - 1 - (size_t)t, tail, (size_t)t + 1);
    }
    va_end(again);
}

void nb_set_error_handler(nb_error_handler h, void *user)
{
    handler = h;
    handler_user = user;
}

void nb_reset_error_handler(void) { nb_set_error_handler(print_to_stderr, NULL); }

void *nb_error(nb_status code, const char *fmt, ...)
{
    char pre[512] = "";
    if (prefix_fn)
        prefix_fn(pre, sizeof pre);
    va_list ap;
    va_start(ap, fmt);
    format_message(pre, fmt, ap);
    va_end(ap);
    last_code = code == NB_OK ? NB_ERR_ARG : code;
    error_count++;
    if (handler)
        handler(last_code, message(), handler_user);
    return NULL;
}

bool nb_opts_made(const char *op, uint32_t tag, const char *name)
{
    if (tag == NB_OPTS_TAG)
        return true;
    char upper[64];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof upper; n++)
        upper[n] = (char)(name[n] >= 'a' && name[n] <= 'z' ? name[n] - 'a' + 'A' : name[n]);
    upper[n] = '\0';
    nb_error(NB_ERR_ARG,
             "%s: options were not made by NB_%s_OPTS() or nb_%s_defaults(): a struct literal leaves "
             "the fields it omits at zero, not at PyTorch's defaults",
             op, upper, name);
    return false;
}
