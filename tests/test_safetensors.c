/* tests/test_safetensors.c — checkpoints: round trip with metadata, the exact
 * bytes written, reading F16/BF16/integer files, hostile headers (length past
 * the end, malformed JSON at a known byte, overlaps, holes, size mismatches),
 * nb_load_into's all-or-nothing checks, atomic saves, and numpy interop. */
#include "common.h"
#include "files.h"

static void setup(void) { quiet(), tmp_make(); }
static void teardown(void) { tmp_clean(), end_step(); }
TestSuite(safetensors, .init = setup, .fini = teardown);

#ifdef NABLA_F64
#define DT "F64"
#else
#define DT "F32"
#endif

/* A file made of a header (padded to 8 unless pad is false) and raw data. */
static const char *write_st(const char *name, const char *json, const void *data, size_t n, bool pad)
{
    size_t h = strlen(json), padded = pad ? (h + 7) / 8 * 8 : h;
    unsigned char *b = malloc(8 + padded + n);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, json, h);
    memset(b + 8 + h, ' ', padded - h);
    if (n)
        memcpy(b + 8 + padded, data, n);
    const char *path = write_bytes(name, b, 8 + padded + n);
    free(b);
    return path;
}

Test(safetensors, round_trip_with_metadata)
{
    nb_tensor *w = nb_from_array((nb_real[]){1, -2.5, 3.25, 1e-3, 0, 7}, NB_SHAPE(2, 3));
    nb_tensor *b = nb_from_array((nb_real[]){0.5}, NB_SHAPE(1));
    nb_tensor *s = nb_scalar(42);
    const char *path = tmp_path("m.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 3, (const char *[]){"fc.weight", "fc.bias", "step"},
                                     (nb_tensor *[]){w, b, s},
                                     "{\"step\": \"1200\", \"note\": \"a \\\"q\\\" \\u00e9\"}"),
                 0, "%s", nb_last_error_message());
    cr_assert_eq(tmp_count(), 1, "a temporary file was left behind");
    nb_safetensors *st = nb_safetensors_open(path);
    cr_assert_not_null(st, "%s", nb_last_error_message());
    cr_assert_eq(nb_safetensors_count(st), 3);
    const nb_safetensors_entry *e = nb_safetensors_entry_at(st, 0); /* sorted by name */
    cr_assert_str_eq(e->name, "fc.bias");
    cr_assert_str_eq(nb_safetensors_entry_at(st, 2)->name, "step");
    e = nb_safetensors_find(st, "fc.weight");
    cr_assert_str_eq(e->dtype, DT);
    cr_assert_eq(e->ndim, 2);
    cr_assert_eq(e->shape[0], 2);
    cr_assert_eq(e->shape[1], 3);
    cr_assert_null(nb_safetensors_find(st, "nope"));
    cr_assert_str_eq(nb_safetensors_metadata(st, "step"), "1200");
    cr_assert_str_eq(nb_safetensors_metadata(st, "note"), "a \"q\" \xc3\xa9");
    cr_assert_null(nb_safetensors_metadata(st, "lr"));
    nb_tensor *w2 = nb_safetensors_get(st, "fc.weight"), *s2 = nb_safetensors_get(st, "step");
    assert_shape(w2, 2, (int64_t[]){2, 3});
    cr_assert_arr_eq(w2->data, w->data, 6 * sizeof(nb_real)); /* bit-exact */
    cr_assert_eq(s2->ndim, 0);
    cr_assert_eq(s2->data[0], 42);
    cr_assert_null(nb_safetensors_get(st, "fc.wieght"));
    assert_error(NB_ERR_ARG, "no tensor named 'fc.wieght'");
    nb_safetensors_close(st);
    nb_free(w), nb_free(b), nb_free(s), nb_free(w2), nb_free(s2);
}

Test(safetensors, exact_bytes_of_a_small_file)
{
    nb_tensor *a = nb_from_array((nb_real[]){1, -2}, NB_SHAPE(2));
    const char *path = tmp_path("a.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"a"}, &a, NULL), 0);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    const char *json = "{\"a\":{\"dtype\":\"" DT "\",\"shape\":[2],\"data_offsets\":[0,"
                       "%d]}}";
    char want[128];
    snprintf(want, sizeof want, json, (int)(2 * sizeof(nb_real)));
    size_t h = strlen(want), padded = (h + 7) / 8 * 8;
    cr_assert_eq(n, 8 + padded + 2 * sizeof(nb_real));
    cr_assert_eq(b[0], padded);
    cr_assert_eq(b[1], 0);
    cr_assert_eq(b[7], 0);
    cr_assert(memcmp(b + 8, want, h) == 0, "header %.*s", (int)padded, b + 8);
    for (size_t i = h; i < padded; i++)
        cr_assert_eq(b[8 + i], ' ');
#ifdef NABLA_F64
    static const unsigned char data[] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0};
#else
    static const unsigned char data[] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0};
#endif
    cr_assert_arr_eq(b + 8 + padded, data, sizeof data);
    free(b);
    nb_free(a);
}

Test(safetensors, reads_half_bfloat_integer_and_bool_dtypes)
{
    const char *json = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                       "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                       "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]},"
                       "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[20,22]},"
                       "\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[22,24]},"
                       "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[24,25]}}";
    static const unsigned char data[25] = {
        0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c, /* F16: 1, -2, 2^-24, inf */
        0xc0, 0x3f, 0x80, 0xbf,                         /* BF16: 1.5, -1 */
        0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* I64: -3 */
        200,  7,    0,    1,    0x38};
    nb_safetensors *st = nb_safetensors_open(write_st("d.safetensors", json, data, sizeof data, true));
    cr_assert_not_null(st, "%s", nb_last_error_message());
    nb_tensor *h = nb_safetensors_get(st, "h"), *bf = nb_safetensors_get(st, "bf");
    nb_tensor *i = nb_safetensors_get(st, "i"), *u = nb_safetensors_get(st, "u"),
              *b = nb_safetensors_get(st, "b");
    cr_assert_eq(h->data[0], 1);
    cr_assert_eq(h->data[1], -2);
    cr_assert_eq(h->data[2], (nb_real)ldexp(1, -24));
    cr_assert(isinf(h->data[3]));
    cr_assert_eq(bf->data[0], 1.5);
    cr_assert_eq(bf->data[1], -1);
    cr_assert_eq(i->data[0], -3);
    cr_assert_eq(u->data[0], 200);
    cr_assert_eq(u->data[1], 7);
    cr_assert_eq(b->data[0], 0);
    cr_assert_eq(b->data[1], 1);
    cr_assert_null(nb_safetensors_get(st, "f8"));
    assert_error(NB_ERR_FORMAT, "tensor 'f8' has dtype F8_E4M3, which nabla cannot convert");
    nb_safetensors_close(st);
    nb_free(h), nb_free(bf), nb_free(i), nb_free(u), nb_free(b);
}

Test(safetensors, empty_checkpoint)
{
    const char *path = tmp_path("e.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 0, NULL, NULL, NULL), 0);
    nb_safetensors *st = nb_safetensors_open(path);
    cr_assert_not_null(st);
    cr_assert_eq(nb_safetensors_count(st), 0);
    nb_safetensors_close(st);
}

/* open fails with this code and message fragment */
static void bad(const char *name, const char *json, const void *data, size_t n, bool pad, nb_status code,
                const char *text)
{
    nb_clear_error();
    cr_assert_null(nb_safetensors_open(write_st(name, json, data, n, pad)), "%s opened", name);
    assert_error(code, text);
}

static const unsigned char zeros[64];

Test(safetensors, hostile_lengths)
{
    cr_assert_null(nb_safetensors_open(write_bytes("short", "\x10\x00\x00", 3)));
    assert_error(NB_ERR_FORMAT, "the file holds 3 bytes, too few for the 8-byte header length");
    nb_clear_error();
    cr_assert_null(nb_safetensors_open(write_bytes("long", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10)));
    assert_error(NB_ERR_FORMAT,
                 "byte 0: header length 18446744073709551615 is larger than the rest of the file");
    nb_clear_error();
    cr_assert_null(nb_safetensors_open(write_bytes("long2", "\x03\x00\x00\x00\x00\x00\x00\x00{}", 10)));
    assert_error(NB_ERR_FORMAT, "header length 3 is larger than the rest of the file");
    nb_clear_error();
    cr_assert_null(nb_safetensors_open(tmp_path("absent")));
    assert_error(NB_ERR_IO, "absent: cannot open");
}

Test(safetensors, malformed_json_reports_the_byte)
{
    /* the x is at header offset 46, file byte 54 */
    bad("j1", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\"x[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "j1: byte 54: expected ':' but found 'x'");
    bad("j2", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "byte 39: expected a non-negative integer but found ']'");
    bad("j3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "byte 37: integer with a leading zero");
    bad("j4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "byte 37: expected a non-negative integer but found '-'");
    bad("j5", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", zeros, 8, true,
        NB_ERR_FORMAT, "expected ',' or '}' after a tensor but found the end of the JSON");
    bad("j6", "{\"a\\q\":{}}", zeros, 0, true, NB_ERR_FORMAT, "byte 11: unknown escape \\q");
    bad("j7", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", zeros, 8, true,
        NB_ERR_FORMAT, "unexpected text after the header's closing '}'");
    bad("j8", "[1]", zeros, 0, true, NB_ERR_FORMAT,
        "byte 8: expected '{' at the start of the header but found '['");
    bad("j9", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "expected an integer, found a fraction or exponent");
    bad("j10", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", zeros,
        8, true, NB_ERR_FORMAT, "integer larger than 2^63 - 1");
    bad("j11", "{\"\xff\":{}}", zeros, 0, true, NB_ERR_FORMAT, "byte 10: invalid UTF-8 inside a string");
}

Test(safetensors, inconsistent_descriptions)
{
    bad("d1", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "unknown dtype \"F33\"");
    bad("d2", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", zeros, 8, true, NB_ERR_FORMAT,
        "the tensor's description has no \"shape\"");
    bad("d3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", zeros, 8,
        true, NB_ERR_FORMAT, "key \"shape\" appears twice");
    bad("d4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"offsets\":[0,8]}}", zeros, 8, true, NB_ERR_FORMAT,
        "unexpected key \"offsets\"");
    bad("d5", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", zeros, 8, true,
        NB_ERR_FORMAT, "tensor 'a': shape [3] of F32 is 12 bytes but data_offsets [0, 8] span 8");
    bad("d6", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", zeros, 8, true,
        NB_ERR_FORMAT, "data_offsets [8, 0] end before they begin");
    bad("d7", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", zeros, 4,
        true, NB_ERR_FORMAT, "nabla tensors have at most 8 dims");
    bad("d8", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", zeros, 4,
        true, NB_ERR_FORMAT, "has too many elements");
    /* issue 10: no element, but the sizes multiply past int64 */
    bad("d10",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],"
        "\"data_offsets\":[0,0]}}",
        zeros, 0, true, NB_ERR_FORMAT,
        "tensor 'a': shape [0,4611686018427387904,4611686018427387904] has too many elements");
    bad("m1", "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", zeros, 0, true, NB_ERR_FORMAT,
        "m1: metadata key 'a' appears twice");
    bad("d9", "{\"__metadata__\":{\"k\":1}}", zeros, 0, true, NB_ERR_FORMAT,
        "metadata values must be strings");
}

Test(safetensors, offsets_must_tile_the_data)
{
    bad("o1",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        zeros, 12, true, NB_ERR_FORMAT, "tensors 'a' and 'b' overlap (data bytes 4..8)");
    bad("o2",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
        zeros, 20, true, NB_ERR_FORMAT, "data bytes 8..12 belong to no tensor");
    bad("o3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", zeros, 6, true,
        NB_ERR_FORMAT, "tensor 'a' has data_offsets [0, 8] but the file holds 6 bytes of data");
    bad("o4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", zeros, 9, true,
        NB_ERR_FORMAT, "the tensors end at data byte 8 but the file holds 9 bytes of data");
    bad("o5",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
        zeros, 16, true, NB_ERR_FORMAT, "tensor name 'a' appears twice");
    bad("o6",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        zeros, 8, true, NB_ERR_FORMAT, "overlap");
}

Test(safetensors, load_into_checks_everything_before_copying)
{
    nb_tensor *w = nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    nb_tensor *b = nb_from_array((nb_real[]){7, 8}, NB_SHAPE(2));
    const char *path = tmp_path("ckpt.safetensors");
    const char *names[] = {"fc1.weight", "fc1.bias"};
    cr_assert_eq(nb_save_safetensors(path, 2, names, (nb_tensor *[]){w, b}, NULL), 0);
    nb_tensor *w2 = nb_zeros(NB_SHAPE(2, 3)), *b2 = nb_zeros(NB_SHAPE(2));
    cr_assert_eq(nb_load_into(path, 2, names, (nb_tensor *[]){w2, b2}), 0, "%s", nb_last_error_message());
    cr_assert_arr_eq(w2->data, w->data, 6 * sizeof(nb_real));
    cr_assert_arr_eq(b2->data, b->data, 2 * sizeof(nb_real));
    /* a wrong shape and an unknown name: both reported, nothing copied */
    nb_tensor *w3 = nb_zeros(NB_SHAPE(3, 2)), *b3 = nb_full(NB_SHAPE(2), -1), *c3 = nb_zeros(NB_SHAPE(1));
    cr_assert_eq(nb_load_into(path, 3, (const char *[]){"fc1.bias", "fc1.weight", "fc2.bias"},
                              (nb_tensor *[]){b3, w3, c3}),
                 -1);
    assert_error(NB_ERR_SHAPE, "load: ");
    assert_error(NB_ERR_SHAPE,
                 "ckpt.safetensors: 2 of 3 tensors do not match: tensor 'fc1.weight' has shape [2,3] in the "
                 "file but [3,2] in the model; tensor 'fc2.bias' is not in the file");
    cr_assert_eq(b3->data[0], -1, "fc1.bias was copied although the load failed");
    nb_clear_error();
    /* forty mismatches: the summary first and every one of them, nothing cut */
    const char *many[40];
    nb_tensor *ts[40];
    char names40[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names40[i], sizeof names40[i], "layer%02d.weight", i);
        many[i] = names40[i];
        ts[i] = w2;
    }
    cr_assert_eq(nb_load_into(path, 40, many, ts), -1);
    assert_error(NB_ERR_ARG,
                 "ckpt.safetensors: 40 of 40 tensors do not match: tensor 'layer00.weight' is not");
    assert_error(NB_ERR_ARG, "; tensor 'layer39.weight' is not in the file");
    nb_clear_error();
    cr_assert_eq(nb_load_into(tmp_path("none"), 1, names, &w2), -1);
    assert_error(NB_ERR_IO, "cannot open");
    nb_free(w), nb_free(b), nb_free(w2), nb_free(b2), nb_free(w3), nb_free(b3), nb_free(c3);
}

Test(safetensors, read_into_one_tensor)
{
    nb_tensor *w = nb_from_array((nb_real[]){1, 2}, NB_SHAPE(2));
    const char *path = tmp_path("r.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"w"}, &w, NULL), 0);
    nb_safetensors *st = nb_safetensors_open(path);
    nb_tensor *dst = nb_zeros(NB_SHAPE(2)), *wrong = nb_zeros(NB_SHAPE(1, 2));
    cr_assert_eq(nb_safetensors_read_into(st, "w", dst), 0);
    cr_assert_eq(dst->data[1], 2);
    cr_assert_eq(nb_safetensors_read_into(st, "w", wrong), -1);
    assert_error(NB_ERR_SHAPE, "tensor 'w' has shape [2] in the file but [1,2] in the model");
    nb_safetensors_close(st);
    nb_free(w), nb_free(dst), nb_free(wrong);
}

Test(safetensors, save_errors_leave_the_previous_file_intact)
{
    nb_tensor *a = nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    const char *path = tmp_path("keep.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"a"}, &a, "{\"step\":\"1\"}"), 0);
    size_t n0, n1;
    unsigned char *before = read_bytes(path, &n0);
    nb_tensor *b = nb_zeros(NB_SHAPE(1000));
    /* the temporary cannot be created: a 240-byte name leaves no room for its suffix */
    char longname[600];
    snprintf(longname, sizeof longname, "%s/%0240d", tmp_dir, 7);
    cr_assert_eq(nb_save_safetensors(longname, 1, (const char *[]){"a"}, &b, NULL), -1);
    assert_error(NB_ERR_IO, "cannot create the temporary file");
    /* bad arguments, caught before anything is written */
    cr_assert_eq(nb_save_safetensors(path, 2, (const char *[]){"a", "a"}, (nb_tensor *[]){a, b}, NULL), -1);
    assert_error(NB_ERR_ARG, "the name 'a' is given twice");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"__metadata__"}, &a, NULL), -1);
    assert_error(NB_ERR_ARG, "other than __metadata__");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"a"}, &a, "{\"step\": 3}"), -1);
    assert_error(NB_ERR_FORMAT, "save: ");
    assert_error(NB_ERR_FORMAT,
                 "keep.safetensors: metadata: byte 9: metadata values must be strings (\"step\")");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"a"}, &a, "{\"step\": \"3\"} x"), -1);
    assert_error(NB_ERR_FORMAT, "unexpected text after the metadata object");
    unsigned char *after = read_bytes(path, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_arr_eq(before, after, n0, "the previous checkpoint changed");
    cr_assert_eq(tmp_count(), 1, "a temporary file was left behind");
    free(before), free(after);
    nb_free(a), nb_free(b);
}

Test(safetensors, save_replaces_an_existing_file)
{
    nb_tensor *a = nb_from_array((nb_real[]){1}, NB_SHAPE(1)),
              *b = nb_from_array((nb_real[]){2, 3}, NB_SHAPE(2));
    const char *path = tmp_path("r.safetensors");
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"x"}, &a, NULL), 0);
    cr_assert_eq(nb_save_safetensors(path, 1, (const char *[]){"x"}, &b, NULL), 0);
    nb_safetensors *st = nb_safetensors_open(path);
    nb_tensor *x = nb_safetensors_get(st, "x");
    assert_shape(x, 1, (int64_t[]){2});
    cr_assert_eq(x->data[1], 3);
    nb_safetensors_close(st);
    cr_assert_eq(tmp_count(), 1);
    nb_free(a), nb_free(b), nb_free(x);
}

/* ---- numpy interop: the file nabla writes is what numpy reads, and back ---- */

static const char *python_script =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "src, dst = sys.argv[1], sys.argv[2]\n"
    "b = open(src, 'rb').read()\n"
    "n = struct.unpack('<Q', b[:8])[0]\n"
    "assert n % 8 == 0\n"
    "h = json.loads(b[8:8 + n])\n"
    "assert h.pop('__metadata__') == {'step': '7'}\n"
    "w = h['w']\n"
    "lo, hi = w['data_offsets']\n"
    "a = np.frombuffer(b[8 + n + lo:8 + n + hi], dtype={'F32': '<f4', 'F64': '<f8'}[w['dtype']])\n"
    "assert (a.reshape(w['shape']) == np.arange(6).reshape(2, 3) * 0.5).all(), a\n"
    "x = (np.arange(12, dtype='<f4') - 3).reshape(3, 4)\n"
    "y = np.array([1, -2], dtype='<i8')\n"
    "hdr = {'x': {'dtype': 'F32', 'shape': [3, 4], 'data_offsets': [0, 48]},\n"
    "       'y': {'dtype': 'I64', 'shape': [2], 'data_offsets': [48, 64]}}\n"
    "js = json.dumps(hdr).encode()\n"
    "js += b' ' * (-len(js) % 8)\n"
    "open(dst, 'wb').write(struct.pack('<Q', len(js)) + js + x.tobytes() + y.tobytes())\n";

Test(safetensors, numpy_reads_what_nabla_writes_and_back)
{
    /* the python3 on PATH (a virtualenv, pyenv...) may lack numpy where the system's has it */
    const char *python = NULL;
    char cmd[1024];
    for (int i = 0; i < 2 && !python; i++) {
        const char *candidate = i == 0 ? "python3" : "/usr/bin/python3";
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", candidate);
        if (system(cmd) == 0)
            python = candidate;
    }
    if (!python) {
        tmp_clean(); /* .fini does not run after cr_skip */
        cr_skip("python3 with numpy is not available");
    }
    nb_tensor *w = nb_from_array((nb_real[]){0, 0.5, 1, 1.5, 2, 2.5}, NB_SHAPE(2, 3));
    const char *src = tmp_path("nabla.safetensors"), *dst = tmp_path("numpy.safetensors");
    cr_assert_eq(nb_save_safetensors(src, 1, (const char *[]){"w"}, &w, "{\"step\":\"7\"}"), 0);
    write_text("check.py", python_script);
    snprintf(cmd, sizeof cmd, "%s %s %s %s", python, tmp_path("check.py"), src, dst);
    cr_assert_eq(system(cmd), 0, "the python check failed: %s", cmd);
    nb_safetensors *st = nb_safetensors_open(dst);
    cr_assert_not_null(st, "%s", nb_last_error_message());
    nb_tensor *x = nb_safetensors_get(st, "x"), *y = nb_safetensors_get(st, "y");
    assert_shape(x, 2, (int64_t[]){3, 4});
    for (int i = 0; i < 12; i++)
        cr_assert_eq(x->data[i], i - 3);
    cr_assert_eq(y->data[0], 1);
    cr_assert_eq(y->data[1], -2);
    nb_safetensors_close(st);
    nb_free(w), nb_free(x), nb_free(y);
}
