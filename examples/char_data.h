/* examples/char_data.h — text for the character-level language models (header
 * only; char_lstm.c, and issue 14's char_gpt): reading a text file or a
 * directory of them, the vocabulary of the bytes it uses, a held-out split,
 * and the B parallel streams that truncated backpropagation through time
 * reads in consecutive chunks (PyTorch's word_language_model batchify).
 *
 *     cd_corpus *c = cd_load("/usr/share/games/fortunes", 10);   // every 10th block held out
 *     cd_streams s = cd_streams_make(c->ids, c->n_train, 32);    // 32 streams of the training split
 *     cd_chunk(&s, k, 64, x, y);   // x [32, 64] ids, y [32 * 64] the next character of each
 *
 * A character is a byte: UTF-8 text gives one id per byte, so any file works
 * and the vocabulary is at most 256 ids. */
#ifndef EXAMPLES_CHAR_DATA_H
#define EXAMPLES_CHAR_DATA_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <nabla/nabla.h>

/* The split is made of blocks: every val_every-th block is validation text,
 * so the held-out text samples the whole corpus (all the files of a
 * directory) rather than its last file. Blocks are CD_BLOCK characters, or
 * smaller for a short text, so that it still has 8 val_every of them. */
enum { CD_BLOCK = 8192, CD_MIN_BLOCK = 16 };

typedef struct cd_corpus {
    int64_t len;           /* characters (bytes) in all */
    int64_t *ids;          /* len ids: the training split first, then the validation split */
    int64_t n_train;       /* ids[0, n_train) train, ids[n_train, len) validation */
    int64_t block;         /* characters per block of the split */
    int vocab;             /* distinct bytes */
    unsigned char ch[256]; /* the byte of each id, in byte order */
    int files;             /* files read */
} cd_corpus;

/* Append the bytes of the file at path to *buf (*len used of *cap). 0, or -1
 * with errno set. */
static inline int cd_append_file(const char *path, unsigned char **buf, int64_t *len, int64_t *cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    for (;;) {
        if (*cap - *len < 65536) {
            int64_t ncap = *cap * 2 + 65536;
            unsigned char *nb = realloc(*buf, (size_t)ncap);
            if (!nb) {
                fclose(f);
                return -1;
            }
            *buf = nb, *cap = ncap;
        }
        size_t got = fread(*buf + *len, 1, (size_t)(*cap - *len), f);
        *len += (int64_t)got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static inline int cd_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The text at path: a file, or a directory whose regular files without a
 * '.' in their name are read in name order (the fortunes package's layout:
 * "art", "art.dat", "art.u8" are a text, its index and a link to the text).
 * Returns the corpus with every val_every-th block held out (val_every >= 2),
 * or NULL with a message on stderr. */
static inline cd_corpus *cd_load(const char *path, int val_every)
{
    unsigned char *text = NULL;
    int64_t len = 0, cap = 0;
    int files = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            return NULL;
        }
        char **names = NULL;
        int n = 0, ncap = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (strchr(e->d_name, '.'))
                continue;
            if (n == ncap) {
                ncap = ncap * 2 + 16;
                char **nn = realloc(names, (size_t)ncap * sizeof *names);
                if (!nn)
                    break;
                names = nn;
            }
            names[n] = strdup(e->d_name);
            if (names[n])
                n++;
        }
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, cd_name_cmp);
        for (int i = 0; i < n; i++) {
            char file[4096];
            snprintf(file, sizeof file, "%s/%s", path, names[i]);
            struct stat fs;
            if (lstat(file, &fs) == 0 && S_ISREG(fs.st_mode)) {
                if (cd_append_file(file, &text, &len, &cap) != 0) {
                    fprintf(stderr, "%s: %s\n", file, strerror(errno));
                    len = -1;
                }
                files++;
            }
            free(names[i]);
        }
        free(names);
    } else {
        files = 1;
        if (cd_append_file(path, &text, &len, &cap) != 0) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            len = -1;
        }
    }
    int64_t block = len / (8 * val_every) < CD_BLOCK ? len / (8 * val_every) : CD_BLOCK;
    if (len >= 0 && block < CD_MIN_BLOCK) {
        fprintf(stderr, "%s: %lld characters in %d file(s); at least %d are needed\n", path, (long long)len,
                files, 8 * val_every * CD_MIN_BLOCK);
        len = -1;
    }
    cd_corpus *c = len < 0 ? NULL : calloc(1, sizeof *c);
    if (c)
        c->ids = malloc((size_t)len * sizeof *c->ids);
    if (!c || !c->ids) {
        if (c)
            fprintf(stderr, "%s: out of memory\n", path);
        free(c);
        free(text);
        return NULL;
    }
    int id[256];
    bool seen[256] = {false};
    for (int64_t i = 0; i < len; i++)
        seen[text[i]] = true;
    for (int b = 0; b < 256; b++)
        if (seen[b])
            c->ch[c->vocab] = (unsigned char)b, id[b] = c->vocab++;
    /* training blocks first, in order, then the validation blocks */
    int64_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t b0 = 0; b0 < len; b0 += block) {
            bool held_out = (b0 / block) % val_every == val_every - 1;
            if (held_out != (pass == 1))
                continue;
            for (int64_t i = b0; i < len && i < b0 + block; i++)
                c->ids[n++] = id[text[i]];
        }
        if (pass == 0)
            c->n_train = n;
    }
    c->len = len;
    c->block = block;
    c->files = files;
    free(text);
    return c;
}

static inline void cd_free(cd_corpus *c)
{
    if (c)
        free(c->ids);
    free(c);
}

/* The id of byte b, or -1 when the text never uses it. */
static inline int cd_id(const cd_corpus *c, unsigned char b)
{
    for (int i = 0; i < c->vocab; i++)
        if (c->ch[i] == b)
            return i;
    return -1;
}

/* B streams of L consecutive ids each: stream b is ids[b L, (b + 1) L), the
 * n ids cut in B pieces (the last n mod B dropped). Chunk k of length T is
 * columns [k T, k T + T) of every stream, its targets the next column each. */
typedef struct cd_streams {
    const int64_t *ids;
    int64_t B, L;
} cd_streams;

static inline cd_streams cd_streams_make(const int64_t *ids, int64_t n, int64_t B)
{
    return (cd_streams){ids, B, n / B};
}

/* How many whole chunks of T the streams hold (each needs T + 1 ids for its targets). */
static inline int64_t cd_chunks(const cd_streams *s, int64_t T) { return s->L > 0 ? (s->L - 1) / T : 0; }

/* Chunk k into x (shape [B, T]: the input ids) and y (B T values: the id that
 * follows each, row by row, as cross-entropy over [B T, vocab] reads them). */
static inline void cd_chunk(const cd_streams *s, int64_t k, int64_t T, nb_tensor *x, nb_tensor *y)
{
    for (int64_t b = 0; b < s->B; b++) {
        const int64_t *row = s->ids + b * s->L + k * T;
        for (int64_t t = 0; t < T; t++) {
            x->data[b * T + t] = (nb_real)row[t];
            y->data[b * T + t] = (nb_real)row[t + 1];
        }
    }
}

#endif
