/* io/atomic.c — atomic file replacement: a temporary file of a unique name,
 * created exclusively next to the target, written, fsync'ed, renamed over the
 * target, then the directory fsync'ed so that the rename survives a crash.
 * Temporaries left by a killed process are removed by the next save to the
 * same path. */
#define _GNU_SOURCE /* fopencookie: stdio on top of write(2), errno kept */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "io/atomic.h"

#define TMP_TAG ".nabla-tmp." /* <path>.nabla-tmp.<pid>.<8 hex digits> */

/* stdio's error flag forgets errno; writing through this cookie keeps the
 * first write error (ENOSPC, EDQUOT, EFBIG...) for the message. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
    nb_atomic_file *a = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(a->fd, buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (!a->write_errno)
                a->write_errno = k < 0 ? errno : ENOSPC;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static uint64_t mix(uint64_t z) /* splitmix64's finaliser */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A name no other save uses: pid, a process-wide counter, the clock and a
 * stack address mixed; O_EXCL makes it certain, a collision just retries. */
static void tmp_name(char *buf, size_t size, const char *path)
{
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = mix(atomic_fetch_add(&counter, 1) ^ mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30)) ^
                     (uint64_t)(uintptr_t)&ts);
    snprintf(buf, size, "%s" TMP_TAG "%ld.%08lx", path, (long)getpid(), (unsigned long)(r & 0xffffffffu));
}

/* The directory of path ("." when it has none) into dir; the base name's offset. */
static size_t split_dir(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, size, ".");
        return 0;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    snprintf(dir, size, "%.*s", (int)n, path);
    return (size_t)(slash - path) + 1;
}

/* True for "<pid>.<8 hex>" of a process that no longer exists. */
static bool owner_gone(const char *rest)
{
    char *end;
    long pid = strtol(rest, &end, 10);
    if (end == rest || *end != '.' || pid <= 0 || strlen(end + 1) != 8 ||
        strspn(end + 1, "0123456789abcdef") != 8)
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove the temporaries of earlier saves to path whose processes are gone
 * (killed during a save): regular files of ours, never anything else. */
static void clean_stale(const char *path)
{
    char dir[4096];
    size_t base = split_dir(path, dir, sizeof dir);
    size_t len = strlen(path + base);
    DIR *d = strlen(path) < sizeof dir ? opendir(dir) : NULL;
    if (!d)
        return;
    int saved = errno;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, path + base, len) != 0 || strncmp(n + len, TMP_TAG, strlen(TMP_TAG)) != 0 ||
            !owner_gone(n + len + strlen(TMP_TAG)))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_uid == geteuid())
            unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
    errno = saved;
}

int nb_atomic_begin(nb_atomic_file *a, const char *op, const char *path)
{
    *a = (nb_atomic_file){.path = path, .op = op, .fd = -1};
    size_t len = strlen(path) + sizeof TMP_TAG + 32;
    if (!(a->tmp = malloc(len))) {
        nb_error(NB_ERR_MEMORY, "%s: %s: out of memory", op, path);
        return -1;
    }
    clean_stale(path);
    for (int tries = 0; a->fd < 0 && tries < 64; tries++) {
        tmp_name(a->tmp, len, path);
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (a->fd < 0 && errno != EEXIST)
            break;
    }
    int err = errno;
    cookie_io_functions_t io = {.write = cookie_write};
    if (a->fd < 0 || !(a->f = fopencookie(a, "w", io))) {
        nb_error(a->fd < 0 ? NB_ERR_IO : NB_ERR_MEMORY, "%s: %s: cannot create the temporary file %s: %s", op,
                 path, a->tmp, strerror(a->fd < 0 ? err : ENOMEM));
        if (a->fd >= 0) {
            close(a->fd);
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
    if (a->fd >= 0)
        close(a->fd);
    if (a->tmp) {
        unlink(a->tmp);
        free(a->tmp);
    }
    a->f = NULL;
    a->fd = -1;
    a->tmp = NULL;
}

/* Make the rename durable. Some file systems cannot fsync a directory; the
 * new file is in place either way, so a failure here is not reported. */
static void sync_dir(const char *path)
{
    char dir[4096];
    if (strlen(path) >= sizeof dir)
        return;
    split_dir(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int nb_atomic_commit(nb_atomic_file *a)
{
    const char *step = "write";
    int err = 0;
    bool flushed = fflush(a->f) == 0 && !ferror(a->f);
    int flush_errno = errno;
    if (!flushed) /* the cookie saw the write's own errno; stdio's flag alone says EIO */
        err = a->write_errno ? a->write_errno : flush_errno ? flush_errno : EIO;
    else if ((step = "sync", fsync(a->fd) != 0))
        err = errno;
    fclose(a->f); /* the cookie has no close: the descriptor is ours */
    a->f = NULL;
    if (!err && close(a->fd) != 0) {
        step = "close";
        err = errno;
    }
    a->fd = err ? a->fd : -1;
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
