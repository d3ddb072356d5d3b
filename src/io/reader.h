/* io/reader.h — sequential reading of a data file that may be gzip-compressed
 * (recognised by its first two bytes, 0x1f 0x8b), for the IDX and CSV loaders. */
#ifndef NB_IO_READER_H
#define NB_IO_READER_H

#include "internal.h"
#include "nabla/io.h"

typedef struct nb_reader {
    const char *op; /* "idx", "csv": first word of error messages */
    const char *path;
    FILE *file;           /* plain file, or NULL */
    struct nb_gunzip *gz; /* the decoder of a compressed one, or NULL */
    int64_t size;         /* bytes in a plain file; -1 for compressed ones (unknown) */
    int64_t file_bytes;   /* bytes of the file on disk (compressed or not); -1 if not regular */
    uint64_t pos;         /* (uncompressed) bytes delivered so far */
} nb_reader;

/* Open path for reading. Returns 0, or -1 with an error recorded. */
int nb_reader_open(nb_reader *r, const char *op, const char *path);
/* Read up to n bytes into buf: fewer only at the end of the data. -1 on a read
 * error or corrupt compressed data (recorded). */
int64_t nb_reader_read(nb_reader *r, void *buf, size_t n);
void nb_reader_close(nb_reader *r);

/* "byte 12" for plain files, "byte 12 of the uncompressed data" for gzip ones. */
const char *nb_reader_where(const nb_reader *r, uint64_t pos);

#endif
