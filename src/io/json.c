/* io/json.c — a strict reader of JSON strings, unsigned integers and
 * punctuation with byte positions in its errors, and the matching writer. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "io/json.h"

void *nb_json_fail(const nb_json *j, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nb_error(NB_ERR_FORMAT, "%s: byte %llu: %s", j->where, (unsigned long long)(j->base + j->pos),
                    msg);
}

static void skip_ws(nb_json *j)
{
    while (j->pos < j->len &&
           (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

/* "'x'" or "the end of the header" for messages */
static const char *found(const nb_json *j)
{
    static _Thread_local char buf[32];
    if (j->pos >= j->len)
        return "the end of the JSON";
    unsigned char c = (unsigned char)j->s[j->pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, sizeof buf, "'%c'", c);
    else
        snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
}

bool nb_json_accept(nb_json *j, char c)
{
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == c) {
        j->pos++;
        return true;
    }
    return false;
}

bool nb_json_expect(nb_json *j, char c, const char *what)
{
    if (nb_json_accept(j, c))
        return true;
    nb_json_fail(j, "expected %s but found %s", what, found(j));
    return false;
}

bool nb_json_at_end(nb_json *j)
{
    skip_ws(j);
    return j->pos == j->len;
}

int nb_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    int len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || (size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* \uXXXX (and a second one for a surrogate pair) at j->pos, the 'u' already
 * read; the code point in *cp. */
static bool unicode_escape(nb_json *j, uint32_t *cp)
{
    int hi = j->pos + 4 <= j->len ? hex4(j->s + j->pos) : -1;
    if (hi < 0)
        return nb_json_fail(j, "\\u must be followed by 4 hex digits"), false;
    j->pos += 4;
    *cp = (uint32_t)hi;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return nb_json_fail(j, "\\u%04x is a lone low surrogate", hi), false;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        int lo = j->pos + 6 <= j->len && j->s[j->pos] == '\\' && j->s[j->pos + 1] == 'u'
                     ? hex4(j->s + j->pos + 2)
                     : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return nb_json_fail(j, "\\u%04x is a high surrogate without its low half", hi), false;
        j->pos += 6;
        *cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    }
    if (*cp == 0)
        return nb_json_fail(j, "\\u0000 is not allowed in a name"), false;
    return true;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

const char *nb_json_string(nb_json *j, char **dst)
{
    if (!nb_json_expect(j, '"', "a string"))
        return NULL;
    char *start = *dst, *o = *dst;
    for (;;) {
        if (j->pos >= j->len)
            return nb_json_fail(j, "the string is not closed");
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c == '"') {
            j->pos++;
            break;
        }
        if (c < 0x20)
            return nb_json_fail(j, "control character 0x%02x inside a string", c);
        if (c == '\\') {
            char e = j->pos + 1 < j->len ? j->s[j->pos + 1] : '\0';
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *k = e ? strchr(from, e) : NULL;
            if (k) {
                *o++ = to[k - from];
                j->pos += 2;
            } else if (e == 'u') {
                j->pos += 2;
                uint32_t cp;
                if (!unicode_escape(j, &cp))
                    return NULL;
                o = put_utf8(o, cp);
            } else {
                return nb_json_fail(j, "unknown escape \\%c", e ? e : '0');
            }
            continue;
        }
        int n = nb_utf8_len((const unsigned char *)j->s + j->pos, j->len - j->pos);
        if (n == 0)
            return nb_json_fail(j, "invalid UTF-8 inside a string");
        memcpy(o, j->s + j->pos, (size_t)n);
        o += n;
        j->pos += (size_t)n;
    }
    *o++ = '\0';
    *dst = o;
    return start;
}

bool nb_json_uint(nb_json *j, uint64_t *v)
{
    skip_ws(j);
    size_t p = j->pos;
    if (p >= j->len || j->s[p] < '0' || j->s[p] > '9')
        return nb_json_fail(j, "expected a non-negative integer but found %s", found(j)), false;
    if (j->s[p] == '0' && p + 1 < j->len && j->s[p + 1] >= '0' && j->s[p + 1] <= '9')
        return nb_json_fail(j, "integer with a leading zero"), false;
    uint64_t x = 0;
    for (; p < j->len && j->s[p] >= '0' && j->s[p] <= '9'; p++) {
        if (x > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(j->s[p] - '0')) / 10)
            return nb_json_fail(j, "integer larger than 2^63 - 1"), false;
        x = x * 10 + (uint64_t)(j->s[p] - '0');
    }
    if (p < j->len && (j->s[p] == '.' || j->s[p] == 'e' || j->s[p] == 'E')) {
        j->pos = p;
        return nb_json_fail(j, "expected an integer, found a fraction or exponent"), false;
    }
    j->pos = p;
    *v = x;
    return true;
}

void nb_strbuf_add(nb_strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void nb_strbuf_printf(nb_strbuf *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        b->failed = true;
    else
        nb_strbuf_add(b, buf, (size_t)n);
}

void nb_json_write_string(nb_strbuf *b, const char *s)
{
    nb_strbuf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            nb_strbuf_add(b, esc, 2);
        } else if (c < 0x20) {
            nb_strbuf_printf(b, "\\u%04x", c);
        } else {
            nb_strbuf_add(b, s, 1);
        }
    }
    nb_strbuf_add(b, "\"", 1);
}
