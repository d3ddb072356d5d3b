/* data/mnist.c — nb_mnist_load: the image and label IDX files of MNIST or
 * Fashion-MNIST (same names, same layout) found in a directory, checked against
 * each other and turned into a dataset. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"
#include "nabla/data.h"
#include "nabla/io.h"

#define INSTALL_HINT                                                                                         \
    "install Fashion-MNIST with `apt-get install dataset-fashion-mnist` (into " NB_FASHION_MNIST_DIR         \
    ") or pass the directory that holds the MNIST files"

/* The first of the usual spellings of a file that exists, into buf. */
static bool find_file(const char *dir, const char *prefix, const char *kind, char *buf, size_t size)
{
    /* "train-images-idx3-ubyte.gz" as distributed; unpacked; and the dotted variant some mirrors use */
    static const char *const forms[] = {"%s/%s-%s-ubyte.gz", "%s/%s-%s-ubyte", "%s/%s-%s.ubyte.gz"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct stat st;
        snprintf(buf, size, forms[i], dir, prefix, kind);
        if (stat(buf, &st) == 0)
            return true;
    }
    snprintf(buf, size, "%s/%s-%s-ubyte(.gz)", dir, prefix, kind);
    return false;
}

static nb_tensor *load(const char *dir, const char *prefix, const char *kind, int rank)
{
    char path[4096];
    if (!find_file(dir, prefix, kind, path, sizeof path))
        return nb_error(NB_ERR_IO, "mnist: %s is missing; " INSTALL_HINT, path);
    nb_tensor *t = nb_load_idx(path);
    if (t && t->ndim != rank) {
        nb_error(NB_ERR_FORMAT, "mnist: %s holds a tensor of shape %s; expected rank %d", path,
                 nb_shape_fmt(t), rank);
        nb_free(t);
        return NULL;
    }
    return t;
}

nb_mnist_opts nb_mnist_defaults(void) { return NB_MNIST_OPTS(); }

nb_dataset *nb_mnist_load(const char *dir, bool train, nb_mnist_opts o)
{
    if (!nb_opts_made("mnist", o.nb_tag, "mnist"))
        return NULL;
    if (!dir)
        dir = NB_FASHION_MNIST_DIR;
    struct stat st;
    if (stat(dir, &st) != 0)
        return nb_error(NB_ERR_IO, "mnist: %s: %s; " INSTALL_HINT, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return nb_error(NB_ERR_IO, "mnist: %s: not a directory; " INSTALL_HINT, dir);
    const char *prefix = train ? "train" : "t10k";
    nb_tensor *x = load(dir, prefix, "images-idx3", 3);
    nb_tensor *y = x ? load(dir, prefix, "labels-idx1", 1) : NULL;
    nb_dataset *ds = NULL;
    if (y && x->shape[0] != y->shape[0])
        nb_error(NB_ERR_FORMAT, "mnist: %s: %lld images but %lld labels", dir, (long long)x->shape[0],
                 (long long)y->shape[0]);
    else if (y)
        ds = nb_dataset_new(x, y, true);
    if (!ds) {
        nb_free(x);
        nb_free(y);
        return NULL;
    }
    if (!o.raw)
        nb_scale_(x, 1.0 / 255);
    if (!o.keep_shape) {
        x->shape[1] *= x->shape[2];
        x->ndim = 2;
    }
    return ds;
}
