/* util — pure helpers with no MPI or PETSc: counter-based RNG, smooth
 * nonlinearities, small array kernels, a wall clock. */
#ifndef DMN_UTIL_H
#define DMN_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Counter-based RNG: the k-th number of stream (seed, stream, a, b) is a pure
 * function of its key and k, so episode e of individual i draws the same
 * start pose whichever rank runs it, for any rank count.  Never rand(). */
typedef struct DmnRng {
  uint64_t key, ctr;
} DmnRng;

enum { DMN_STREAM_CONNECTOME = 1, DMN_STREAM_INIT = 2, DMN_STREAM_TRAIN_START = 3, DMN_STREAM_EVAL_START = 4,
       DMN_STREAM_GRADCHECK = 5, DMN_STREAM_SIM_START = 6, DMN_STREAM_LESION = 7, DMN_STREAM_VARIANT = 8,
       DMN_STREAM_FITNESS = 9, DMN_STREAM_EVOLVE = 10, DMN_STREAM_VALIDATE = 11 };

uint64_t util_mix64(uint64_t x);
uint64_t util_fnv1a(const void *data, size_t bytes); /* FNV-1a 64: parameter and dataset checksums */
DmnRng util_rng(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
uint64_t util_rng_u64(DmnRng *r);
double util_rng_uniform(DmnRng *r);             /* [0, 1) with 53 random bits */
double util_rng_normal(DmnRng *r);              /* standard normal (Box-Muller) */
uint64_t util_rng_below(DmnRng *r, uint64_t n); /* uniform in [0, n) without modulo bias */

/* softplus(x) = log(1 + e^x), stable for large |x|; its derivative is sigmoid. */
static inline double util_softplus(double x) { return x > 30.0 ? x : (x < -30.0 ? exp(x) : log1p(exp(x))); }
static inline double util_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}
/* Inverse of softplus for y > 0: u such that softplus(u) = y. */
static inline double util_softplus_inv(double y) { return y > 30.0 ? y : log(expm1(y)); }

/* Overflow-safe Euclidean norm (scaled sum of squares, as LAPACK dnrm2). */
double util_norm2(const double *x, size_t n);

/* A growing string for reports and YAML: util_textf appends printf-style;
 * t.s is always NUL-terminated (start with DmnText t = {0}; free(t.s)). */
typedef struct DmnText {
  char *s;
  size_t n, cap;
} DmnText;
void util_textf(DmnText *t, const char *f, ...) __attribute__((format(printf, 2, 3)));

/* snprintf that truncates silently (messages and names may be cut, never overflow). */
void util_sfmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));

double util_wtime(void); /* seconds, monotonic */
/* A whole small text file (a config): malloc'd and NUL-terminated, its length
 * in *len; NULL with "PATH: why" in err ("cannot open <what>: ...", not a
 * regular file - a directory - or larger than max bytes). */
char *util_read_text_file(const char *path, const char *what, size_t max, size_t *len, char *err, size_t err_n);
double util_peak_rss_mb(void); /* peak resident memory of this process, MB */

#endif
