/* libFuzzer harness: the streaming CSV reader (quotes, line breaks in
 * fields, gzip or plain) and its strict number parsing, on whatever bytes a
 * connectome file might hold.  The input goes through a file, as real data
 * does; errors must name the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/dmn_fuzz_csv_%d.csv", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  CsvReader r;
  char err[DMN_ERR_MAX];
  if (csv_open(&r, path, err)) {
    if (!strstr(err, path)) abort();
    return 0;
  }
  int kid = csv_column(&r, "root_id|body_id"), kn = csv_column(&r, "syn_count|weight");
  int rc;
  long rows = 0;
  while ((rc = csv_next(&r, err)) == 1 && rows++ < 100000) {
    int64_t v;
    double d;
    for (int k = 0; k < r.n_fields; k++) (void)strlen(csv_field(&r, k));
    if (kid >= 0) (void)csv_int64(&r, kid, &v, err);
    if (kn >= 0) (void)csv_double(&r, kn, &d, err);
  }
  if (rc < 0 && !strstr(err, path)) abort();
  csv_close(&r);
  return 0;
}
