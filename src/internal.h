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

#endif
