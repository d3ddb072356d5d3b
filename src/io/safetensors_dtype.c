/* io/safetensors_dtype.c — the safetensors dtypes (names and sizes as in the
 * format's reference implementation) and their little-endian decoding to
 * nb_real, including IEEE half and bfloat16. */
#include <math.h>
#include <string.h>
#include "io/safetensors.h"

static uint64_t le(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static float f32_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double half_value(uint16_t h)
{
    int e = h >> 10 & 0x1f;
    double m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

#define DECODER(name, size, expr)                                                                            \
    static void name(const unsigned char *p, size_t n, nb_real *out)                                         \
    {                                                                                                        \
        for (size_t i = 0; i < n; i++, p += (size)) {                                                        \
            uint64_t v = le(p, size);                                                                        \
            out[i] = (nb_real)(expr);                                                                        \
        }                                                                                                    \
    }

static double f64_of_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

DECODER(dec_f64, 8, f64_of_bits(v))
DECODER(dec_f32, 4, f32_of_bits((uint32_t)v))
DECODER(dec_f16, 2, half_value((uint16_t)v))
DECODER(dec_bf16, 2, f32_of_bits((uint32_t)v << 16))
DECODER(dec_i64, 8, (int64_t)v)
DECODER(dec_i32, 4, (int32_t)v)
DECODER(dec_i16, 2, (int16_t)v)
DECODER(dec_i8, 1, (int8_t)v)
DECODER(dec_u64, 8, v)
DECODER(dec_u32, 4, v)
DECODER(dec_u16, 2, v)
DECODER(dec_u8, 1, v)
DECODER(dec_bool, 1, v != 0)

static const nb_st_dtype dtypes[] = {
    {"F64", 8, dec_f64},   {"F32", 4, dec_f32},  {"F16", 2, dec_f16},  {"BF16", 2, dec_bf16},
    {"I64", 8, dec_i64},   {"I32", 4, dec_i32},  {"I16", 2, dec_i16},  {"I8", 1, dec_i8},
    {"U64", 8, dec_u64},   {"U32", 4, dec_u32},  {"U16", 2, dec_u16},  {"U8", 1, dec_u8},
    {"BOOL", 1, dec_bool}, {"F8_E5M2", 1, NULL}, {"F8_E4M3", 1, NULL},
};

const nb_st_dtype *nb_st_dtype_find(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return &dtypes[i];
    return NULL;
}
