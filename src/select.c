#include "select.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

int selector_parse(Selector *s, const char *text, const char *what, char err[DMN_ERR_MAX]) {
  memset(s, 0, sizeof(*s));
  if (strlen(text) >= sizeof s->text) {
    snprintf(err, DMN_ERR_MAX, "%s: selector longer than %d characters", what, (int)sizeof s->text - 1);
    return 1;
  }
  snprintf(s->text, sizeof s->text, "%s", text);
  char *save = NULL;
  for (char *tok = strtok_r(s->text, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
    if (!strcmp(tok, "all") || !strcmp(tok, "*")) continue;
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok) {
      snprintf(err, DMN_ERR_MAX, "%s: selector term '%s' is not column=pattern (e.g. class=KC side=right cell_type=KCg*)", what, tok);
      return 1;
    }
    if (s->n == DMN_SEL_TERMS) {
      snprintf(err, DMN_ERR_MAX, "%s: more than %d selector terms", what, DMN_SEL_TERMS);
      return 1;
    }
    SelTerm *t = &s->term[s->n++];
    t->negate = eq[-1] == '!';
    size_t klen = (size_t)(eq - tok) - (size_t)t->negate;
    if (klen >= sizeof t->key) klen = sizeof t->key - 1;
    memcpy(t->key, tok, klen);
    t->key[klen] = 0;
    char *save2 = NULL;
    for (char *p = strtok_r(eq + 1, ",", &save2); p; p = strtok_r(NULL, ",", &save2)) {
      if (t->n_pat == DMN_SEL_PATTERNS) {
        snprintf(err, DMN_ERR_MAX, "%s: more than %d values for '%s'", what, DMN_SEL_PATTERNS, t->key);
        return 1;
      }
      t->pat[t->n_pat++] = p;
    }
    if (!t->n_pat) {
      snprintf(err, DMN_ERR_MAX, "%s: selector term '%s=' has no value", what, t->key);
      return 1;
    }
  }
  return 0;
}

int selector_match(const Selector *s, const char *const *values) {
  for (int k = 0; k < s->n; k++) {
    const SelTerm *t = &s->term[k];
    int any = 0;
    for (int j = 0; j < t->n_pat && !any; j++) any = fnmatch(t->pat[j], values[k] ? values[k] : "", 0) == 0;
    if (any == t->negate) return 0;
  }
  return 1;
}
