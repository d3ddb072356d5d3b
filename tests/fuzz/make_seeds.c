/* tests/fuzz/make_seeds.c — writes the small valid files the fuzzers start
 * from (corpus/<harness>/): IDX plain and gzip, CSV with its option byte,
 * safetensors, and a checkpoint of the model fuzz_checkpoint loads into.
 * Run by `scripts/fuzz --seeds`; the output is committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "nabla/nabla.h"

static const char *dir;

static void put(const char *harness, const char *name, const void *bytes, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dir, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static size_t idx(unsigned char *b, unsigned char type, int ndim, const unsigned *dims, int size)
{
    size_t n = 4, numel = 1;
    b[0] = b[1] = 0, b[2] = type, b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++, n += 4) {
        for (int k = 0; k < 4; k++)
            b[n + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
        numel *= dims[i];
    }
    for (size_t i = 0; i < numel * (size_t)size; i++)
        b[n + i] = (unsigned char)(i * 37 + 11);
    return n + numel * (size_t)size;
}

static void gz(const char *harness, const char *name, const void *bytes, size_t n)
{
    unsigned char out[4096];
    z_stream s = {0};
    deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (unsigned char *)bytes, s.avail_in = (uInt)n, s.next_out = out, s.avail_out = sizeof out;
    deflate(&s, Z_FINISH);
    put(harness, name, out, s.total_out);
    deflateEnd(&s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(
            stderr,
            "usage: make_seeds CORPUS_DIR (with subdirectories idx, idx_gz, csv, safetensors, checkpoint)\n");
        return 2;
    }
    dir = argv[1];
    unsigned char b[512];
    size_t n = idx(b, 0x08, 2, (unsigned[]){2, 3}, 1);
    put("idx", "u8_2x3", b, n), put("idx_gz", "u8_2x3", b, n), gz("idx", "u8_2x3.gz", b, n);
    n = idx(b, 0x0D, 1, (unsigned[]){4}, 4);
    put("idx", "f32_4", b, n), put("idx_gz", "f32_4", b, n);
    n = idx(b, 0x0B, 3, (unsigned[]){1, 2, 2}, 2);
    put("idx", "i16_1x2x2", b, n), put("idx_gz", "i16_1x2x2", b, n), gz("idx", "i16_1x2x2.gz", b, n);
    n = idx(b, 0x0E, 1, (unsigned[]){2}, 8);
    put("idx", "f64_2", b, n), put("idx_gz", "f64_2", b, n);
    static const char *csv[] = {
        "\x08"
        "a,b,c\n1,2,3\n4.5,-5e-1,6\n",
        "\x09"
        "\"x\";\"y;\"\"z\"\"\"\r\n 1 ; 2 \r\n\r\n3;4\r\n",
        "\x0e"
        "skipped\nname,value\n1,nan\n2,inf\n",
        "\x04"
        "p,q,r\n\"1\",2,3\n",
        "\x48" /* no header, classes */
        "1,2,b\n3,4,a\n5,6,b\n",
        "\x88" /* scikit-learn's first line, classes */
        "3,2,setosa,versicolor\n5.1,3.5,0\n4.9,3.0,1\n6.2,3.4,1\n",
        "\x28" /* header, classes in the first column */
        "species,len\nvirginica,6.3\nsetosa,5.1\n",
        "\x88" /* a first line claiming 255,555,555 features (a finding: 1 GB allocated) */
        "3,255555555,setosa,versiolor\n5.1,0,6\n1.2,3.4,1\n",
        "\x88" /* the same with no data row (a finding) */
        "3,255555555,setosa,ver,3.4,1\n"};
    for (int i = 0; i < (int)(sizeof csv / sizeof csv[0]); i++) {
        char name[16];
        snprintf(name, sizeof name, "seed%d", i);
        put("csv", name, csv[i], strlen(csv[i]));
    }
    nb_tensor *w = nb_from_array((nb_real[]){1, -2, 3.5, 4, 5, 6}, NB_SHAPE(2, 3)), *s = nb_scalar(7);
    char path[512];
    snprintf(path, sizeof path, "%s/safetensors/two", dir);
    if (nb_save_safetensors(path, 2, (const char *[]){"w", "s"}, (nb_tensor *[]){w, s}, "{\"step\":\"3\"}") !=
        0)
        return 1;
    static const char f16[] = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                              "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]}}    ";
    unsigned char st[256] = {(unsigned char)(sizeof f16 - 1)};
    memcpy(st + 8, f16, sizeof f16 - 1);
    memcpy(st + 8 + sizeof f16 - 1, "\x00\x3c\x00\xc0\x05\x00\x00\x00\x00\x00\x00\x00", 12);
    put("safetensors", "f16_i64", st, 8 + sizeof f16 - 1 + 12);
    nb_free(w), nb_free(s);
    /* the model and optimizer of fuzz_checkpoint.c, after one step */
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_module *m = nb_sequential(4, nb_linear_ex(3, 4, true, &g), nb_act("tanh"), nb_dropout(0.5),
                                 nb_linear_ex(4, 1, true, &g));
    nb_param_list p;
    if (!m || nb_module_parameters(m, &p) < 0)
        return 1;
    nb_optim *o = nb_adam(p.tensors, p.count, NB_ADAM_OPTS(.lr = 1e-3));
    nb_tensor *x = nb_ones(NB_SHAPE(2, 3));
    nb_backward(nb_sum(nb_forward(m, x)));
    nb_optim_step(o);
    nb_step_end();
    snprintf(path, sizeof path, "%s/checkpoint/adam_step1", dir);
    if (nb_save_checkpoint(path, m, o, "{\"epoch\":\"1\"}") != 0)
        return 1;
    snprintf(path, sizeof path, "%s/checkpoint/model_only", dir);
    if (nb_save_checkpoint(path, m, NULL, NULL) != 0)
        return 1;
    nb_free(x);
    nb_optim_free(o);
    nb_param_list_free(&p);
    nb_module_free(m);
    return 0;
}
