/* tests/files.h — a fresh temporary directory per test and small file helpers
 * for the loader tests (IDX, CSV, safetensors). */
#ifndef NB_TESTS_FILES_H
#define NB_TESTS_FILES_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[64];

/* Make the directory (use in .init after quiet()). */
static inline void tmp_make(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/nabla-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir));
}

/* "<dir>/<name>" in one of a few rotating buffers. */
static inline const char *tmp_path(const char *name)
{
    static char ring[4][256];
    static int next;
    char *buf = ring[next++ & 3];
    snprintf(buf, sizeof ring[0], "%s/%s", tmp_dir, name);
    return buf;
}

/* Remove the directory and everything in it, one level of subdirectories included. */
static inline void tmp_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                tmp_remove_dir(path);
            else
                unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static inline void tmp_clean(void) { tmp_remove_dir(tmp_dir); }

/* Entries in the directory (to check that no temporary file is left behind). */
static inline int tmp_count(void)
{
    DIR *d = opendir(tmp_dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static inline const char *write_bytes(const char *name, const void *bytes, size_t n)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static inline const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

/* The whole file in a heap block; *n its size. */
static inline unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* A FIFO at name, fed `bytes` by a child process once a reader opens it; the
 * child's pid in *pid (reap it with fifo_done). */
static inline const char *fifo_feed(const char *name, const void *bytes, size_t n, pid_t *pid)
{
    const char *path = tmp_path(name);
    cr_assert_eq(mkfifo(path, 0600), 0);
    *pid = fork();
    cr_assert(*pid >= 0);
    if (*pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        FILE *f = fopen(path, "wb");
        size_t w = f ? fwrite(bytes, 1, n, f) : 0;
        _exit(f && w == n && fclose(f) == 0 ? 0 : 1);
    }
    return path;
}

static inline void fifo_done(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
}

/* Cap this (forked) test process's heap at `bytes` so that an allocation the
 * input does not justify fails. Sanitizers reserve terabytes of shadow memory,
 * so there the cap is skipped (false). */
static inline bool limit_memory(size_t bytes)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
    (void)bytes;
    return false;
#else
    struct rlimit rl = {bytes, bytes};
    return setrlimit(RLIMIT_DATA, &rl) == 0;
#endif
}

#endif
