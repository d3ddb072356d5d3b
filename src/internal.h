/* internal.h — the autograd level (level 3) for the files above it: the
 * tensor level's internals (core.h) and the public interface of recording,
 * backward and grad mode. */
#ifndef NB_INTERNAL_H
#define NB_INTERNAL_H

#include "core.h"
#include "nabla/autograd.h"
#include "nabla/gradcheck.h"

#endif
