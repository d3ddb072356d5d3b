/* nabla/random.h — a seeded generator (xoshiro256**) that gives the same
 * numbers for the same seed on every machine. */
#ifndef NABLA_RANDOM_H
#define NABLA_RANDOM_H

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef struct nb_generator {
    uint64_t s[4];
    double spare; /* second normal of the last polar-method pair */
    bool has_spare;
} nb_generator;

void nb_generator_seed(nb_generator *g, uint64_t seed);
uint64_t nb_generator_next(nb_generator *g);              /* 64 random bits */
double nb_generator_uniform(nb_generator *g);             /* [0, 1), 53 bits */
double nb_generator_normal(nb_generator *g);              /* N(0, 1) */
uint64_t nb_generator_below(nb_generator *g, uint64_t n); /* uniform in [0, n), unbiased */

/* The generator used where none is given (like torch's default generator). */
nb_generator *nb_default_generator(void);
void nb_manual_seed(uint64_t seed);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
