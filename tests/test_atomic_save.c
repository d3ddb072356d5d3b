/* tests/test_atomic_save.c — how saves replace a file (issue 10): concurrent
 * saves to one path each use their own exclusively created temporary, planted
 * FIFOs and symlinks are never opened, temporaries of killed processes are
 * cleaned up by the next save, and a full disk is reported as such with the
 * previous file intact. write(2) is interposed here to simulate the full disk. */
#define _GNU_SOURCE /* syscall */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include "common.h"
#include "files.h"

static void setup(void) { quiet(), tmp_make(); }
static void teardown(void) { tmp_clean(), end_step(); }
TestSuite(atomic_save, .init = setup, .fini = teardown);

/* While set, writes to regular files fail with this errno (a full disk). */
static volatile int fail_writes;

ssize_t write(int fd, const void *buf, size_t n)
{
    struct stat st;
    if (fail_writes && fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        errno = fail_writes;
        return -1;
    }
    return syscall(SYS_write, fd, buf, n);
}

enum { N = 4096, SAVES = 40 };

typedef struct saver {
    const char *path;
    nb_real value;
    int failures;
    char message[512];
} saver;

static atomic_int finished;

static nb_tensor *load_x(const char *path)
{
    nb_safetensors *st = nb_safetensors_open(path);
    nb_tensor *t = st ? nb_safetensors_get(st, "x") : NULL;
    nb_safetensors_close(st);
    return t;
}

/* Saves a tensor filled with its own value, SAVES times. */
static void *save_loop(void *arg)
{
    saver *s = arg;
    nb_set_error_handler(NULL, NULL);
    nb_tensor *t = nb_full(NB_SHAPE(N), s->value);
    for (int i = 0; i < SAVES; i++)
        if (nb_save_safetensors(s->path, 1, (const char *[]){"x"}, &t, NULL) != 0) {
            s->failures++;
            snprintf(s->message, sizeof s->message, "%s", nb_last_error_message());
        }
    nb_free(t);
    atomic_fetch_add(&finished, 1);
    return NULL;
}

Test(atomic_save, concurrent_saves_to_one_path_never_corrupt_it)
{
    const char *path = tmp_path("c.st");
    saver s[2] = {{path, 1, 0, ""}, {path, 2, 0, ""}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, save_loop, &s[i]), 0);
    int reads = 0;
    while (atomic_load(&finished) < 2) { /* read while they write: always one whole file */
        nb_tensor *t = load_x(path);
        if (t) {
            for (int k = 1; k < N; k++)
                cr_assert_eq(t->data[k], t->data[0], "a mixed file: element %d is %g, element 0 %g", k,
                             (double)t->data[k], (double)t->data[0]);
            cr_assert(t->data[0] == 1 || t->data[0] == 2);
            nb_free(t);
            reads++;
        } else {
            cr_assert(strstr(nb_last_error_message(), "cannot open"), "a reader saw: %s",
                      nb_last_error_message());
            nb_clear_error();
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(s[i].failures, 0, "thread %d: %d saves failed: %s", i, s[i].failures, s[i].message);
    cr_assert_gt(reads, 0);
    cr_assert_eq(tmp_count(), 1, "temporaries were left behind");
}

/* The old temporary name, <path>.tmp.<pid>, was predictable: whatever is
 * planted there (or at any name) is not opened, truncated or followed. */
Test(atomic_save, planted_fifo_and_symlink_are_never_opened, .timeout = 20)
{
    char victim[300], fifo[300], link[300];
    snprintf(victim, sizeof victim, "%s", write_text("victim", "precious"));
    snprintf(fifo, sizeof fifo, "%s.tmp.%ld", tmp_path("a.st"), (long)getpid());
    snprintf(link, sizeof link, "%s.tmp.%ld", tmp_path("b.st"), (long)getpid());
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(symlink(victim, link), 0);
    nb_tensor *t = nb_full(NB_SHAPE(3), 5);
    cr_assert_eq(nb_save_safetensors(tmp_path("a.st"), 1, (const char *[]){"x"}, &t, NULL), 0, "%s",
                 nb_last_error_message());
    cr_assert_eq(nb_save_safetensors(tmp_path("b.st"), 1, (const char *[]){"x"}, &t, NULL), 0, "%s",
                 nb_last_error_message());
    size_t n;
    unsigned char *v = read_bytes(victim, &n);
    cr_assert_eq(n, 8);
    cr_assert(memcmp(v, "precious", 8) == 0, "the symlink's target was written");
    free(v);
    nb_tensor *back = load_x(tmp_path("b.st"));
    cr_assert_not_null(back);
    cr_assert_eq(back->data[2], 5);
    nb_free(back), nb_free(t);
}

/* A save killed with -9 leaves <path>.nabla-tmp.<pid>.<hex>: the next save to
 * the same path removes those whose process is gone, and nothing else. */
Test(atomic_save, stale_temporaries_of_dead_processes_are_removed)
{
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char stale[300], live[300], other[300], odd[300];
    snprintf(stale, sizeof stale, "%s.nabla-tmp.%ld.0123abcd", tmp_path("c.st"), (long)dead);
    snprintf(live, sizeof live, "%s.nabla-tmp.%ld.0123abcd", tmp_path("c.st"), (long)getpid());
    snprintf(other, sizeof other, "%s.nabla-tmp.%ld.0123abcd", tmp_path("d.st"), (long)dead);
    snprintf(odd, sizeof odd, "%s.nabla-tmp.%ld.notmine", tmp_path("c.st"), (long)dead);
    const char *names[] = {stale, live, other, odd};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(names[i], "wb");
        cr_assert_not_null(f);
        fputs("half a checkpoint", f);
        fclose(f);
    }
    nb_tensor *t = nb_full(NB_SHAPE(3), 1);
    cr_assert_eq(nb_save_safetensors(tmp_path("c.st"), 1, (const char *[]){"x"}, &t, NULL), 0);
    nb_free(t);
    cr_assert_eq(access(stale, F_OK), -1, "the dead process's temporary is still there");
    cr_assert_eq(access(live, F_OK), 0, "a live process's temporary was removed");
    cr_assert_eq(access(other, F_OK), 0, "another path's temporary was removed");
    cr_assert_eq(access(odd, F_OK), 0, "a file not named like a temporary was removed");
    cr_assert_eq(tmp_count(), 4);
}

/* A full disk says so, and the previous file stays as it was. */
Test(atomic_save, full_disk_is_reported_as_no_space_left)
{
    const char *path = tmp_path("f.st");
    nb_tensor *a = nb_full(NB_SHAPE(3), 1), *b = nb_full(NB_SHAPE(100000), 2);
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"x"}, &a, NULL), 0);
    size_t n0, n1;
    unsigned char *before = read_bytes(path, &n0);
    fail_writes = ENOSPC;
    int rc = nb_save_safetensors(path, 1, (const char *[]){"x"}, &b, NULL);
    fail_writes = 0;
    cr_assert_eq(rc, -1);
    assert_error(NB_ERR_IO, "f.st: cannot write ");
    assert_error(NB_ERR_IO, ": No space left on device (the previous file is unchanged)");
    unsigned char *after = read_bytes(path, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0, "the previous file changed");
    cr_assert_eq(tmp_count(), 1, "the temporary was left behind");
    free(before), free(after);
    nb_free(a), nb_free(b);
}
