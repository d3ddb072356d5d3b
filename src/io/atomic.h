/* io/atomic.h — replacing a file atomically: write a temporary
 * "<path>.nabla-tmp.<pid>.<8 hex>" created exclusively (O_EXCL|O_NOFOLLOW),
 * flush it to disk, rename it over path, sync the directory. Readers see the
 * old file or the new one, never a mix; a failure leaves the old one
 * untouched; concurrent saves to one path each write their own temporary. */
#ifndef NB_IO_ATOMIC_H
#define NB_IO_ATOMIC_H

#include "internal.h"

typedef struct nb_atomic_file {
    FILE *f;         /* write the new contents here */
    int fd;          /* the temporary's descriptor, under f */
    int write_errno; /* the first write error, for the message */
    char *tmp;
    const char *path;
    const char *op; /* first word of error messages */
} nb_atomic_file;

/* Create the temporary file. Returns 0, or -1 with an error recorded. */
int nb_atomic_begin(nb_atomic_file *a, const char *op, const char *path);
/* Flush, sync and rename into place. On failure the temporary is removed and
 * -1 returned with an error recorded. */
int nb_atomic_commit(nb_atomic_file *a);
/* Give up: remove the temporary. */
void nb_atomic_abort(nb_atomic_file *a);

#endif
