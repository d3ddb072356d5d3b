/* internal.h — the autograd level (level 3) for the files above it: the
 * tensor level's internals (core.h) and the public interface of recording,
 * backward and grad mode. */
#ifndef NB_INTERNAL_H
#define NB_INTERNAL_H

#include "core.h"
#include "nabla/autograd.h"
#include "nabla/gradcheck.h"

/* Anomaly mode (anomaly.c): the checks nb_record and backward run when it is
 * on. False after recording the error; nb_anomaly_refuse_backward() records
 * one and returns true when this step already had an anomaly. */
bool nb_anomaly_check_forward(const nb_node *n);
bool nb_anomaly_check_backward(const nb_node *n);
bool nb_anomaly_refuse_backward(void);

/* nb_input_grad for an op whose backward visits every element of input i's
 * gradient: when nothing has been added to that buffer in this pass yet,
 * *fresh is true and the buffer is returned NOT zeroed, for the op to zero
 * in pieces that stay in cache just before it adds to them (or to store
 * instead of adding); otherwise the buffer as nb_input_grad returns it. It
 * saves a pass over memory: zeroing a whole [128,16,28,28] gradient first,
 * then reading it back, cost 5% of a CNN's epoch. */
nb_real *nb_input_grad_fresh(nb_node *n, int i, bool *fresh);

#endif
