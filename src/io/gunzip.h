/* io/gunzip.h — a gzip stream (RFC 1952) decoded by zlib's inflate from a file
 * descriptor: every member's CRC-32 and length trailer verified, the stream
 * required to end with one, and any bytes after the last member refused. */
#ifndef NB_IO_GUNZIP_H
#define NB_IO_GUNZIP_H

#include "internal.h"

typedef struct nb_gunzip nb_gunzip;

/* Start decoding fd (owned from here on: nb_gunzip_close closes it). NULL
 * with an error naming op and path. */
nb_gunzip *nb_gunzip_open(int fd, const char *op, const char *path);
/* Up to n decoded bytes into buf: fewer only at the verified end of the
 * stream. -1 with an error recorded (read error, corrupt or truncated
 * stream, trailing bytes); `at` is the decoded position, for messages. */
int64_t nb_gunzip_read(nb_gunzip *g, void *buf, size_t n, uint64_t at);
void nb_gunzip_close(nb_gunzip *g);

#endif
