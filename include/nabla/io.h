/* nabla/io.h — reading data files (IDX, CSV) and saving/loading checkpoints in
 * the safetensors format, which PyTorch, JAX and numpy users can open.
 *
 * Every loader returns persistent tensors (free with nb_free) and fails with
 * NULL or -1 and a message that names the file and the byte, or the line and
 * column, where the problem is. Hostile files cannot make them crash or
 * allocate more than the data actually present. */
#ifndef NABLA_IO_H
#define NABLA_IO_H

#include "data.h"
#include "nn.h"
#include "optim.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* ---- IDX (the MNIST format) --------------------------------------------
 * http://yann.lecun.com/exdb/mnist/ : bytes 0 0 <type> <ndim>, ndim big-endian
 * u32 dims, then the values big-endian. Types: 0x08 u8, 0x09 i8, 0x0B i16,
 * 0x0C i32, 0x0D f32, 0x0E f64. Values are returned as stored (not scaled).
 * Files compressed with gzip (.gz) are read through zlib when nabla was built
 * with it; the format is recognised by its content, not the file name. */
nb_tensor *nb_load_idx(const char *path);

/* ---- CSV -----------------------------------------------------------------
 * A header row of column names (or none, or scikit-learn's first line), then
 * rows of numbers. Only the chosen columns are parsed: a text column (an id,
 * a name, a date) that is not asked for is skipped. Fields may be quoted
 * ("a,b" and "" inside quotes); spaces around fields, CRLF line ends and blank
 * lines are ignored. Numbers are parsed in the C locale whatever the program's
 * locale; nan and inf are accepted. gzip-compressed files are read through
 * zlib (recognised by their content), as IDX files are. */

/* What the first line (after skip_rows) is; .header = false and true work. */
enum {
    NB_CSV_NO_HEADER = 0, /* data (pandas' header=None): columns by index, named "0", "1", ... */
    NB_CSV_HEADER = 1,    /* the column names (pandas' default header=0) */
    NB_CSV_SKLEARN = 2    /* scikit-learn's "N,F,class names...": N rows of F features and a
                              target follow, the classes are named 0, 1, ... in that order
                              (iris.csv, wine_data.csv, breast_cancer.csv) */
};

/* Options, made by NB_CSV_OPTS(...). */
typedef struct nb_csv_opts {
    uint32_t nb_tag;
    const char *const *columns; /* n_columns column names to read, in this order... */
    const int *column_indices;  /* ...or n_columns 0-based column indices */
    int n_columns;              /* with neither array (NULL, NULL): every column */
    int skip_rows;              /* lines before the first line, e.g. 1 for sklearn's
                                    boston_house_prices.csv, whose first line is "506,13"; 0 */
    char delimiter;             /* ',' */
    int header;                 /* NB_CSV_HEADER, NB_CSV_NO_HEADER or NB_CSV_SKLEARN; NB_CSV_HEADER */
    /* nb_load_csv_dataset only: the target column, by name... */
    const char *target;
    int target_index; /* ...or by index, negative from the end; -1, the last column */
} nb_csv_opts;
#define NB_CSV_OPTS(...)                                                                                     \
    NB_OPTS_(nb_csv_opts, .delimiter = ',', .header = NB_CSV_HEADER, .target_index = -1, __VA_ARGS__)
nb_csv_opts nb_csv_defaults(void);

/* The chosen columns of every row as a persistent [rows, columns] tensor.
 * If names is not NULL, *names receives the chosen columns'
 * names as a NULL-terminated array made of one allocation: release it with
 * free(*names). */
nb_tensor *nb_load_csv(const char *path, nb_csv_opts opts, char ***names);

/* A dataset in one call: x [rows, F] holds the chosen columns (every column
 * but the target when none are chosen), y the target column. With classes
 * NULL, y is [rows, 1], the numbers as read (a regression target). With
 * classes, y is [rows], class indices for cross_entropy: the target's texts
 * are the classes, numbered in sorted order as pandas' categorical codes
 * (numerically when every class is a number, else by byte order, strcmp),
 * and *classes receives their names in that order, a NULL-terminated array
 * in one allocation (free(*classes)), *n_classes (if not NULL) their count.
 * With NB_CSV_SKLEARN the target's cells are the codes themselves and the
 * names are those of the first line:
 *   nb_load_csv_dataset("iris.csv", NB_CSV_OPTS(.header = NB_CSV_SKLEARN), &classes, &k)
 * is x [150, 4], y [150] in 0..2, classes {"setosa", "versicolor", "virginica"}. */
nb_dataset *nb_load_csv_dataset(const char *path, nb_csv_opts opts, char ***classes, int64_t *n_classes);

/* ---- safetensors checkpoints ---------------------------------------------
 * https://github.com/huggingface/safetensors : an 8-byte little-endian header
 * length N, N bytes of JSON
 *   {"__metadata__": {"key": "value"}, "name": {"dtype": "F32", "shape": [2, 3],
 *    "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the tensors' little-endian bytes,
 * packed. Python: safetensors.numpy.load_file(path) or safetensors.torch.load_file(path). */

/* Save n tensors under their names (unique, non-empty, not "__metadata__").
 * Writes F32 from the float32 library, F64 from nabla64. metadata_json is NULL
 * or a JSON object of string values, e.g. {"step": "1200", "lr": "0.001"}.
 * The write is atomic: the data go to "<path>.tmp.<pid>", are flushed to disk,
 * then renamed over path; on any failure path is left as it was.
 * Returns 0, or -1 with an error recorded. */
int nb_save_safetensors(const char *path, int n, const char *const *names, nb_tensor *const *tensors,
                        const char *metadata_json);

/* An open checkpoint: its header is parsed and checked (offsets in range, no
 * holes or overlaps, sizes matching shapes) when it is opened; tensor data are
 * read when asked for. */
typedef struct nb_safetensors nb_safetensors;

typedef struct nb_safetensors_entry {
    const char *name;
    const char *dtype; /* "F32", "F64", "F16", "BF16", "I64", ... */
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    uint64_t begin, end; /* byte range within the data section */
} nb_safetensors_entry;

nb_safetensors *nb_safetensors_open(const char *path);
void nb_safetensors_close(nb_safetensors *st);
/* The tensors in the file, ordered by name. */
int nb_safetensors_count(const nb_safetensors *st);
const nb_safetensors_entry *nb_safetensors_entry_at(const nb_safetensors *st, int i);
/* The entry of a name, or NULL (no error recorded) when the file has none. */
const nb_safetensors_entry *nb_safetensors_find(const nb_safetensors *st, const char *name);
/* The value of a __metadata__ key, or NULL when absent. */
const char *nb_safetensors_metadata(const nb_safetensors *st, const char *key);
/* A persistent copy of a tensor, converted to nb_real. Readable dtypes: F64,
 * F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. */
nb_tensor *nb_safetensors_get(nb_safetensors *st, const char *name);
/* Read a tensor into dst, whose shape must be the one in the file. Returns 0 or -1. */
int nb_safetensors_read_into(nb_safetensors *st, const char *name, nb_tensor *dst);

/* Load the named tensors of a checkpoint into existing tensors (a model's
 * parameters): every name must be in the file with the same shape and a
 * readable dtype. Everything is checked before anything is copied, so on
 * failure no tensor has changed; the message counts the mismatches, then
 * lists every one, e.g.
 *   load: ckpt.safetensors: 1 of 2 tensors do not match: tensor 'fc1.weight'
 *   has shape [256,784] in the file but [128,784] in the model
 * Tensors of the file that are not named are ignored. Returns 0 or -1. */
int nb_load_into(const char *path, int n, const char *const *names, nb_tensor *const *tensors);

/* ---- Training runs ---------------------------------------------------------
 * One call saves a whole training run and one restores it, so that the run
 * goes on bit for bit as if never stopped: the model, every optimizer (its
 * state and every parameter group's options), every scheduler's epoch, every
 * loader's position (epoch and batch within it), the default generator, the
 * program's own generators and the caller's metadata.
 *
 *     nb_training run = {.model = model, .optims = (nb_optim *[]){opt}, .n_optims = 1,
 *                        .schedulers = &sched, .n_schedulers = 1, .loaders = &ld, .n_loaders = 1};
 *     if (resume && nb_load_training(path, &run) != 0)     // made as before, then restored
 *         return 1;
 *     for (uint64_t epoch = nb_loader_epoch(ld); epoch < epochs; epoch++) {
 *         while (nb_loader_next(ld, &x, &y)) { ...a step... }
 *         nb_scheduler_step(sched);
 *         nb_save_training(path, &run, NULL);              // any time: mid-epoch too
 *     }
 *
 * The file is one safetensors file, written atomically:
 *   "model.<name>"   every parameter and buffer under its state_dict name
 *                    ("model.0.weight", "model.1.running_mean")
 *   "optim.<name>"   the first optimizer's state (nb_optim_state names, which
 *                    are PyTorch's: "optim.state.0.exp_avg", "optim.state.0.step");
 *                    "optim<k>.<name>" the k-th one's (k >= 1)
 *   metadata         metadata_json (NULL or a JSON object of strings, e.g.
 *                    {"epoch": "3"}; read it back with nb_safetensors_metadata),
 *                    plus nabla's reserved "nabla.*" keys: each group's options
 *                    ("nabla.optim.param_groups.<g>"), each scheduler's epoch,
 *                    each loader's position, each generator's state.
 * In Python: d = safetensors.torch.load_file(path);
 *   model.load_state_dict({k[6:]: v for k, v in d.items() if k.startswith("model.")})
 *
 * Loading needs the same objects made the same way (same model, optimizers
 * over the same parameters in the same order and groups, schedulers of the
 * same kinds, loaders over datasets of the same length with the same batch
 * size and shuffling; a loader sharded over W replicas, nb_loader_shard,
 * counts as one of batch W x its batch: a data-parallel run saved by one of
 * its W ranks, even mid-epoch, resumes on any number R of ranks dividing that
 * global batch, each loader of batch global / R, or in one process, each at
 * the same row of the epoch's order): it checks all of it, and every
 * tensor's shape, before it changes anything, and fails with nothing
 * changed, naming what differs. The options of each group are restored from the file (as PyTorch's
 * optimizer.load_state_dict does). Returns 0, or -1 with an error. */
typedef struct nb_training {
    nb_module *model; /* its parameters, buffers and dropout generators */
    nb_optim *const *optims;
    int n_optims;
    nb_scheduler *const *schedulers;
    int n_schedulers;
    nb_loader *const *loaders;
    int n_loaders;
    nb_generator *const *generators; /* the program's own (nb_default_generator() is always saved) */
    int n_generators;
} nb_training;

int nb_save_training(const char *path, const nb_training *run, const char *metadata_json);
int nb_load_training(const char *path, const nb_training *run);

/* The model and one optimizer (NULL: none) alone, in the same format: a
 * checkpoint to deploy or inspect. Loading restores parameters, buffers,
 * dropout generators and, with optim, its state and the groups' options when
 * the file has them (a file from elsewhere may have no nabla metadata); it
 * leaves the default generator alone. */
int nb_save_checkpoint(const char *path, nb_module *model, nb_optim *optim, const char *metadata_json);
int nb_load_checkpoint(const char *path, nb_module *model, nb_optim *optim);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
