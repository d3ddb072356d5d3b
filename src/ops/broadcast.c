/* ops/broadcast.c — broadcasting shapes and walking the rows of the result. */
#include "ops/broadcast.h"

bool nb_broadcast(const char *op, const nb_tensor *a, const nb_tensor *b, nb_bcast *bc)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS];
    int64_t stride_a = 1, stride_b = 1;
    bc->ndim = nd;
    for (int k = nd - 1; k >= 0; k--) { /* align from the right */
        int ia = k - (nd - a->ndim), ib = k - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            nb_error(NB_ERR_SHAPE, "%s: %s and %s: shapes cannot be broadcast (dim %d: %lld vs %lld)", op,
                     nb_shape_fmt(a), nb_shape_fmt(b), k - nd, (long long)da, (long long)db);
            return false;
        }
        bc->shape[k] = da == 1 ? db : da;
        sa[k] = da == 1 ? 0 : stride_a;
        sb[k] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
    bc->numel = nb_shape_numel(nd, bc->shape);
    if (bc->numel < 0) {
        nb_error(NB_ERR_SHAPE,
                 "%s: %s and %s: the broadcast shape %s has more than %lld elements "
                 "(counting its non-zero sizes)",
                 op, nb_shape_fmt(a), nb_shape_fmt(b), nb_dims_fmt(nd, bc->shape), (long long)NB_MAX_NUMEL);
        return false;
    }
    /* merge dim k into k+1 when both operands step through them as one run */
    int m = 0;
    int64_t dims[NB_MAX_DIMS], ma[NB_MAX_DIMS], mb[NB_MAX_DIMS];
    for (int k = 0; k < nd; k++) {
        if (bc->shape[k] == 1)
            continue;
        if (m > 0 && ma[m - 1] == sa[k] * bc->shape[k] && mb[m - 1] == sb[k] * bc->shape[k]) {
            dims[m - 1] *= bc->shape[k];
            ma[m - 1] = sa[k];
            mb[m - 1] = sb[k];
        } else {
            dims[m] = bc->shape[k];
            ma[m] = sa[k];
            mb[m] = sb[k];
            m++;
        }
    }
    if (m == 0) {
        dims[0] = 1;
        ma[0] = mb[0] = 0;
        m = 1;
    }
    bc->nd = m;
    for (int k = 0; k < m; k++) {
        bc->dims[k] = dims[k];
        bc->sa[k] = ma[k];
        bc->sb[k] = mb[k];
    }
    return true;
}

void nb_bcast_rows(const nb_bcast *bc, nb_bcast_row row, void *ctx)
{
    int last = bc->nd - 1;
    int64_t len = bc->dims[last];
    if (bc->numel == 0)
        return;
    int64_t idx[NB_MAX_DIMS] = {0};
    int64_t ia = 0, ib = 0;
    for (int64_t o = 0; o < bc->numel; o += len) {
        row(ctx, o, ia, ib, len, bc->sa[last], bc->sb[last]);
        for (int k = last - 1; k >= 0; k--) { /* odometer over the outer dims */
            ia += bc->sa[k];
            ib += bc->sb[k];
            if (++idx[k] < bc->dims[k])
                break;
            ia -= bc->sa[k] * bc->dims[k];
            ib -= bc->sb[k] * bc->dims[k];
            idx[k] = 0;
        }
    }
}
