/* io/atomic.c — atomic file replacement by write, fsync, rename(2), then an
 * fsync of the directory so that the rename itself survives a crash. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/atomic.h"

int nb_atomic_begin(nb_atomic_file *a, const char *op, const char *path)
{
    *a = (nb_atomic_file){.path = path, .op = op};
    size_t len = strlen(path) + 32;
    if (!(a->tmp = malloc(len))) {
        nb_error(NB_ERR_MEMORY, "%s: %s: out of memory", op, path);
        return -1;
    }
    snprintf(a->tmp, len, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0 || !(a->f = fdopen(fd, "wb"))) {
        nb_error(NB_ERR_IO, "%s: %s: cannot create the temporary file %s: %s", op, path, a->tmp,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(a->tmp);
        }
        free(a->tmp);
        a->tmp = NULL;
        return -1;
    }
    return 0;
}

void nb_atomic_abort(nb_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp) {
        unlink(a->tmp);
        free(a->tmp);
    }
    a->f = NULL;
    a->tmp = NULL;
}

/* Make the rename durable. Some file systems cannot fsync a directory; the
 * new file is in place either way, so a failure here is not reported. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir)
        return;
    if (dir) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int nb_atomic_commit(nb_atomic_file *a)
{
    const char *step = "write";
    int err = 0;
    errno = 0;
    if (fflush(a->f) != 0 || ferror(a->f))
        err = errno ? errno : EIO;
    else if ((step = "sync", fsync(fileno(a->f)) != 0))
        err = errno;
    int closed = fclose(a->f);
    a->f = NULL;
    if (!err && closed != 0) {
        step = "close";
        err = errno;
    }
    if (!err && rename(a->tmp, a->path) != 0) {
        step = "rename";
        err = errno;
    }
    if (err) {
        nb_error(NB_ERR_IO, "%s: %s: cannot %s %s: %s (the previous file is unchanged)", a->op, a->path, step,
                 a->tmp, strerror(err));
        nb_atomic_abort(a);
        return -1;
    }
    free(a->tmp);
    a->tmp = NULL;
    sync_dir(a->path);
    return 0;
}
