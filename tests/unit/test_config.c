/* Config: defaults are valid, print -> parse round trip, --set, and every
 * bad-input class with its exact message (tests/data/bad_*.yaml, first line
 * "# expect: <message>").  MPI-free. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../harness.h"
#include "config.h"
#include "connectome.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  b[*len] = 0;
  fclose(f);
  return b;
}

static void spit(const char *dir, const char *name, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f) fputs(text, f), fclose(f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  const char *data = argc > 1 ? argv[1] : "tests/data";
  char err[DMN_ERR_MAX];
  DmnConfig a, b;

  config_defaults(&a);
  CHECK(config_validate(&a, err) == 0, "defaults invalid: %s", err);
  CHECK(a.sim_steps == 8000 && a.circuit_n_kc == 2000 && a.circuit_n_mbon == 34, "MODEL defaults");
  CHECK(a.sensing_receptor == DMN_RECEPTOR_WEBER && a.sensing_adapt == 1.0 && a.init_orn_bias == 26.0, "model v2.1: Weber receptors, perfect adaptation, ORN bias");
  /* perfect adaptation needs Weber receptors (the others' gain is init.orn_gain / (1 - k)) */
  b = a;
  b.sensing_receptor = DMN_RECEPTOR_GAUSSIAN;
  CHECK(config_validate(&b, err) != 0 && strstr(err, "'sensing.adapt' (1) above 0.95 needs 'sensing.receptor: weber'"), "adapt 1 with band receptors: %s", err);
  CHECK(a.circuit_surrogate_gamma == 0.05 && a.circuit_surrogate_beta == 0.5, "surrogate defaults");

  /* round trip: print -> parse gives the same config, byte for byte */
  CHECK(config_set(&a, "circuit.n_kc=1000", err) == 0, "%s", err);
  CHECK(config_set(&a, "odor.field=gaussian", err) == 0, "%s", err);
  CHECK(config_set(&a, "output.dir=runs/with \"quote\"", err) == 0, "%s", err);
  CHECK(config_set(&a, "loss.w_energy=0.123456789012345678", err) == 0, "%s", err);
  char *y = config_to_yaml(&a);
  config_defaults(&b);
  CHECK(config_parse_text(&b, y, strlen(y), "(roundtrip)", err) == 0, "round trip parse: %s", err);
  char *y2 = config_to_yaml(&b);
  CHECK(!strcmp(y, y2), "round trip differs");
  CHECK(b.circuit_n_kc == 1000 && b.odor_field == DMN_ODOR_GAUSSIAN && !strcmp(b.output_dir, "runs/with \"quote\""), "values");
  CHECK(b.loss_w_energy == a.loss_w_energy, "double round trip exact");
  free(y);
  free(y2);

  /* lesions: a list, parsed, printed and parsed again to the same text */
  {
    const char *doc = "lesions:\n"
                      "  - {name: no_gamma, kind: ablate, layer: kc, select: \"cell_type=KCg* side=right\"}\n"
                      "  - kind: silence\n    layer: MBON\n    ids: [720575940643309197, 7]\n"
                      "  - {kind: drop, projection: pn_to_kc, fraction: 0.25, seed: 3}\n"
                      "  - {kind: scale, projection: kc_to_mbon, factor: 0}\n"
                      "  - {kind: shuffle, projection: pn_to_kc}\n";
    config_defaults(&a);
    CHECK(config_parse_text(&a, doc, strlen(doc), "(lesions)", err) == 0, "lesions parse: %s", err);
    CHECK(a.n_lesions == 5, "5 lesions, got %d", a.n_lesions);
    CHECK(a.lesions[0].kind == DMN_LESION_ABLATE && a.lesions[0].layer == DMN_L_KC && !strcmp(a.lesions[0].name, "no_gamma"), "ablate entry");
    CHECK(!strcmp(a.lesions[1].select, "id=720575940643309197,7") && !strcmp(a.lesions[1].name, "silence_MBON"), "ids -> select: %s",
          a.lesions[1].select);
    CHECK(a.lesions[2].proj == DMN_P_PN_TO_KC && a.lesions[2].fraction == 0.25 && a.lesions[2].seed == 3, "drop entry");
    CHECK(a.lesions[3].factor == 0.0 && a.lesions[4].kind == DMN_LESION_SHUFFLE, "scale, shuffle entries");
    y = config_to_yaml(&a);
    config_defaults(&b);
    CHECK(config_parse_text(&b, y, strlen(y), "(lesions roundtrip)", err) == 0, "lesions round trip parse: %s", err);
    y2 = config_to_yaml(&b);
    CHECK(!strcmp(y, y2) && b.n_lesions == 5, "lesions round trip differs");
    free(y);
    free(y2);
    /* the config's layer and projection names are the connectome's, in order */
    for (int l = 0; l < DMN_NLAYER; l++) {
      char d[64];
      snprintf(d, sizeof d, "lesions:\n  - {kind: silence, layer: %s, select: all}\n", dmn_layer_names[l]);
      CHECK(config_parse_text(&a, d, strlen(d), "(layer)", err) == 0 && a.lesions[0].layer == l, "layer %s", dmn_layer_names[l]);
    }
    for (int q = 0; q < DMN_NPROJ; q++) {
      char d[96];
      snprintf(d, sizeof d, "lesions:\n  - {kind: shuffle, projection: %s}\n", dmn_proj_names[q]);
      CHECK(config_parse_text(&a, d, strlen(d), "(proj)", err) == 0 && a.lesions[0].proj == q, "projection %s", dmn_proj_names[q]);
    }
  }

  /* sweep: the selected condition's lesions follow the base lesions and its
   * set: wins, whatever the order of the keys in the file */
  {
    const char *doc = "sweep:\n"
                      "  - name: intact\n"
                      "  - name: half\n"
                      "    lesions: [{kind: scale, projection: kc_to_mbon, factor: 0.5}]\n"
                      "    set: {train.lr: 0.005, circuit.n_kc: 400}\n"
                      "train: {lr: 0.002}\n"
                      "lesions: [{kind: silence, layer: DN, select: id=0}]\n";
    for (int sel = -1; sel <= 1; sel++) {
      config_defaults(&a);
      a.sweep_index = sel;
      CHECK(config_parse_text(&a, doc, strlen(doc), "(sweep)", err) == 0, "sweep parse: %s", err);
      CHECK(a.n_sweep == 2 && !strcmp(a.sweep_names[1], "half"), "sweep names");
      if (sel == 1) {
        CHECK(a.n_lesions == 2 && a.lesions[0].kind == DMN_LESION_SILENCE && a.lesions[1].kind == DMN_LESION_SCALE && a.sweep_base_lesions == 1,
              "condition lesions after the base lesions");
        CHECK(a.train_lr == 0.005 && a.circuit_n_kc == 400, "condition set: wins over the file's keys");
      } else {
        CHECK(a.n_lesions == 1 && a.train_lr == 0.002 && a.circuit_n_kc == 2000, "condition %d: base config only", sel);
      }
    }
    config_defaults(&a);
    a.sweep_index = 2;
    CHECK(config_parse_text(&a, doc, strlen(doc), "(sweep)", err) != 0 && strstr(err, "sweep index 2 out of range: the sweep has 2 conditions"),
          "index out of range: %s", err);
  }

  /* base: another config's keys first, this file's on top; its relative
   * paths stay relative to its own folder; errors name the file and line */
  {
    char tmpl[] = "/tmp/dmn_base_XXXXXX", path[1024], sub[1100];
    const char *d = mkdtemp(tmpl);
    CHECK(d != NULL, "mkdtemp");
    snprintf(sub, sizeof sub, "%s/sub", d);
    mkdir(sub, 0755);
    spit(sub, "base.yaml", "connectome:\n  source: flywire\n  path: data/fw\ntrain:\n  lr: 0.002\n  episodes: 100\nlesions: [{kind: ablate, layer: APL, select: all}]\n");
    spit(d, "child.yaml", "train:\n  episodes: 50\nbase: sub/base.yaml\n");
    snprintf(path, sizeof path, "%s/child.yaml", d);
    CHECK(config_load_file(&a, path, err) == 0, "base: %s", err);
    CHECK(a.train_lr == 0.002 && a.train_episodes == 50 && a.connectome_source == DMN_SOURCE_FLYWIRE && a.n_lesions == 1,
          "base keys inherited, the child's win (lr %g episodes %ld)", a.train_lr, a.train_episodes);
    CHECK(!strcmp(a.connectome_path, "sub/data/fw"), "base's relative path relative to its folder: '%s'", a.connectome_path);
    spit(sub, "mid.yaml", "base: base.yaml\nsim: {seed: 7}\n");
    spit(d, "child2.yaml", "base: sub/mid.yaml\nconnectome: {nt_from: x.csv}\n");
    snprintf(path, sizeof path, "%s/child2.yaml", d);
    CHECK(config_load_file(&a, path, err) == 0, "base of a base: %s", err);
    CHECK(a.sim_seed == 7 && a.train_lr == 0.002 && !strcmp(a.connectome_path, "sub/data/fw") && !strcmp(a.connectome_nt_from, "x.csv"),
          "two levels: seed %ld path '%s' nt_from '%s'", a.sim_seed, a.connectome_path, a.connectome_nt_from);
    struct {
      const char *file, *text, *expect;
    } bad[] = {
        {"loop.yaml", "base: loop.yaml\n", "configs deep (does a base name itself?)"},
        {"miss.yaml", "sim: {seed: 2}\nbase: nothere.yaml\n", "nothere.yaml: cannot open base config: No such file or directory"},
        {"swb.yaml", "base: sub/sw.yaml\n", "sub/sw.yaml:1:1: a base config cannot have a sweep: list"},
        {"badk.yaml", "base: sub/badk.yaml\n", "sub/badk.yaml:1:9: unknown key 'train.lrr'"},
        {"type.yaml", "base: [a]\n", "type.yaml:1:7: wrong type for 'base': expected the path of another config file, got a list"},
        {"dup.yaml", "base: sub/base.yaml\nbase: sub/mid.yaml\n", "dup.yaml:2:1: duplicate key 'base' (first at line 1)"},
        {"dir.yaml", "base: sub\n", "dir.yaml:1:7: 'base: sub': /"},  /* found by fuzz_config: a directory "read" as 2^63 bytes */
    };
    spit(sub, "sw.yaml", "sweep:\n  - name: a\n");
    spit(sub, "badk.yaml", "train: {lrr: 1}\n");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      spit(d, bad[i].file, bad[i].text);
      snprintf(path, sizeof path, "%s/%s", d, bad[i].file);
      int rc = config_load_file(&a, path, err);
      CHECK(rc != 0 && strstr(err, bad[i].expect), "%s\n   got:    %s\n   wanted: ...%s...", bad[i].file, rc ? err : "(accepted)", bad[i].expect);
      if (!strcmp(bad[i].file, "dir.yaml")) CHECK(strstr(err, "/sub: not a regular file (a directory)") != NULL, "base directory: %s", err);
      printf("  base %-22s -> %s\n", bad[i].file, err);
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    CHECK(system(cmd) == 0, "cleanup");
  }

  /* sim.sweep_seeds: the sweep's tasks are conditions x seeds, each with its seed */
  {
    const char *doc = "sim: {sweep_seeds: \"4, 5,6\", seed: 1}\n"
                      "sweep:\n  - name: a\n  - name: b\n    set: {train.lr: 0.005}\n";
    for (int t = 0; t < 6; t++) {
      config_defaults(&a);
      a.sweep_index = t;
      CHECK(config_parse_text(&a, doc, strlen(doc), "(seeds)", err) == 0, "seeds parse: %s", err);
      char name[128];
      config_sweep_task_name(&a, t, name, sizeof name);
      CHECK(config_sweep_tasks(&a) == 6 && a.sim_seed == 4 + t % 3 && a.sweep_condition == t / 3 && (t < 3 ? a.train_lr == 1e-3 : a.train_lr == 0.005),
            "task %d: seed %ld condition %d", t, a.sim_seed, a.sweep_condition);
      char want[64];
      snprintf(want, sizeof want, "%s_s%d", t < 3 ? "a" : "b", 4 + t % 3);
      CHECK(!strcmp(name, want) && !strcmp(config_sweep_name(&a), t < 3 ? "a" : "b"), "task %d name '%s'", t, name);
    }
    config_defaults(&a);
    a.sweep_index = 6;
    CHECK(config_parse_text(&a, doc, strlen(doc), "(seeds)", err) != 0 && strstr(err, "the sweep has 2 conditions x 3 seeds = 6 tasks (0 .. 5)"),
          "seeds: index out of range: %s", err);
    const char *bad = "sim:\n  sweep_seeds: \"1,x\"\nsweep:\n  - name: a\n";
    config_defaults(&a);
    CHECK(config_parse_text(&a, bad, strlen(bad), "(seeds)", err) != 0 && !strcmp(err, "(seeds):2: 'sim.sweep_seeds' must be seeds >= 0 separated by commas (e.g. 1,2,3), got '1,x'"),
          "bad seeds: %s", err);
    config_defaults(&a);
    CHECK(config_set(&a, "train.eval_at=100,x", err) == 0 && config_validate(&a, err) != 0 && strstr(err, "'train.eval_at' must be episode counts >= 1"),
          "bad eval_at: %s", err);
  }

  /* --set errors */
  struct {
    const char *set, *expect;
  } sets[] = {
      {"sim.dtt=1", "--set sim.dtt=1: unknown key 'sim.dtt' (did you mean 'sim.dt'?)"},
      {"simm.dt=1", "--set simm.dt=1: unknown section 'simm' (did you mean 'sim'?)"},
      {"sim.dt=abc", "--set sim.dt=abc: wrong type for 'sim.dt': expected a number, got 'abc'"},
      {"sim.dt=100", "--set sim.dt=100: value out of range for 'sim.dt': 100 (allowed 0.01 .. 10 ms)"},
      {"sim.dt", "--set sim.dt: expected section.key=value"},
      {"grad.sensory_feedback=exact", "--set grad.sensory_feedback=exact: invalid value for 'grad.sensory_feedback': 'exact' (allowed: detach, window, full)"},
  };
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    config_defaults(&a);
    int rc = config_set(&a, sets[i].set, err);
    CHECK(rc != 0 && !strcmp(err, sets[i].expect), "--set %s\n   got:    %s\n   wanted: %s", sets[i].set, err, sets[i].expect);
  }
  config_defaults(&a);
  CHECK(config_set(&a, "grad.sensory_feedback=window", err) == 0 && a.grad_sensory_feedback == DMN_FEEDBACK_WINDOW, "enum set");

  /* every tests/data/bad_*.yaml fails with exactly its expected message */
  DIR *dir = opendir(data);
  CHECK(dir != NULL, "cannot open %s", data);
  char *names[64];
  int n = 0;
  for (struct dirent *e; dir && (e = readdir(dir)) && n < 64;)
    if (!strncmp(e->d_name, "bad_", 4)) names[n++] = strdup(e->d_name);
  if (dir) closedir(dir);
  qsort(names, (size_t)n, sizeof(char *), cmp_str);
  CHECK(n >= 10, "expected at least 10 bad_*.yaml files, found %d", n);
  for (int i = 0; i < n; i++) {
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", data, names[i]);
    char *text = slurp(path, &len);
    const char *exp = text ? strstr(text, "# expect: ") : NULL;
    CHECK(exp != NULL, "%s has no '# expect:' line", names[i]);
    if (!exp) continue;
    char want[DMN_ERR_MAX];
    exp += 10;
    size_t k = strcspn(exp, "\n");
    memcpy(want, exp, k);
    want[k] = 0;
    config_defaults(&a);
    config_set_origin(&a, names[i]);
    int rc = config_parse_text(&a, text, len, names[i], err);
    if (!rc) rc = config_validate(&a, err);
    CHECK(rc != 0 && !strcmp(err, want), "%s\n   got:    %s\n   wanted: %s", names[i], rc ? err : "(accepted)", want);
    printf("  %-28s -> %s\n", names[i], err);
    free(text);
    free(names[i]);
  }
  /* a missing file names the path */
  CHECK(config_load_file(&a, "/nonexistent/x.yaml", err) != 0 && strstr(err, "/nonexistent/x.yaml: cannot open config file"), "%s", err);
  /* the shipped configs parse */
  return th_summary("test_config");
}
