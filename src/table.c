#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* the columns a table's neuron id may be called */
#define ID_COLS "root_id|body_id|bodyId|id|pt_root_id"

/* ---- interned strings and the id map ----------------------------------------- */


static uint64_t hash_str(const char *s) { return util_fnv1a(s, strlen(s)); }

int pool_add(Pool *p, const char *s) {
  if (!p->n_slot || 2 * (size_t)(p->n + 1) > p->n_slot) {
    size_t ns = p->n_slot ? 2 * p->n_slot : 1024;
    int *slot = calloc(ns, sizeof(int));
    for (int i = 0; i < p->n; i++) {
      size_t h = hash_str(p->s[i]) & (ns - 1);
      while (slot[h]) h = (h + 1) & (ns - 1);
      slot[h] = i + 1;
    }
    free(p->slot);
    p->slot = slot;
    p->n_slot = ns;
  }
  size_t h = hash_str(s) & (p->n_slot - 1);
  while (p->slot[h]) {
    if (!strcmp(p->s[p->slot[h] - 1], s)) return p->slot[h] - 1;
    h = (h + 1) & (p->n_slot - 1);
  }
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 1024;
    p->s = realloc(p->s, sizeof(char *) * (size_t)p->cap);
  }
  p->s[p->n] = strdup(s);
  p->slot[h] = p->n + 1;
  return p->n++;
}

int pool_find(const Pool *p, const char *s) {
  if (!p->n_slot) return -1;
  for (size_t h = hash_str(s) & (p->n_slot - 1); p->slot[h]; h = (h + 1) & (p->n_slot - 1))
    if (!strcmp(p->s[p->slot[h] - 1], s)) return p->slot[h] - 1;
  return -1;
}

void pool_free(Pool *p) {
  for (int i = 0; i < p->n; i++) free(p->s[i]);
  free(p->s);
  free(p->slot);
}


void map_init(Map *m, size_t expect) {
  m->cap = 1024;
  while (m->cap < 2 * expect) m->cap *= 2;
  m->key = malloc(sizeof(int64_t) * m->cap);
  m->val = malloc(sizeof(int64_t) * m->cap);
  for (size_t i = 0; i < m->cap; i++) m->val[i] = -1;
  m->n = 0;
}
void map_free(Map *m) {
  free(m->key);
  free(m->val);
}
int64_t map_get(const Map *m, int64_t k) {
  size_t h = util_mix64((uint64_t)k) & (m->cap - 1);
  while (m->val[h] >= 0) {
    if (m->key[h] == k) return m->val[h];
    h = (h + 1) & (m->cap - 1);
  }
  return -1;
}
/* Insert k -> v unless present; returns the value now stored. */
int64_t map_put(Map *m, int64_t k, int64_t v) {
  if (2 * (m->n + 1) > m->cap) {
    Map g;
    map_init(&g, m->cap);
    for (size_t i = 0; i < m->cap; i++)
      if (m->val[i] >= 0) map_put(&g, m->key[i], m->val[i]);
    map_free(m);
    *m = g;
  }
  size_t h = util_mix64((uint64_t)k) & (m->cap - 1);
  while (m->val[h] >= 0) {
    if (m->key[h] == k) return m->val[h];
    h = (h + 1) & (m->cap - 1);
  }
  m->key[h] = k;
  m->val[h] = v;
  m->n++;
  return v;
}

/* ---- the neuron table ------------------------------------------------------------ */



int table_col(const Table *t, const char *name) {
  for (int k = 0; k < t->n_col; k++)
    if (!strcmp(t->col[k], name)) return k;
  return -1;
}

int table_add_col(Table *t, const char *name) {
  int k = table_col(t, name);
  if (k >= 0 || t->n_col == MAX_COL) return k;
  t->col[t->n_col] = strdup(name);
  int empty = pool_add(&t->pool, "");
  for (long i = 0; i < t->n; i++) t->val[i * MAX_COL + t->n_col] = empty;
  return t->n_col++;
}

const char *table_val(const Table *t, long i, int k) { return k < 0 ? "" : t->pool.s[t->val[i * MAX_COL + k]]; }

void table_free(Table *t) {
  free(t->id);
  for (int k = 0; k < t->n_col; k++) free(t->col[k]);
  free(t->val);
  pool_free(&t->pool);
  map_free(&t->map);
}


/* First file: defines the neurons.  Later files (merge = 1): add columns to
 * known neurons by id; unknown ids are counted, not added. */
int table_read(Table *t, const char *path, int merge, DmnText *notes, char err[DMN_ERR_MAX]) {
  CsvReader r;
  if (csv_open(&r, path, err)) return 1;
  int kid = csv_require(&r, ID_COLS, err);
  if (kid < 0) {
    csv_close(&r);
    return 1;
  }
  size_t used = strlen(t->files);
  util_sfmt(t->files + used, sizeof t->files - used, "%s%s", used ? " + " : "", path);
  int map_col[MAX_COL * 2];
  for (int k = 0; k < r.n_col; k++) {
    map_col[k] = -1;
    if (k == kid) continue;
    /* Codex's consolidated primary_type is the cell type users select on. */
    const char *name = merge && !strcmp(r.header[k], "primary_type") ? "cell_type" : r.header[k];
    int c = table_add_col(t, name);
    if (c < 0) {
      util_sfmt(err, DMN_ERR_MAX, "%s: more than %d columns in the neuron tables", path, MAX_COL);
      csv_close(&r);
      return 1;
    }
    map_col[k] = c;
  }
  long unknown = 0;
  int rc;
  while ((rc = csv_next(&r, err)) == 1) {
    int64_t id;
    if (csv_int64(&r, kid, &id, err)) {
      rc = -1;
      break;
    }
    long row;
    if (merge) {
      row = (long)map_get(&t->map, id);
      if (row < 0) {
        unknown++;
        continue;
      }
    } else {
      if (map_get(&t->map, id) >= 0) {
        util_sfmt(err, DMN_ERR_MAX, "%s:%ld: duplicate neuron id %lld", path, r.line, (long long)id);
        rc = -1;
        break;
      }
      if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        t->id = realloc(t->id, sizeof(int64_t) * (size_t)t->cap);
        t->val = realloc(t->val, sizeof(int) * (size_t)t->cap * MAX_COL);
      }
      row = t->n++;
      t->id[row] = id;
      map_put(&t->map, id, row);
      int empty = pool_add(&t->pool, "");
      for (int c = 0; c < MAX_COL; c++) t->val[row * MAX_COL + c] = empty;
    }
    for (int k = 0; k < r.n_col; k++) {
      if (map_col[k] < 0) continue;
      const char *v = csv_field(&r, k);
      if (merge && !v[0]) continue; /* an empty value does not erase a known one */
      t->val[row * MAX_COL + map_col[k]] = pool_add(&t->pool, v);
    }
  }
  csv_close(&r);
  if (rc < 0) return 1;
  if (unknown) util_textf(notes, "%s: %ld rows name neurons absent from the first neuron table (ignored)\n", path, unknown);
  if (!merge && t->n == 0) {
    util_sfmt(err, DMN_ERR_MAX, "%s: no neurons (header only)", path);
    return 1;
  }
  return 0;
}

