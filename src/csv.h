/* csv — a streaming, quote-aware CSV reader over plain or gzip files.
 *
 * Connectome exports are large (Codex connections are hundreds of MB
 * compressed), so rows are read one at a time through a fixed buffer; gzip is
 * detected by zlib itself (gzread reads uncompressed files transparently).
 * Quoting follows RFC 4180: a field in double quotes may hold commas, line
 * breaks and doubled quotes ("").  Columns are found by header name, never by
 * position, so files with reordered or extra columns load the same. */
#ifndef DMN_CSV_H
#define DMN_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct CsvReader {
  void *gz;              /* gzFile */
  char path[DMN_STR_MAX];
  char *buf;             /* read buffer (cap_buf) */
  size_t n_buf, pos_buf, cap_buf;
  int eof;
  char *row;             /* the current row's fields, each NUL-terminated (cap_row) */
  size_t cap_row;
  int *start;            /* (cap_fields) offset of field k in row */
  int n_fields, cap_fields;
  int n_col;             /* header width */
  char **header;         /* (n_col) column names */
  long line;             /* line number where the current row starts (header = 1) */
  long next_line;
} CsvReader;

/* Open and read the header.  Returns 0, or 1 with "PATH: ..." in err. */
int csv_open(CsvReader *r, const char *path, char err[DMN_ERR_MAX]);
void csv_close(CsvReader *r);

/* Column index of the first of the '|'-separated names present
 * ("root_id|body_id"), or -1. */
int csv_column(const CsvReader *r, const char *names);

/* Like csv_column, but a missing column is an error naming the file, the
 * column wanted and the columns present. */
int csv_require(const CsvReader *r, const char *names, char err[DMN_ERR_MAX]);

/* Next data row: 1 = a row is ready, 0 = end of file, -1 = error (err says
 * PATH:LINE: what).  Blank lines are skipped. */
int csv_next(CsvReader *r, char err[DMN_ERR_MAX]);

/* Field k of the current row ("" when k < 0). */
static inline const char *csv_field(const CsvReader *r, int k) { return k < 0 ? "" : r->row + r->start[k]; }

/* Strict number parsing of a field: 0 ok, 1 not a number (err names the
 * file, line and column). */
int csv_int64(const CsvReader *r, int k, int64_t *out, char err[DMN_ERR_MAX]);
int csv_double(const CsvReader *r, int k, double *out, char err[DMN_ERR_MAX]);

#endif
