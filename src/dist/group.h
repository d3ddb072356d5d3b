/* dist/group.h — what the distributed level's files share: the process group
 * (MPI communicators, rank, world size, timeout) and waiting on a
 * non-blocking MPI call with that timeout. */
#ifndef NB_DIST_GROUP_H
#define NB_DIST_GROUP_H

#include <mpi.h>
#include "nabla/dist.h"
#include "nabla/error.h"

/* MPI's type for nb_real. */
#define NB_MPI_REAL (sizeof(nb_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT)

typedef struct nb_group {
    bool initialized, owns_mpi; /* owns_mpi: nb_dist_init called MPI_Init */
    int rank, world;
    double timeout;
    /* Three duplicates of MPI_COMM_WORLD, so that the calls on each come in
     * the same order on every rank: general calls (broadcast, barrier,
     * all-reduce), the gradient buckets' reduce-scatter, their all-gather
     * (a bucket's all-gather starts when its reduce-scatter is seen done,
     * which varies from rank to rank relative to the next bucket's
     * reduce-scatter). */
    MPI_Comm comm, scatter, gather;
} nb_group;
extern nb_group nb__group;

/* false, with an error naming op, before nb_dist_init. */
bool nb_group_check(const char *op);
/* Wait for req, driving MPI's progress; past the group's timeout, stop the
 * job (nb_dist_abort) with a message naming what. */
void nb_group_wait(MPI_Request *req, const char *what);

#endif
