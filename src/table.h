/* table — a connectome table in memory: interned strings (Pool), an
 * int64 id -> row map (Map), and the neuron table read from CSV files by
 * column name (Table), used by connectome_load.c. */
#ifndef DMN_TABLE_H
#define DMN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

#define MAX_COL 32

typedef struct {
  char **s;
  int n, cap;
  int *slot; /* open addressing: index + 1, 0 empty */
  size_t n_slot;
} Pool;

/* int64 key -> int value, open addressing (value -1 = empty). */
typedef struct {
  int64_t *key;
  int64_t *val;
  size_t cap, n;
} Map;

typedef struct {
  long n, cap;
  int64_t *id;   /* (n) */
  int n_col;
  char *col[MAX_COL];
  int *val;      /* (n x MAX_COL) interned values */
  Pool pool;
  Map map;       /* id -> row */
  char files[DMN_STR_MAX * 2];
} Table;

int pool_add(Pool *p, const char *s);
int pool_find(const Pool *p, const char *s); /* its index, -1 if absent (nothing added) */
void pool_free(Pool *p);
void map_init(Map *m, size_t expect);
void map_free(Map *m);
int64_t map_get(const Map *m, int64_t k);
int64_t map_put(Map *m, int64_t k, int64_t v);
int table_col(const Table *t, const char *name);
int table_add_col(Table *t, const char *name);
const char *table_val(const Table *t, long i, int k);
void table_free(Table *t);
int table_read(Table *t, const char *path, int merge, DmnText *notes, char err[DMN_ERR_MAX]);

#endif
