/* io/json.h — the little JSON the safetensors header needs (RFC 8259 syntax):
 * a cursor that reads objects, strings and unsigned integers and rejects
 * anything malformed with its byte position, and a text buffer to write them. */
#ifndef NB_IO_JSON_H
#define NB_IO_JSON_H

#include "internal.h"

typedef struct nb_json {
    const char *s;
    size_t len, pos;
    uint64_t base;     /* file offset of s[0], for messages */
    const char *where; /* "load: ckpt.safetensors", first words of messages */
} nb_json;

/* Record a format error at the cursor: "<where>: byte <n>: <message>". NULL. */
void *nb_json_fail(const nb_json *j, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* After whitespace: consume c if it is next. */
bool nb_json_accept(nb_json *j, char c);
/* After whitespace: consume c, or fail saying what was expected. */
bool nb_json_expect(nb_json *j, char c, const char *what);
/* After whitespace: a string, decoded to UTF-8 and NUL-terminated at *dst, which
 * advances past it. The decoded form (with its NUL) is never longer than the
 * encoded one, so a buffer as long as the input holds every string of it.
 * Strings holding U+0000 or invalid UTF-8 are rejected. NULL on error. */
const char *nb_json_string(nb_json *j, char **dst);
/* After whitespace: an unsigned integer (no sign, fraction, exponent or
 * leading zero) of at most 2^63 - 1. */
bool nb_json_uint(nb_json *j, uint64_t *v);
/* True when only whitespace remains. */
bool nb_json_at_end(nb_json *j);

/* A growing text buffer; after an allocation failure `failed` is set and
 * appends do nothing. */
typedef struct nb_strbuf {
    char *s;
    size_t len, cap;
    bool failed;
} nb_strbuf;
void nb_strbuf_add(nb_strbuf *b, const char *s, size_t n);
void nb_strbuf_printf(nb_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a quoted JSON string. */
void nb_json_write_string(nb_strbuf *b, const char *s);
/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
int nb_utf8_len(const unsigned char *s, size_t n);

#endif
