/* tests/fuzz/fuzz.h — what every harness shares: the input written to a file
 * of this process (the loaders take paths), errors silenced, and a check that
 * each rejected input left an error message and no pending step memory. */
#ifndef NB_FUZZ_H
#define NB_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nabla/nabla.h"

/* A path private to this process, rewritten with each input. */
static inline const char *fuzz_file(const char *suffix, const uint8_t *data, size_t size)
{
    static char path[128];
    if (!path[0]) {
        nb_set_error_handler(NULL, NULL);
        snprintf(path, sizeof path, "%s/nabla-fuzz-%ld%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (long)getpid(), suffix);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    return path;
}

/* A failing call must say why: a NULL/-1 without a message is a finding. */
static inline void fuzz_failed(void)
{
    if (nb_last_error() == NB_OK || nb_last_error_message()[0] == '\0')
        abort();
    nb_clear_error();
}

#endif
