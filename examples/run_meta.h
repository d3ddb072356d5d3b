/* examples/run_meta.h — a run's settings and progress as the metadata of its
 * checkpoint (header only; char_lstm.c and char_gpt.c). nb_save_training
 * saves the model, the optimizer, the schedule and the generators; what is
 * the program's own (the sizes the model is built from, the step, the
 * history of the losses) goes in the file's metadata. A table names those
 * fields of the program's config struct by offset; ex_meta_json writes them
 * as the JSON object of strings nb_save_training takes, and ex_meta_read
 * reads them back, before --resume builds the model from them:
 *
 *     static const ex_meta meta[] = {
 *         EX_META_FIELD(config, steps, EX_META_INT),     // int steps: "steps": "1000"
 *         EX_META_FIELD(config, lr, EX_META_REAL),       // double lr
 *         EX_META_FIELD(config, text, EX_META_TEXT),     // char text[1024]
 *         EX_META_LIST_FIELD(config, val_bpc, evals),          // double val_bpc[N], evals of them used
 *     };
 *     char *json = ex_meta_json(meta, EX_COUNT(meta), &c);
 *     nb_save_training(path, &run, json);
 *     free(json);
 *     ...
 *     ex_meta_read(path, "char_gpt", meta, EX_COUNT(meta), &c);   // exits naming a missing key
 *
 * Reals are written with 17 significant digits, which read back as the same
 * double, so a resumed run goes on with the same bits. */
#ifndef EXAMPLES_RUN_META_H
#define EXAMPLES_RUN_META_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>

#include "args.h"

typedef enum ex_meta_type {
    EX_META_INT,  /* an int */
    EX_META_REAL, /* a double */
    EX_META_TEXT, /* a char array of `size` bytes */
    EX_META_LIST  /* a double array, its used length another field, an int ("1,2.5,3") */
} ex_meta_type;

typedef struct ex_meta {
    const char *key;
    ex_meta_type type;
    size_t at;    /* offsetof the field in the config struct */
    size_t size;  /* sizeof the field (TEXT: the array's bytes; LIST: the array's) */
    size_t count; /* LIST: offsetof the int that counts its values (lists may share one) */
} ex_meta;

/* Field f of struct type s under the key "f"; a LIST counted by the int field n. */
#define EX_META_FIELD(s, f, type)                                                                            \
    {                                                                                                        \
#f, type, offsetof(s, f), sizeof(((s *)0)->f), 0                                                     \
    }
#define EX_META_LIST_FIELD(s, f, n)                                                                          \
    {                                                                                                        \
#f, EX_META_LIST, offsetof(s, f), sizeof(((s *)0)->f), offsetof(s, n)                                \
    }

/* s as the contents of a JSON string: quotes, backslashes and control bytes escaped. */
static inline void ex_meta_put_string(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
}

/* The n fields of the struct at base as a JSON object of strings; malloc'd,
 * the caller frees it. Exits when out of memory. */
static inline char *ex_meta_json(const ex_meta *m, int n, const void *base)
{
    const char *b = base;
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) {
        fprintf(stderr, "checkpoint metadata: %s\n", strerror(errno));
        exit(1);
    }
    fputc('{', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\"%s\": \"", i ? ", " : "", m[i].key);
        switch (m[i].type) {
        case EX_META_INT: fprintf(f, "%d", *(const int *)(b + m[i].at)); break;
        case EX_META_REAL: fprintf(f, "%.17g", *(const double *)(b + m[i].at)); break;
        case EX_META_TEXT: ex_meta_put_string(f, b + m[i].at); break;
        case EX_META_LIST:
            for (int k = 0; k < *(const int *)(b + m[i].count); k++)
                fprintf(f, "%s%.17g", k ? "," : "", ((const double *)(b + m[i].at))[k]);
            break;
        }
        fputc('"', f);
    }
    fputc('}', f);
    if (fclose(f) != 0 || !s) {
        fprintf(stderr, "checkpoint metadata: out of memory\n");
        exit(1);
    }
    return s;
}

/* Whether v is a whole number that fits an int; into *out. */
static inline bool ex_meta_int(const char *v, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    *out = (int)x;
    return end != v && !*end && !errno && x >= -2147483647L && x <= 2147483647L;
}

/* Whether v is a number and nothing else; into *out (end: where it stopped). */
static inline bool ex_meta_real(const char *v, double *out, char **end)
{
    *out = strtod(v, end);
    return *end != v;
}

/* Set the n fields of the struct at base from the metadata of the checkpoint
 * at path. A key that is missing or malformed exits with a message naming the
 * file, the key and prog (the program whose checkpoint it should be). */
static inline void ex_meta_read(const char *path, const char *prog, const ex_meta *m, int n, void *base)
{
    char *b = base;
    nb_safetensors *st = nb_safetensors_open(path);
    if (!st) {
        fprintf(stderr, "%s\n", nb_last_error_message());
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        const char *v = nb_safetensors_metadata(st, m[i].key);
        char *end = NULL;
        bool ok = v != NULL;
        switch (ok ? m[i].type : EX_META_INT) {
        case EX_META_INT: ok = ok && ex_meta_int(v, (int *)(b + m[i].at)); break;
        case EX_META_REAL: ok = ex_meta_real(v, (double *)(b + m[i].at), &end) && !*end; break;
        case EX_META_TEXT:
            ok = strlen(v) < m[i].size;
            snprintf(b + m[i].at, m[i].size, "%s", v);
            break;
        case EX_META_LIST: {
            double *list = (double *)(b + m[i].at);
            int k = 0;
            for (const char *p = v; ok && *p; p = *end ? end + 1 : end, k++)
                ok = (size_t)k < m[i].size / sizeof *list && ex_meta_real(p, &list[k], &end) &&
                     (*end == ',' || !*end);
            *(int *)(b + m[i].count) = k;
            break;
        }
        }
        if (!ok) {
            fprintf(stderr, "%s: not a %s checkpoint (%s '%s' in its metadata)\n", path, prog,
                    v ? "a malformed" : "no", m[i].key);
            nb_safetensors_close(st);
            exit(1);
        }
    }
    nb_safetensors_close(st);
}

/* Under --resume the checkpoint's settings are the run's: each of them also
 * given on the command line (key "val_windows", flag --val-windows) is said on
 * stderr, once, as not used, rather than dropped silently. */
static inline void ex_meta_ignored(int argc, char **argv, const ex_arg *args, int nargs, const ex_meta *m,
                                   int n, const char *prog)
{
    for (int i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "%s", m[i].key);
        for (char *p = flag; *p; p++)
            *p = *p == '_' ? '-' : *p;
        if (ex_given(argc, argv, args, nargs, flag))
            fprintf(stderr,
                    "%s: --%s is not used: --resume continues the run with the checkpoint's settings\n", prog,
                    flag);
    }
}

#endif
