/* io/safetensors.h — what the safetensors reader and writer share: the dtypes
 * and the open file. */
#ifndef NB_IO_SAFETENSORS_H
#define NB_IO_SAFETENSORS_H

#include "io/json.h"
#include "nabla/io.h"

/* A safetensors dtype; decode (n little-endian values to nb_real) is NULL for
 * those nabla cannot convert. */
typedef struct nb_st_dtype {
    const char *name;
    int size;
    void (*decode)(const unsigned char *p, size_t n, nb_real *out);
} nb_st_dtype;

/* The dtype of a name, or NULL. */
const nb_st_dtype *nb_st_dtype_find(const char *name);

typedef struct nb_st_meta {
    const char *key, *value;
} nb_st_meta;

struct nb_safetensors {
    char *path;
    FILE *file;
    uint64_t data_start; /* 8 + header length */
    uint64_t data_len;
    nb_safetensors_entry *entries; /* sorted by name */
    int n;
    nb_st_meta *meta;
    int n_meta;
    char *strings; /* decoded names, dtypes, metadata */
};

/* Parse a metadata object of string values from j (its strings decoded at
 * *dst, see nb_json_string) into a heap array of *n pairs; a key given twice
 * is an error. NULL on error. */
nb_st_meta *nb_st_parse_metadata(nb_json *j, char **dst, int *n);

#endif
