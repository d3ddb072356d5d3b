/* tests/fuzz/fuzz_idx_gz.c — nb_load_idx on arbitrary bytes gzip-compressed by
 * the harness, so that the fuzzer explores IDX headers and sizes through the
 * streaming (gzip) path; with the last input byte odd, the compressed stream
 * is cut or extended by a few bytes to exercise the trailer checks. */
#include <zlib.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    uLong cap = compressBound((uLong)size) + 64;
    unsigned char *z = malloc(cap);
    z_stream s = {0};
    if (!z || deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    s.next_in = (unsigned char *)data;
    s.avail_in = (uInt)size;
    s.next_out = z;
    s.avail_out = (uInt)cap;
    if (deflate(&s, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t len = s.total_out;
    deflateEnd(&s);
    if (size > 0 && data[size - 1] & 1) { /* cut (bits 1-3) or append garbage (bit 4) */
        unsigned k = (data[size - 1] >> 1) & 7;
        if (data[size - 1] & 16)
            memset(z + len, data[size - 1], k + 1), len += k + 1;
        else
            len -= k + 1 < len ? k + 1 : 0;
    }
    nb_tensor *t = nb_load_idx(fuzz_file(".idx.gz", z, len));
    free(z);
    if (!t)
        fuzz_failed();
    nb_free(t);
    return 0;
}
