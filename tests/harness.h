/* A tiny test harness: CHECK / CHECK_CLOSE count results and the program
 * ends with the plain line "N passed, N failed" that CI reads. */
#ifndef DMN_TEST_HARNESS_H
#define DMN_TEST_HARNESS_H
#include <math.h>
#include <stdio.h>

static int th_pass = 0, th_fail = 0;

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (cond) {                                                   \
      th_pass++;                                                  \
    } else {                                                      \
      th_fail++;                                                  \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      printf(__VA_ARGS__);                                        \
      printf("\n");                                               \
    }                                                             \
  } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol, what)                                                                          \
  do {                                                                                                        \
    double th_a = (a), th_b = (b);                                                                            \
    CHECK(fabs(th_a - th_b) <= (tol) * fmax(1.0, fabs(th_b)), "%s: got %.15g, expected %.15g (tol %.1e)", what, \
          th_a, th_b, (double)(tol));                                                                         \
  } while (0)

static int th_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, th_pass, th_fail);
  return th_fail ? 1 : 0;
}
#endif
