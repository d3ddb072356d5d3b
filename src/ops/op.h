/* ops/op.h — what every file of the ops level (level 4: src/ops/,
 * src/activations/, src/loss/) includes: the autograd level below and the
 * public declarations of this level. */
#ifndef NB_OPS_OP_H
#define NB_OPS_OP_H

#include "internal.h"
#include "nabla/activations.h"
#include "nabla/loss.h"
#include "nabla/ops.h"

#endif
