/* io/reader.c — plain or gzip files behind one sequential read interface. The
 * size of a plain file is known up front (loaders check declared sizes against
 * it before allocating); a compressed file is read as a stream whose length is
 * only known at its end. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/gunzip.h"
#include "io/reader.h"

int nb_reader_open(nb_reader *r, const char *op, const char *path)
{
    *r = (nb_reader){.op = op, .path = path, .size = -1, .file_bytes = -1};
    if (!path) {
        nb_error(NB_ERR_NULL, "%s: path is NULL", op);
        return -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        nb_error(NB_ERR_IO, "%s: %s: cannot open: %s", op, path, strerror(errno));
        return -1;
    }
    struct stat st;
    int failed = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (failed) {
        nb_error(NB_ERR_IO, "%s: %s: cannot read: %s", op, path, strerror(failed));
        close(fd);
        return -1;
    }
    r->file_bytes = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    unsigned char magic[2] = {0, 0};
    bool gzip = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!gzip) {
        r->file = fdopen(fd, "rb");
        if (!r->file) {
            nb_error(NB_ERR_IO, "%s: %s: cannot open: %s", op, path, strerror(errno));
            close(fd);
            return -1;
        }
        r->size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
        return 0;
    }
#ifdef NABLA_HAVE_ZLIB
    if (!(r->gz = nb_gunzip_open(fd, op, path))) /* owns fd from here on */
        return -1;
    return 0;
#else
    close(fd);
    nb_error(NB_ERR_IO,
             "%s: %s: the file is gzip-compressed but nabla was built without zlib; "
             "decompress it (gunzip) or rebuild nabla with zlib (meson setup -Dzlib=enabled)",
             op, path);
    return -1;
#endif
}

const char *nb_reader_where(const nb_reader *r, uint64_t pos)
{
    static _Thread_local char buf[64];
    snprintf(buf, sizeof buf, "byte %llu%s", (unsigned long long)pos,
             r->gz ? " of the uncompressed data" : "");
    return buf;
}

int64_t nb_reader_read(nb_reader *r, void *buf, size_t n)
{
    size_t got = 0;
    if (r->file) {
        got = fread(buf, 1, n, r->file);
        if (got < n && ferror(r->file)) {
            nb_error(NB_ERR_IO, "%s: %s: read error at %s: %s", r->op, r->path,
                     nb_reader_where(r, r->pos + got), strerror(errno));
            return -1;
        }
    }
#ifdef NABLA_HAVE_ZLIB
    if (r->gz) {
        int64_t k = nb_gunzip_read(r->gz, buf, n, r->pos);
        if (k < 0)
            return -1;
        got = (size_t)k;
    }
#endif
    r->pos += got;
    return (int64_t)got;
}

void nb_reader_close(nb_reader *r)
{
    if (r->file)
        fclose(r->file);
#ifdef NABLA_HAVE_ZLIB
    nb_gunzip_close(r->gz);
#endif
    r->file = NULL;
    r->gz = NULL;
}
