#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { CSV_BUF = 1 << 16 };

static int refill(CsvReader *r) {
  if (r->eof) return 0;
  int got = gzread((gzFile)r->gz, r->buf, (unsigned)r->cap_buf);
  if (got <= 0) {
    r->eof = 1;
    return got < 0 ? -1 : 0;
  }
  r->n_buf = (size_t)got;
  r->pos_buf = 0;
  return 1;
}

/* Next byte, EOF (-1) at the end, -2 on a read error (corrupt gzip). */
static int getbyte(CsvReader *r) {
  if (r->pos_buf == r->n_buf) {
    int rc = refill(r);
    if (rc <= 0) return rc < 0 ? -2 : -1;
  }
  return (unsigned char)r->buf[r->pos_buf++];
}
static int peekbyte(CsvReader *r) {
  if (r->pos_buf == r->n_buf) {
    int rc = refill(r);
    if (rc <= 0) return rc < 0 ? -2 : -1;
  }
  return (unsigned char)r->buf[r->pos_buf];
}

static void put(CsvReader *r, size_t *len, char c) {
  if (*len + 1 >= r->cap_row) {
    r->cap_row *= 2;
    r->row = realloc(r->row, r->cap_row);
  }
  r->row[(*len)++] = c;
}

static void new_field(CsvReader *r, size_t len) {
  if (r->n_fields == r->cap_fields) {
    r->cap_fields *= 2;
    r->start = realloc(r->start, sizeof(int) * (size_t)r->cap_fields);
  }
  r->start[r->n_fields++] = (int)len;
}

/* Read one physical record into row/start.  1 row, 0 EOF, -1 error. */
static int read_record(CsvReader *r, char err[DMN_ERR_MAX]) {
  for (;;) {
    size_t len = 0;
    int quoted = 0, any = 0, was_quoted = 0;
    r->n_fields = 0;
    r->line = r->next_line;
    new_field(r, 0);
    for (;;) {
      int c = getbyte(r);
      if (c == -2) {
        snprintf(err, DMN_ERR_MAX, "%s:%ld: read error (truncated or corrupt gzip file?)", r->path, r->line);
        return -1;
      }
      if (c == -1) {
        if (quoted) {
          snprintf(err, DMN_ERR_MAX, "%s:%ld: unterminated quoted field at end of file", r->path, r->line);
          return -1;
        }
        if (!any) return 0;
        put(r, &len, 0);
        break;
      }
      any = 1;
      if (quoted) {
        if (c == '"') {
          if (peekbyte(r) == '"') {
            getbyte(r);
            put(r, &len, '"');
          } else {
            quoted = 0;
          }
        } else {
          if (c == '\n') r->next_line++;
          put(r, &len, (char)c);
        }
        continue;
      }
      if (c == '"' && len == (size_t)r->start[r->n_fields - 1]) {
        quoted = was_quoted = 1; /* quote opens only at the start of a field */
      } else if (c == ',') {
        put(r, &len, 0);
        new_field(r, len);
      } else if (c == '\r' && peekbyte(r) == '\n') {
        continue;
      } else if (c == '\n') {
        r->next_line++;
        put(r, &len, 0);
        break;
      } else {
        put(r, &len, (char)c);
      }
    }
    /* skip blank lines */
    if (r->n_fields == 1 && r->row[0] == 0 && !was_quoted) {
      if (r->eof && r->pos_buf == r->n_buf) return 0;
      continue;
    }
    return 1;
  }
}

int csv_open(CsvReader *r, const char *path, char err[DMN_ERR_MAX]) {
  memset(r, 0, sizeof(*r));
  snprintf(r->path, sizeof r->path, "%s", path);
  FILE *probe = fopen(path, "rb");
  if (!probe) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  fclose(probe);
  r->gz = gzopen(path, "rb");
  if (!r->gz) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  gzbuffer((gzFile)r->gz, CSV_BUF);
  r->cap_buf = CSV_BUF;
  r->buf = malloc(r->cap_buf);
  r->cap_row = 4096;
  r->row = malloc(r->cap_row);
  r->cap_fields = 32;
  r->start = malloc(sizeof(int) * (size_t)r->cap_fields);
  r->next_line = 1;
  int rc = read_record(r, err);
  if (rc <= 0) {
    if (rc == 0) snprintf(err, DMN_ERR_MAX, "%s: empty file (expected a header line)", path);
    csv_close(r);
    return 1;
  }
  r->n_col = r->n_fields;
  r->header = malloc(sizeof(char *) * (size_t)r->n_col);
  for (int k = 0; k < r->n_col; k++) {
    const char *h = csv_field(r, k);
    if (k == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB && (unsigned char)h[2] == 0xBF) h += 3; /* UTF-8 BOM */
    r->header[k] = strdup(h);
  }
  return 0;
}

void csv_close(CsvReader *r) {
  if (r->gz) gzclose((gzFile)r->gz);
  for (int k = 0; k < r->n_col; k++) free(r->header[k]);
  free(r->header);
  free(r->buf);
  free(r->row);
  free(r->start);
  memset(r, 0, sizeof(*r));
}

int csv_column(const CsvReader *r, const char *names) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", names);
  for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
    for (int k = 0; k < r->n_col; k++)
      if (!strcmp(r->header[k], tok)) return k;
  return -1;
}

int csv_require(const CsvReader *r, const char *names, char err[DMN_ERR_MAX]) {
  int k = csv_column(r, names);
  if (k >= 0) return k;
  char have[600] = "";
  for (int j = 0; j < r->n_col; j++) {
    if (j) strncat(have, ",", sizeof have - strlen(have) - 1);
    strncat(have, r->header[j], sizeof have - strlen(have) - 1);
  }
  char want[256];
  snprintf(want, sizeof want, "%s", names);
  for (char *c = want; *c; c++)
    if (*c == '|') *c = '/';
  snprintf(err, DMN_ERR_MAX, "%s: missing column '%s' (header: %s)", r->path, want, have);
  return -1;
}

int csv_next(CsvReader *r, char err[DMN_ERR_MAX]) {
  int rc = read_record(r, err);
  if (rc <= 0) return rc;
  if (r->n_fields != r->n_col) {
    snprintf(err, DMN_ERR_MAX, "%s:%ld: %d fields, the header has %d (an unquoted comma, or a truncated line?)", r->path, r->line,
             r->n_fields, r->n_col);
    return -1;
  }
  return 1;
}

int csv_int64(const CsvReader *r, int k, int64_t *out, char err[DMN_ERR_MAX]) {
  const char *s = csv_field(r, k);
  char *e;
  errno = 0;
  long long v = strtoll(s, &e, 10);
  /* tolerate "12.0" written by tools that went through floating point */
  if (*e == '.') {
    const char *z = e + 1;
    while (*z == '0') z++;
    if (!*z) e = (char *)z;
  }
  if (e == s || *e || errno == ERANGE) {
    snprintf(err, DMN_ERR_MAX, "%s:%ld: column '%s': expected an integer, got '%s'", r->path, r->line, r->header[k], s);
    return 1;
  }
  *out = (int64_t)v;
  return 0;
}

int csv_double(const CsvReader *r, int k, double *out, char err[DMN_ERR_MAX]) {
  const char *s = csv_field(r, k);
  char *e;
  errno = 0;
  double v = strtod(s, &e);
  if (e == s || *e || errno == ERANGE || v != v) {
    snprintf(err, DMN_ERR_MAX, "%s:%ld: column '%s': expected a number, got '%s'", r->path, r->line, r->header[k], s);
    return 1;
  }
  *out = v;
  return 0;
}
