/* random.c — xoshiro256** (Blackman & Vigna, 2018) seeded through splitmix64,
 * uniform doubles from the top 53 bits, normals by Marsaglia's polar method.
 * Pure integer arithmetic plus log and sqrt: the same numbers on every machine. */
#include <math.h>
#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nb_generator_seed(nb_generator *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
    g->has_spare = false;
    g->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nb_generator_next(nb_generator *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nb_generator_uniform(nb_generator *g) { return (double)(nb_generator_next(g) >> 11) * 0x1.0p-53; }

uint64_t nb_generator_below(nb_generator *g, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t r;
    do
        r = nb_generator_next(g);
    while (r >= limit);
    return r % n;
}

double nb_generator_normal(nb_generator *g)
{
    if (g->has_spare) {
        g->has_spare = false;
        return g->spare;
    }
    double u, v, s;
    do {
        u = 2 * nb_generator_uniform(g) - 1;
        v = 2 * nb_generator_uniform(g) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double f = sqrt(-2 * log(s) / s);
    g->spare = v * f;
    g->has_spare = true;
    return u * f;
}

static _Thread_local nb_generator default_gen;
static _Thread_local bool default_seeded;

nb_generator *nb_default_generator(void)
{
    if (!default_seeded) {
        nb_generator_seed(&default_gen, 0);
        default_seeded = true;
    }
    return &default_gen;
}

void nb_manual_seed(uint64_t seed)
{
    nb_generator_seed(&default_gen, seed);
    default_seeded = true;
}
