/* io/records.h — the records of a CSV stream, one at a time: a record ends at
 * a newline outside quotes (quotes open only at the start of a field, as the
 * field parser reads them), so a file is never held in memory whole. */
#ifndef NB_IO_RECORDS_H
#define NB_IO_RECORDS_H

#include "io/reader.h"

/* The longest record, and how much of a non-regular input (a pipe, a device)
 * is read at most: /dev/zero or an endless pipe cannot exhaust memory. */
#define NB_CSV_MAX_RECORD ((size_t)64 << 20)
#define NB_CSV_MAX_STREAM ((uint64_t)1 << 30)

typedef struct nb_records {
    nb_reader *r;
    char delim;
    char *line; /* the current record, NUL-terminated, newline kept */
    size_t len, cap;
    uint64_t consumed; /* bytes of the input taken so far */
    size_t bpos, blen;
    bool eof;
    unsigned char buf[1 << 16];
} nb_records;

/* The next record into rs->line/len: 1, 0 at the end of the input, -1 with an
 * error recorded (read error, NUL byte, record or stream over its limit);
 * `line` is the record's first line number, for messages. */
int nb_records_next(nb_records *rs, int64_t line);
/* Skip n raw lines (skip_rows). 0, or -1 with an error recorded. */
int nb_records_skip_lines(nb_records *rs, int n);
/* Hand the current record's buffer to the caller (free it); the next record
 * gets a new one. */
char *nb_records_take(nb_records *rs);
void nb_records_free(nb_records *rs);

#endif
