/* select — neuron selectors: `column=glob[,glob...]` terms separated by
 * spaces, all of which must match (`column!=glob` excludes); `all` matches
 * every neuron.  Example: "class=KC side=right cell_type=KCg*,KCab".
 * The same syntax picks the circuit's layers from a connectome table and
 * the neurons a lesion removes. */
#ifndef DMN_SELECT_H
#define DMN_SELECT_H

#include "config.h"

#define DMN_SEL_TERMS 16
#define DMN_SEL_PATTERNS 256

typedef struct SelTerm {
  char key[64];
  int negate;
  int n_pat;
  char *pat[DMN_SEL_PATTERNS]; /* point into text */
} SelTerm;

typedef struct Selector {
  char text[DMN_SELECT_MAX];   /* a parsed copy, NULs at the separators */
  int n;
  SelTerm term[DMN_SEL_TERMS];
} Selector;

/* 0, or 1 with a message naming `what` (e.g. "connectome.kc"). */
int selector_parse(Selector *s, const char *text, const char *what, char err[DMN_ERR_MAX]);

/* values[k] is the neuron's value of term k's key. */
int selector_match(const Selector *s, const char *const *values);

#endif
