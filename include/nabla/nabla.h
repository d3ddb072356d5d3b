/* nabla/nabla.h — everything: include this one header. */
#ifndef NABLA_H
#define NABLA_H

#include "config.h"
#include "error.h"
#include "random.h"
#include "tensor.h"
#include "autograd.h"
#include "ops.h"
#include "activations.h"
#include "loss.h"
#include "optim.h"
#include "threads.h"
#include "backend.h"
#include "gradcheck.h"
#include "data.h"
#include "io.h"
#include "plot.h"
#include "nn.h"
#include "conv.h"
#include "norm.h"
#include "embedding.h"
#include "rnn.h"
#include "attention.h"

#endif
