/* io/records.c — splitting a CSV stream into records through a 64 KiB buffer,
 * with the limits that keep endless or binary inputs from exhausting memory. */
#include <stdlib.h>
#include <string.h>
#include "io/records.h"

/* The next input byte, or -1 at the end, -2 on error (recorded). */
static int next_byte(nb_records *rs, int64_t line)
{
    if (rs->bpos == rs->blen) {
        if (rs->eof)
            return -1;
        if (rs->r->file_bytes < 0 && rs->consumed >= NB_CSV_MAX_STREAM) {
            nb_error(NB_ERR_ARG,
                     "csv: %s: line %lld: the input is not a regular file and goes on past "
                     "%llu bytes, the limit for pipes and devices",
                     rs->r->path, (long long)line, (unsigned long long)NB_CSV_MAX_STREAM);
            return -2;
        }
        int64_t k = nb_reader_read(rs->r, rs->buf, sizeof rs->buf);
        if (k < 0)
            return -2;
        rs->eof = (size_t)k < sizeof rs->buf;
        rs->bpos = 0;
        rs->blen = (size_t)k;
        if (k == 0)
            return -1;
    }
    unsigned char c = rs->buf[rs->bpos++];
    if (c == '\0') {
        nb_error(NB_ERR_FORMAT, "csv: %s: line %lld: %s is a NUL byte: not a text file", rs->r->path,
                 (long long)line, nb_reader_where(rs->r, rs->consumed));
        return -2;
    }
    rs->consumed++;
    return c;
}

static bool append(nb_records *rs, char c, int64_t line)
{
    if (rs->len + 2 > rs->cap) {
        if (rs->cap >= NB_CSV_MAX_RECORD) {
            nb_error(NB_ERR_FORMAT,
                     "csv: %s: line %lld: the row is longer than %zu bytes (an unclosed quote?)", rs->r->path,
                     (long long)line, NB_CSV_MAX_RECORD);
            return false;
        }
        size_t cap = rs->cap ? 2 * rs->cap : 256;
        char *grown = realloc(rs->line, cap);
        if (!grown) {
            nb_error(NB_ERR_MEMORY, "csv: %s: line %lld: out of memory for a %zu-byte row", rs->r->path,
                     (long long)line, cap);
            return false;
        }
        rs->line = grown;
        rs->cap = cap;
    }
    rs->line[rs->len++] = c;
    return true;
}

int nb_records_next(nb_records *rs, int64_t line)
{
    enum { START, PLAIN, QUOTED, QUOTE_SEEN } state = START;
    rs->len = 0;
    for (;;) {
        int c = next_byte(rs, line);
        if (c == -2)
            return -1;
        if (c == -1)
            break;
        if (!append(rs, (char)c, line))
            return -1;
        if (state == QUOTED) {
            state = c == '"' ? QUOTE_SEEN : QUOTED;
            continue;
        }
        if (state == QUOTE_SEEN && c == '"') { /* "" inside quotes */
            state = QUOTED;
            continue;
        }
        if (c == '\n')
            break;
        if (c == rs->delim)
            state = START;
        else if (state == START && c == '"')
            state = QUOTED;
        else if (state != START || (c != ' ' && c != '\t'))
            state = PLAIN;
    }
    if (rs->len == 0)
        return 0;
    rs->line[rs->len] = '\0';
    return 1;
}

int nb_records_skip_lines(nb_records *rs, int n)
{
    for (int i = 0; i < n; i++)
        for (int c; (c = next_byte(rs, i + 1)) != '\n';)
            if (c == -1)
                return 0;
            else if (c == -2)
                return -1;
    return 0;
}

char *nb_records_take(nb_records *rs)
{
    char *line = rs->line;
    rs->line = NULL;
    rs->len = rs->cap = 0;
    return line;
}

void nb_records_free(nb_records *rs)
{
    free(rs->line);
    rs->line = NULL;
}
