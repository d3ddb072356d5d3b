/* examples/args.h — the command-line flags of the examples, in one small
 * table-driven parser (header only, so each example stays one file to copy):
 *
 *     int epochs = 10; bool quick = false; const char *out = ".";
 *     const ex_arg args[] = {
 *         {"epochs", EX_INT, &epochs, "training epochs"},
 *         {"quick", EX_FLAG, &quick, "a small, fast run"},
 *         {"out", EX_STR, &out, "directory for the SVGs"},
 *     };
 *     ex_parse(argc, argv, args, EX_COUNT(args), "train a model");
 *
 * Flags are written --name value or --name=value. --help prints the table
 * with the defaults; an unknown flag or a malformed number prints it to
 * stderr and exits with status 2. */
#ifndef EXAMPLES_ARGS_H
#define EXAMPLES_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum ex_arg_type { EX_FLAG, EX_INT, EX_DOUBLE, EX_STR } ex_arg_type;

typedef struct ex_arg {
    const char *name; /* without the leading "--" */
    ex_arg_type type; /* EX_FLAG: bool *, EX_INT: int *, EX_DOUBLE: double *, EX_STR: const char ** */
    void *value;      /* holds the default on entry */
    const char *help;
} ex_arg;

#define EX_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static inline void ex_usage(FILE *f, const char *prog, const ex_arg *args, int n, const char *about)
{
    fprintf(f, "%s — %s\n\nusage: %s [flags]\n", prog, about, prog);
    for (int i = 0; i < n; i++) {
        char def[64] = "";
        switch (args[i].type) {
        case EX_FLAG: break;
        case EX_INT: snprintf(def, sizeof def, " (default %d)", *(int *)args[i].value); break;
        case EX_DOUBLE: snprintf(def, sizeof def, " (default %g)", *(double *)args[i].value); break;
        case EX_STR:
            if (*(const char **)args[i].value)
                snprintf(def, sizeof def, " (default %s)", *(const char **)args[i].value);
            break;
        }
        fprintf(f, "  --%-12s %s%s\n", args[i].name, args[i].help, def);
    }
}

/* The flag that argument a ("--name" or "--name=value") names, or NULL. */
static inline const ex_arg *ex_find(const ex_arg *args, int n, const char *a)
{
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    for (int i = 0; i < n && strncmp(a, "--", 2) == 0; i++)
        if (strlen(args[i].name) == len - 2 && strncmp(a + 2, args[i].name, len - 2) == 0)
            return &args[i];
    return NULL;
}

static inline void ex_parse(int argc, char **argv, const ex_arg *args, int n, const char *about)
{
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ex_usage(stdout, argv[0], args, n, about);
            exit(0);
        }
        const char *eq = strchr(a, '=');
        const ex_arg *arg = ex_find(args, n, a);
        if (!arg) {
            fprintf(stderr, "%s: unknown argument '%s'\n\n", argv[0], a);
            ex_usage(stderr, argv[0], args, n, about);
            exit(2);
        }
        if (arg->type == EX_FLAG) {
            *(bool *)arg->value = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (k + 1 < argc ? argv[++k] : NULL);
        if (!v) {
            fprintf(stderr, "%s: --%s needs a value\n", argv[0], arg->name);
            exit(2);
        }
        char *end = NULL;
        errno = 0;
        if (arg->type == EX_STR) {
            *(const char **)arg->value = v;
            continue;
        } else if (arg->type == EX_INT) {
            long x = strtol(v, &end, 10);
            if (x < -2147483647L || x > 2147483647L)
                errno = ERANGE;
            *(int *)arg->value = (int)x;
        } else {
            *(double *)arg->value = strtod(v, &end);
        }
        if (end == v || *end || errno) {
            fprintf(stderr, "%s: --%s: '%s' is not a valid number\n", argv[0], arg->name, v);
            exit(2);
        }
    }
}

/* Whether flag --name is among the arguments, read as ex_parse reads them
 * (a value of another flag is not a flag). For a preset such as --quick:
 * applied to the defaults before ex_parse, so that flags given with it win. */
static inline bool ex_given(int argc, char **argv, const ex_arg *args, int n, const char *name)
{
    for (int k = 1; k < argc; k++) {
        const ex_arg *arg = ex_find(args, n, argv[k]);
        if (arg && strcmp(arg->name, name) == 0)
            return true;
        if (arg && arg->type != EX_FLAG && !strchr(argv[k], '='))
            k++; /* its value */
    }
    return false;
}

/* Print nabla's pending error and exit 1: the examples' answer to a NULL or -1. */
#define EX_CHECK(cond)                                                                                       \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, nb_last_error_message());                     \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

#endif
