/* libFuzzer harness: the YAML config parser (every section, lesions:,
 * sweep: with seeds, base:) and the validator.  Any input must give either a
 * config or an error message naming the "file" - never a crash, leak or UB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DmnConfig cfg; /* large: not on the stack */
  char err[DMN_ERR_MAX];
  for (int sel = -1; sel <= 1; sel += 2) { /* plain, and as sweep task 1 */
    config_defaults(&cfg);
    cfg.sweep_index = sel;
    err[0] = 0;
    if (config_parse_text(&cfg, (const char *)data, size, "fuzz.yaml", err) == 0) {
      config_validate(&cfg, err);
      char *y = config_to_yaml(&cfg); /* what a run writes beside its outputs */
      free(y);
    } else if (!strstr(err, "fuzz.yaml") && !strstr(err, "base")) {
      abort(); /* every parse error names the file (or the base it came from) */
    }
  }
  return 0;
}
