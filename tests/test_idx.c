/* tests/test_idx.c — IDX files: every type code, plain and gzip, hostile
 * headers (wrong magic, unknown type, bad rank, huge dims, truncation, trailing
 * bytes), and the MNIST loader on a synthetic directory and on Fashion-MNIST. */
#include "common.h"
#include "files.h"
#ifdef NABLA_HAVE_ZLIB
#include <zlib.h>
#endif

static void setup(void) { quiet(), tmp_make(); }
static void teardown(void) { tmp_clean(), end_step(); }
TestSuite(idx, .init = setup, .fini = teardown);

/* header bytes for a type and dims */
static size_t header(unsigned char *b, unsigned char type, int ndim, const uint32_t *dims)
{
    b[0] = 0, b[1] = 0, b[2] = type, b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    return 4 + 4 * (size_t)ndim;
}

Test(idx, u8_tensor_keeps_shape_and_values)
{
    unsigned char b[64];
    size_t n = header(b, 0x08, 3, (uint32_t[]){2, 2, 3});
    for (int i = 0; i < 12; i++)
        b[n + i] = (unsigned char)(i * 20 + 15); /* up to 235: values as stored, not scaled */
    nb_tensor *t = nb_load_idx(write_bytes("a.idx", b, n + 12));
    assert_shape(t, 3, (int64_t[]){2, 2, 3});
    for (int i = 0; i < 12; i++)
        cr_assert_eq(t->data[i], (nb_real)(i * 20 + 15));
    nb_free(t);
}

Test(idx, signed_and_float_types_are_big_endian)
{
    unsigned char b[64];
    size_t n;
    /* i8: 0xFE = -2 */
    n = header(b, 0x09, 1, (uint32_t[]){2});
    b[n] = 0xFE, b[n + 1] = 0x7F;
    nb_tensor *t = nb_load_idx(write_bytes("i8", b, n + 2));
    cr_assert_not_null(t);
    cr_assert_eq(t->data[0], -2);
    cr_assert_eq(t->data[1], 127);
    nb_free(t);
    /* i16: 0xFF38 = -200, 0x0102 = 258 */
    n = header(b, 0x0B, 1, (uint32_t[]){2});
    memcpy(b + n, "\xFF\x38\x01\x02", 4);
    t = nb_load_idx(write_bytes("i16", b, n + 4));
    cr_assert_eq(t->data[0], -200);
    cr_assert_eq(t->data[1], 258);
    nb_free(t);
    /* i32: 0xFFFFFFFF = -1, 0x00010000 = 65536 */
    n = header(b, 0x0C, 2, (uint32_t[]){1, 2});
    memcpy(b + n, "\xFF\xFF\xFF\xFF\x00\x01\x00\x00", 8);
    t = nb_load_idx(write_bytes("i32", b, n + 8));
    assert_shape(t, 2, (int64_t[]){1, 2});
    cr_assert_eq(t->data[0], -1);
    cr_assert_eq(t->data[1], 65536);
    nb_free(t);
    /* f32: 0x3FC00000 = 1.5, 0xC0200000 = -2.5 */
    n = header(b, 0x0D, 1, (uint32_t[]){2});
    memcpy(b + n, "\x3F\xC0\x00\x00\xC0\x20\x00\x00", 8);
    t = nb_load_idx(write_bytes("f32", b, n + 8));
    cr_assert_eq(t->data[0], 1.5);
    cr_assert_eq(t->data[1], -2.5);
    nb_free(t);
    /* f64: 0x3FF8000000000000 = 1.5 */
    n = header(b, 0x0E, 1, (uint32_t[]){1});
    memcpy(b + n, "\x3F\xF8\x00\x00\x00\x00\x00\x00", 8);
    t = nb_load_idx(write_bytes("f64", b, n + 8));
    cr_assert_eq(t->data[0], 1.5);
    nb_free(t);
}

Test(idx, zero_sized_dimension_gives_an_empty_tensor)
{
    unsigned char b[16];
    size_t n = header(b, 0x08, 2, (uint32_t[]){0, 5});
    nb_tensor *t = nb_load_idx(write_bytes("e", b, n));
    assert_shape(t, 2, (int64_t[]){0, 5});
    nb_free(t);
}

Test(idx, missing_file)
{
    cr_assert_null(nb_load_idx(tmp_path("nope.idx")));
    assert_error(NB_ERR_IO, "nope.idx: cannot open");
}

Test(idx, wrong_magic)
{
    cr_assert_null(nb_load_idx(write_text("m", "P5\n28 28\n255\n")));
    assert_error(NB_ERR_FORMAT, "byte 0: magic number starts with 0x50 0x35, not 0x00 0x00: not an IDX file");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_bytes("m2", "\x00\x01\x08\x01\x00\x00\x00\x00", 8)));
    assert_error(NB_ERR_FORMAT, "byte 1:");
}

Test(idx, unknown_type_and_bad_rank)
{
    cr_assert_null(nb_load_idx(write_bytes("t", "\x00\x00\x07\x01\x00\x00\x00\x01\x05", 9)));
    assert_error(NB_ERR_FORMAT, "byte 2: unknown type code 0x07");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_bytes("r0", "\x00\x00\x08\x00\x05", 5)));
    assert_error(NB_ERR_FORMAT, "r0: byte 3: rank 0 is outside 1..8");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_bytes("r9", "\x00\x00\x08\x09", 4)));
    assert_error(NB_ERR_FORMAT, "byte 3: rank 9 is outside 1..8");
}

Test(idx, truncated_header)
{
    cr_assert_null(nb_load_idx(write_bytes("h2", "\x00\x00", 2)));
    assert_error(NB_ERR_FORMAT, "byte 2: the file ends inside the 4-byte magic number");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_bytes("h9", "\x00\x00\x08\x03\x00\x00\x00\x02\x00", 9)));
    assert_error(NB_ERR_FORMAT, "byte 9: the file ends inside dimension 1 of 3");
}

Test(idx, truncated_data_and_trailing_bytes)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 2, (uint32_t[]){3, 4});
    cr_assert_null(nb_load_idx(write_bytes("short", b, n + 5)));
    assert_error(NB_ERR_FORMAT,
                 "short: byte 12: shape [3,4] of u8 needs 12 bytes of data but the file holds 5 (truncated)");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_bytes("long", b, n + 13)));
    assert_error(NB_ERR_FORMAT,
                 "needs 12 bytes of data but the file holds 13 (trailing bytes after the data)");
    nb_clear_error();
    n = header(b, 0x0E, 1, (uint32_t[]){2});
    cr_assert_null(nb_load_idx(write_bytes("f64short", b, n + 15)));
    assert_error(NB_ERR_FORMAT, "shape [2] of f64 needs 16 bytes of data but the file holds 15");
}

Test(idx, huge_declared_dims_fail_without_allocating)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 2, (uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu});
    cr_assert_null(nb_load_idx(write_bytes("huge", b, n + 4)));
    assert_error(NB_ERR_FORMAT, "byte 4: shape [4294967295,4294967295] has too many elements");
    nb_clear_error();
    /* fits in int64 but is 2^35 bytes of f64: refused by the size check, not by malloc */
    n = header(b, 0x0E, 2, (uint32_t[]){0x80000000u, 2});
    cr_assert_null(nb_load_idx(write_bytes("big", b, n + 8)));
    assert_error(NB_ERR_FORMAT, "needs 34359738368 bytes of data but the file holds 8 (truncated)");
}

#ifdef NABLA_HAVE_ZLIB
static const char *write_gz(const char *name, const void *bytes, size_t n)
{
    const char *path = tmp_path(name);
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(gz), Z_OK);
    return path;
}

Test(idx, gzip_file_is_read_through_zlib)
{
    unsigned char b[4096];
    size_t n = header(b, 0x08, 2, (uint32_t[]){50, 70});
    for (int i = 0; i < 3500; i++)
        b[n + i] = (unsigned char)(i * 7);
    nb_tensor *t = nb_load_idx(write_gz("a.idx.gz", b, n + 3500));
    assert_shape(t, 2, (int64_t[]){50, 70});
    for (int i = 0; i < 3500; i++)
        cr_assert_eq(t->data[i], (nb_real)(unsigned char)(i * 7));
    nb_free(t);
}

Test(idx, gzip_truncated_trailing_and_huge)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 2, (uint32_t[]){3, 4});
    cr_assert_null(nb_load_idx(write_gz("short.gz", b, n + 5)));
    assert_error(
        NB_ERR_FORMAT,
        "byte 17 of the uncompressed data: shape [3,4] of u8 needs 12 bytes of data but the data end here (truncated)");
    nb_clear_error();
    cr_assert_null(nb_load_idx(write_gz("long.gz", b, n + 14)));
    assert_error(
        NB_ERR_FORMAT,
        "byte 24 of the uncompressed data: shape [3,4] of u8 needs 12 bytes of data but more follow (trailing bytes after the data)");
    nb_clear_error();
    /* 2^35 declared bytes in a 30-byte file: refused before any allocation,
     * since deflate cannot expand that much */
    n = header(b, 0x0C, 2, (uint32_t[]){0x80000000u, 4});
    cr_assert_null(nb_load_idx(write_gz("huge.gz", b, n + 4)));
    assert_error(NB_ERR_FORMAT,
                 "byte 4: shape [2147483648,4] of i32 needs 34359738368 bytes of data, more than a");
    cr_assert(strstr(nb_last_error_message(), "-byte gzip file can hold"), "%s", nb_last_error_message());
}

Test(idx, corrupt_gzip_stream)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 1, (uint32_t[]){40});
    const char *path = write_gz("c.gz", b, n + 40);
    size_t len;
    unsigned char *z = read_bytes(path, &len);
    for (size_t i = 12; i < len - 8; i++)
        z[i] ^= 0x5A;
    write_bytes("c.gz", z, len);
    free(z);
    cr_assert_null(nb_load_idx(path));
    cr_assert(strstr(nb_last_error_message(), "c.gz"), "%s", nb_last_error_message());
}

/* Issue 10: the 8-byte CRC/size trailer is required and checked. */
Test(idx, gzip_stream_must_end_with_its_verified_trailer)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 1, (uint32_t[]){40});
    for (int i = 0; i < 40; i++)
        b[n + i] = (unsigned char)(3 * i);
    const char *path = write_gz("t.gz", b, n + 40);
    size_t len;
    unsigned char *z = read_bytes(path, &len);
    write_bytes("cut.gz", z, len - 8);
    cr_assert_null(nb_load_idx(tmp_path("cut.gz")));
    assert_error(NB_ERR_FORMAT, "cut.gz: byte ");
    assert_error(NB_ERR_FORMAT, "(byte 48 of the uncompressed data): the gzip stream ends before its CRC and "
                                "length trailer (truncated)");
    nb_clear_error();
    z[len - 8] ^= 1; /* the CRC no longer matches the data */
    write_bytes("crc.gz", z, len);
    cr_assert_null(nb_load_idx(tmp_path("crc.gz")));
    assert_error(NB_ERR_FORMAT, "crc.gz: corrupt gzip data near byte");
    assert_error(NB_ERR_FORMAT, "incorrect data check");
    nb_clear_error();
    z[len - 8] ^= 1;
    z[len - 4] ^= 1; /* nor does the length */
    write_bytes("len.gz", z, len);
    cr_assert_null(nb_load_idx(tmp_path("len.gz")));
    assert_error(NB_ERR_FORMAT, "incorrect length check");
    free(z);
}

Test(idx, bytes_after_the_gzip_stream_are_an_error_naming_the_byte)
{
    unsigned char b[64] = {0};
    size_t n = header(b, 0x08, 1, (uint32_t[]){4});
    const char *path = write_gz("g.gz", b, n + 4);
    size_t len;
    unsigned char *z = read_bytes(path, &len);
    unsigned char *more = malloc(2 * len + 3);
    memcpy(more, z, len);
    memcpy(more + len, "xyz", 3);
    write_bytes("garbage.gz", more, len + 3);
    cr_assert_null(nb_load_idx(tmp_path("garbage.gz")));
    char want[160];
    snprintf(want, sizeof want,
             "garbage.gz: byte %zu of the file: 0x78 after the end of the gzip stream "
             "(trailing bytes)",
             len);
    assert_error(NB_ERR_FORMAT, want);
    nb_clear_error();
    /* two members one after the other are one stream, as for gzip -d: the data
     * of the second follow the first's, here too many for the header */
    memcpy(more + len, z, len);
    cr_assert_null(nb_load_idx(write_bytes("two.gz", more, 2 * len)));
    assert_error(NB_ERR_FORMAT, "needs 4 bytes of data but more follow (trailing bytes after the data)");
    nb_clear_error();
    unsigned char half[2][8];
    size_t m = header(half[0], 0x08, 1, (uint32_t[]){4});
    memcpy(half[1], "\x01\x02\x03\x04", 4);
    write_gz("h1.gz", half[0], m);
    write_gz("h2.gz", half[1], 4);
    size_t l1, l2;
    unsigned char *p1 = read_bytes(tmp_path("h1.gz"), &l1), *p2 = read_bytes(tmp_path("h2.gz"), &l2);
    unsigned char *both = malloc(l1 + l2);
    memcpy(both, p1, l1);
    memcpy(both + l1, p2, l2);
    nb_tensor *t = nb_load_idx(write_bytes("both.gz", both, l1 + l2));
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_close_array(t->data, (double[]){1, 2, 3, 4}, 4, 0);
    nb_free(t);
    free(z), free(more), free(p1), free(p2), free(both);
}

/* Issue 10: a 200 KB .gz declaring 200,000,000 u8 elements (800 MB of float32)
 * must not allocate the tensor before the data are there: it is truncated. */
Test(idx, gzip_declaring_more_than_it_holds_allocates_only_what_arrives)
{
    enum { DATA = 200000 };
    unsigned char *b = malloc(DATA + 16);
    size_t n = header(b, 0x08, 1, (uint32_t[]){200000000u});
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < DATA; i++) { /* xorshift: incompressible */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[n + i] = (unsigned char)x;
    }
    const char *path = write_gz("lie.gz", b, n + DATA);
    free(b);
    limit_memory((size_t)300 << 20);
    cr_assert_null(nb_load_idx(path));
    assert_error(NB_ERR_FORMAT, "lie.gz: byte 200008 of the uncompressed data: shape [200000000] of u8 needs "
                                "200000000 bytes of data but the data end here (truncated)");
}
#else
Test(idx, gzip_without_zlib_says_so)
{
    cr_assert_null(nb_load_idx(write_bytes("a.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8)));
    assert_error(NB_ERR_IO, "built without zlib");
}
#endif

/* ---- MNIST ---- */

static void write_mnist(const char *prefix, uint32_t n_images, uint32_t n_labels)
{
    unsigned char b[256];
    char name[64];
    size_t h = header(b, 0x08, 3, (uint32_t[]){n_images, 2, 3});
    for (uint32_t i = 0; i < 6 * n_images; i++)
        b[h + i] = (unsigned char)(i * 51); /* 0, 51, ..., 255 */
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    write_bytes(name, b, h + 6 * n_images);
    h = header(b, 0x08, 1, (uint32_t[]){n_labels});
    for (uint32_t i = 0; i < n_labels; i++)
        b[h + i] = (unsigned char)(i % 10);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    write_bytes(name, b, h + n_labels);
}

Test(idx, mnist_directory_is_flattened_and_scaled)
{
    write_mnist("t10k", 3, 3);
    nb_dataset *ds = nb_mnist_load(tmp_dir, false, NB_MNIST_OPTS());
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    cr_assert_eq(nb_dataset_len(ds), 3);
    assert_shape(ds->x, 2, (int64_t[]){3, 6});
    assert_shape(ds->y, 1, (int64_t[]){3});
    for (int i = 0; i < 18; i++)
        cr_assert_float_eq(ds->x->data[i], (double)((i * 51) & 255) / 255, 1e-7);
    cr_assert_eq(ds->y->data[2], 2);
    nb_dataset_free(ds);
    ds = nb_mnist_load(tmp_dir, false, NB_MNIST_OPTS(.keep_shape = true, .raw = true));
    assert_shape(ds->x, 3, (int64_t[]){3, 2, 3});
    cr_assert_eq(ds->x->data[5], 255);
    nb_dataset_free(ds);
}

Test(idx, mnist_errors_tell_how_to_get_the_data)
{
    cr_assert_null(nb_mnist_load(tmp_path("absent"), true, NB_MNIST_OPTS()));
    assert_error(NB_ERR_IO, "apt-get install dataset-fashion-mnist");
    nb_clear_error();
    cr_assert_null(nb_mnist_load(tmp_dir, true, NB_MNIST_OPTS()));
    assert_error(NB_ERR_IO, "train-images-idx3-ubyte(.gz) is missing");
    nb_clear_error();
    write_mnist("train", 3, 4);
    cr_assert_null(nb_mnist_load(tmp_dir, true, NB_MNIST_OPTS()));
    assert_error(NB_ERR_FORMAT, "3 images but 4 labels");
}

static void check_fashion(bool train, int64_t n)
{
    struct stat st;
    if (stat(NB_FASHION_MNIST_DIR, &st) != 0) {
        tmp_clean(); /* .fini does not run after cr_skip */
        cr_skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }
    nb_dataset *ds = nb_mnist_load(NULL, train, NB_MNIST_OPTS());
    if (!ds && strstr(nb_last_error_message(), "built without zlib")) {
        tmp_clean(); /* .fini does not run after cr_skip */
        cr_skip("Fashion-MNIST is gzip-compressed and nabla was built without zlib");
    }
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    assert_shape(ds->x, 2, (int64_t[]){n, 784});
    assert_shape(ds->y, 1, (int64_t[]){n});
    int64_t per_class[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        nb_real c = ds->y->data[i];
        cr_assert(c >= 0 && c <= 9 && c == (int)c, "label %lld is %g", (long long)i, (double)c);
        per_class[(int)c]++;
    }
    for (int c = 0; c < 10; c++) /* Fashion-MNIST is balanced: n / 10 images per class */
        cr_assert_eq(per_class[c], n / 10, "class %d has %lld images", c, (long long)per_class[c]);
    nb_real lo = 1, hi = 0;
    for (int64_t i = 0; i < ds->x->numel; i++) {
        lo = ds->x->data[i] < lo ? ds->x->data[i] : lo;
        hi = ds->x->data[i] > hi ? ds->x->data[i] : hi;
    }
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 1);
    nb_dataset_free(ds);
}

Test(idx, fashion_mnist_test_set) { check_fashion(false, 10000); }
Test(idx, fashion_mnist_train_set, .timeout = 120) { check_fashion(true, 60000); }

/* Issue 10: a pipe has no size to check up front; the data are gathered as
 * they arrive, so a lying header costs no allocation and is called truncated. */
Test(idx, fifo_is_read_as_a_stream_bounded_by_its_data)
{
    unsigned char b[64];
    size_t n = header(b, 0x08, 2, (uint32_t[]){2, 3});
    for (int i = 0; i < 6; i++)
        b[n + i] = (unsigned char)(i + 1);
    pid_t pid;
    nb_tensor *t = nb_load_idx(fifo_feed("ok.fifo", b, n + 6, &pid));
    fifo_done(pid);
    assert_shape(t, 2, (int64_t[]){2, 3});
    assert_close_array(t->data, (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    nb_free(t);
    n = header(b, 0x08, 2, (uint32_t[]){100000u, 10000u}); /* 10^9 u8, 4 GB of float32 */
    memset(b + n, 7, 10);
    limit_memory((size_t)300 << 20);
    cr_assert_null(nb_load_idx(fifo_feed("lie.fifo", b, n + 10, &pid)));
    fifo_done(pid);
    assert_error(NB_ERR_FORMAT,
                 "lie.fifo: byte 22: shape [100000,10000] of u8 needs 1000000000 bytes of data "
                 "but the data end here (truncated)");
}
