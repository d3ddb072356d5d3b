/* io/gunzip.c — gzip decoding with inflate, in place of zlib's gzread, which
 * accepts a stream cut before its CRC/size trailer (it reads growing files)
 * and ignores whatever follows the last member. Here a stream ends only at a
 * verified trailer; then either another member starts (concatenated members,
 * as gzip -d reads them) or the file ends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "io/gunzip.h"

struct nb_gunzip {
    z_stream z;
    int fd;
    const char *op, *path;
    uint64_t file_read; /* compressed bytes read from fd */
    bool in_member;     /* inside a member: its trailer is still to come */
    bool eof, done;
    unsigned char in[1 << 16];
};

nb_gunzip *nb_gunzip_open(int fd, const char *op, const char *path)
{
    nb_gunzip *g = calloc(1, sizeof *g);
    if (!g || inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        free(g);
        close(fd);
        return nb_error(NB_ERR_MEMORY, "%s: %s: out of memory starting zlib", op, path);
    }
    g->fd = fd;
    g->op = op;
    g->path = path;
    g->in_member = true;
    return g;
}

/* Byte offset in the file of the next compressed byte inflate would read. */
static uint64_t file_pos(const nb_gunzip *g) { return g->file_read - g->z.avail_in; }

static int fill(nb_gunzip *g)
{
    ssize_t k;
    do
        k = read(g->fd, g->in, sizeof g->in);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        nb_error(NB_ERR_IO, "%s: %s: read error at byte %llu of the file: %s", g->op, g->path,
                 (unsigned long long)g->file_read, strerror(errno));
        return -1;
    }
    g->eof = k == 0;
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)k;
    g->file_read += (uint64_t)k;
    return 0;
}

/* Between members: the file ends, or another member starts with 0x1f 0x8b. */
static int next_member(nb_gunzip *g)
{
    if (g->z.avail_in == 0 && !g->eof && fill(g) != 0)
        return -1;
    if (g->z.avail_in == 0) {
        g->done = true;
        return 0;
    }
    if (g->z.next_in[0] != 0x1f) {
        nb_error(NB_ERR_FORMAT,
                 "%s: %s: byte %llu of the file: 0x%02x after the end of the gzip stream "
                 "(trailing bytes)",
                 g->op, g->path, (unsigned long long)file_pos(g), g->z.next_in[0]);
        return -1;
    }
    inflateReset(&g->z);
    g->in_member = true;
    return 0;
}

int64_t nb_gunzip_read(nb_gunzip *g, void *buf, size_t n, uint64_t at)
{
    size_t got = 0;
    while (got < n && !g->done) {
        if (!g->in_member) {
            if (next_member(g) != 0)
                return -1;
            if (g->done)
                break;
        }
        if (g->z.avail_in == 0 && !g->eof && fill(g) != 0)
            return -1;
        if (g->z.avail_in == 0 && g->eof) {
            nb_error(NB_ERR_FORMAT,
                     "%s: %s: byte %llu of the file (byte %llu of the uncompressed data): the "
                     "gzip stream ends before its CRC and length trailer (truncated)",
                     g->op, g->path, (unsigned long long)g->file_read, (unsigned long long)(at + got));
            return -1;
        }
        size_t want = n - got < (1u << 30) ? n - got : (1u << 30);
        g->z.next_out = (unsigned char *)buf + got;
        g->z.avail_out = (uInt)want;
        int ret = inflate(&g->z, Z_NO_FLUSH);
        got += want - g->z.avail_out;
        if (ret == Z_STREAM_END) {
            g->in_member = false;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            nb_error(ret == Z_MEM_ERROR ? NB_ERR_MEMORY : NB_ERR_FORMAT,
                     "%s: %s: corrupt gzip data near byte %llu of the file (byte %llu of the uncompressed "
                     "data): %s",
                     g->op, g->path, (unsigned long long)file_pos(g), (unsigned long long)(at + got),
                     g->z.msg             ? g->z.msg
                     : ret == Z_MEM_ERROR ? "out of memory"
                                          : "invalid data");
            return -1;
        }
    }
    return (int64_t)got;
}

void nb_gunzip_close(nb_gunzip *g)
{
    if (!g)
        return;
    inflateEnd(&g->z);
    close(g->fd);
    free(g);
}
