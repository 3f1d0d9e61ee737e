/* libFuzzer harness: the neuron selector grammar (`column=glob[,glob] ...`)
 * parsed and matched against a few neurons' values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[2048];
  if (size >= sizeof text) size = sizeof text - 1;
  memcpy(text, data, size);
  text[size] = 0;
  Selector sel;
  char err[DMN_ERR_MAX];
  if (selector_parse(&sel, text, "fuzz", err)) {
    if (!strstr(err, "fuzz")) abort();
    return 0;
  }
  static const char *const rows[][3] = {{"KCg-m", "right", "720575940603045804"}, {"", "", ""}, {"DA1_lPN", "left", "7"}};
  for (int r = 0; r < 3; r++) {
    const char *vals[DMN_SEL_TERMS];
    for (int k = 0; k < sel.n; k++) vals[k] = rows[r][k % 3];
    (void)selector_match(&sel, vals);
  }
  return 0;
}
