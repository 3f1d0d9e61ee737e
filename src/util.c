#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

/* SplitMix64 finaliser: a bijective 64-bit mixer with full avalanche. */
uint64_t util_fnv1a(const void *data, size_t bytes) {
  const unsigned char *b = (const unsigned char *)data;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

uint64_t util_mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

DmnRng util_rng(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  uint64_t k = util_mix64(seed);
  k = util_mix64(k ^ (stream * 0xD1B54A32D192ED03ull));
  k = util_mix64(k ^ (a * 0xABC98388FB8FAC03ull));
  k = util_mix64(k ^ (b * 0x8CB92BA72F3D8DD7ull));
  DmnRng r = {k, 0};
  return r;
}

uint64_t util_rng_u64(DmnRng *r) { return util_mix64(r->key ^ util_mix64(r->ctr++)); }

double util_rng_uniform(DmnRng *r) { return (double)(util_rng_u64(r) >> 11) * 0x1.0p-53; }

double util_rng_normal(DmnRng *r) {
  double u1 = util_rng_uniform(r), u2 = util_rng_uniform(r);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

uint64_t util_rng_below(DmnRng *r, uint64_t n) {
  uint64_t lim = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = util_rng_u64(r);
  while (x >= lim);
  return x % n;
}

double util_norm2(const double *x, size_t n) {
  double scale = 0.0, ssq = 1.0;
  for (size_t i = 0; i < n; i++) {
    double a = fabs(x[i]);
    if (a == 0.0) continue;
    if (!(a <= 1e308)) return a; /* inf or nan propagates */
    if (scale < a) {
      ssq = 1.0 + ssq * (scale / a) * (scale / a);
      scale = a;
    } else {
      ssq += (a / scale) * (a / scale);
    }
  }
  return scale * sqrt(ssq);
}

double util_wtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double util_peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

void util_textf(DmnText *t, const char *f, ...) {
  va_list ap;
  for (;;) {
    if (t->cap - t->n < 64 || !t->s) {
      t->cap = 2 * t->cap + 4096;
      t->s = realloc(t->s, t->cap);
      t->s[t->n] = 0;
    }
    va_start(ap, f);
    int k = vsnprintf(t->s + t->n, t->cap - t->n, f, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < t->cap - t->n) {
      t->n += (size_t)k;
      return;
    }
    t->cap = 2 * t->cap + (size_t)k + 64;
    t->s = realloc(t->s, t->cap);
  }
}

void util_sfmt(char *buf, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, n, f, ap);
  va_end(ap);
}

char *util_read_text_file(const char *path, const char *what, size_t max, size_t *len, char *err, size_t err_n) {
  struct stat st;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    util_sfmt(err, err_n, "%s: cannot open %s: %s", path, what, strerror(errno));
    return NULL;
  }
  if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) { /* a directory opens, and "reads" as LONG_MAX bytes */
    util_sfmt(err, err_n, "%s: not a regular file%s", path, S_ISDIR(st.st_mode) ? " (a directory)" : "");
    fclose(fp);
    return NULL;
  }
  if ((size_t)st.st_size > max) {
    util_sfmt(err, err_n, "%s: too large (%lld bytes; at most %zu)", path, (long long)st.st_size, max);
    fclose(fp);
    return NULL;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  *len = fread(buf, 1, (size_t)st.st_size, fp);
  buf[*len] = 0;
  fclose(fp);
  return buf;
}
