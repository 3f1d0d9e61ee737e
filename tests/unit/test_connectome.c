/* Connectome loaders, selectors, lesions and the packed image (MPI-free).
 *
 * Tiny files are generated in a temporary directory: plain and gzip, quoted
 * fields with commas and doubled quotes, one row per neuropil (summed),
 * columns in any order, missing columns, bad numbers, duplicate rows and ids
 * absent from the neuron table.  The real data in configs/connectomes is
 * used when present (argv[1]) and skipped with a message otherwise. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../fixture.h"
#include "../harness.h"
#include "config.h"
#include "connectome.h"
#include "util.h"

static char tmpdir[256];

static void write_file(const char *dir, const char *name, const char *text) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  mkdir(dir, 0755);
  size_t n = strlen(name);
  if (n > 3 && !strcmp(name + n - 3, ".gz")) {
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
  } else {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
  }
}

static const char *sub(const char *name) {
  static char buf[4][512];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void base_config(DmnConfig *c, int source, const char *dir) {
  config_defaults(c);
  c->connectome_source = source;
  snprintf(c->connectome_path, sizeof c->connectome_path, "%s", dir);
}

/* Load and expect an error containing `needle`. */
static void expect_error(const DmnConfig *c, const char *needle, const char *what) {
  DmnConnectome cn;
  char err[DMN_ERR_MAX] = "";
  int rc = connectome_build(c, &cn, err);
  CHECK(rc != 0 && strstr(err, needle), "%s: expected an error containing '%s', got rc %d '%s'", what, needle, rc, err);
  if (!rc) connectome_free(&cn);
  else printf("  %-34s -> %s\n", what, err);
}

static int find_syn(const DmnProjection *p, int post, int pre) {
  for (int k = p->row_ptr[post]; k < p->row_ptr[post + 1]; k++)
    if (p->col[k] == pre) return k;
  return -1;
}

static int index_of(const DmnConnectome *c, int l, int64_t id) {
  for (int i = 0; i < c->n[l]; i++)
    if (c->id[l][i] == id) return i;
  return -1;
}

static const char *NEURONS =
    "root_id,class,cell_type,side,super_class,nt_type\n"
    "1,ORN,ORN_DA1,left,sensory,\n"
    "2,ORN,ORN_DA1,right,sensory,\n"
    "3,ORN,ORN_VA1,left,sensory,\n"
    "4,ORN,ORN_VA1,right,sensory,\n"
    "5,ORN,ORN_X,,sensory,\n"
    "10,PN,DA1_lPN,right,\"central, brain\",ACH\n"
    "11,PN,VA1_vPN,right,central,GABA\n"
    "\n"
    "20,KC,KCg-m,right,central,ACH\r\n"
    "21,KC,KCab,right,central,ACH\n"
    "22,KC,\"KC \"\"odd\"\", type\",right,central,ACH\n"
    "30,MBON,MBON01,right,central,GLUT\n"
    "31,MBON,MBON02,left,central,\n"
    "40,DN,DNa01,left,descending,\n"
    "41,DN,DNa01,right,descending,\n";

/* columns reordered; two neuropil rows for (10 -> 20); an id (999) absent from the neurons */
static const char *CONNECTIONS =
    "syn_count,neuropil,post_root_id,pre_root_id,nt_type\n"
    "5,MB_CA_R,20,10,ACH\n"
    "3,MB_CA_L,20,10,ACH\n"
    "7,MB_CA_R,21,10,ACH\n"
    "2,MB_CA_R,21,11,GABA\n"
    "4,MB_CA_R,22,11,GABA\n"
    "9,MB_ML_R,30,20,ACH\n"
    "1,MB_ML_R,30,21,ACH\n"
    "6,MB_ML_R,31,22,ACH\n"
    "6,MB_ML_R,31,21,ACH\n"
    "12,MB_ML_R,30,999,ACH\n"
    "3,LH_R,41,31,GABA\n";

static void test_flywire_format(void) {
  const char *dir = sub("fw");
  write_file(dir, "neurons.csv", NEURONS);
  write_file(dir, "connections.csv.gz", CONNECTIONS);
  DmnConfig c;
  base_config(&c, DMN_SOURCE_FLYWIRE, dir);
  DmnConnectome cn;
  char err[DMN_ERR_MAX] = "";
  int rc = connectome_build(&c, &cn, err);
  CHECK(rc == 0, "flywire-format load: %s", err);
  if (rc) return;
  CHECK(cn.n[DMN_L_ORN] == 4 && cn.n[DMN_L_PN] == 2 && cn.n[DMN_L_KC] == 3 && cn.n[DMN_L_MBON] == 2 && cn.n[DMN_L_DN] == 2,
        "layer sizes %d %d %d %d %d", cn.n[0], cn.n[1], cn.n[2], cn.n[3], cn.n[4]);
  CHECK(cn.notes && strstr(cn.notes, "1 selected ORNs have no side"), "ORN without a side reported: %s", cn.notes);
  /* ORNs: left antenna first; channels by glomerulus name */
  CHECK(cn.id[DMN_L_ORN][0] == 1 && cn.id[DMN_L_ORN][1] == 3 && cn.id[DMN_L_ORN][2] == 2 && cn.side[DMN_L_ORN][2] == 1, "ORN order");
  CHECK(cn.n_channels == 2 && cn.orn_channel[0] == 0 && cn.orn_channel[1] == 1 && cn.orn_channel[2] == 0, "receptor channels");
  /* quoted field with a comma and doubled quotes is one cell type, sorted first */
  CHECK(!strcmp(connectome_type(&cn, DMN_L_KC, 0), "KC \"odd\", type") && cn.id[DMN_L_KC][0] == 22, "quoted cell type: '%s'",
        connectome_type(&cn, DMN_L_KC, 0));
  const DmnProjection *pk = &cn.proj[DMN_P_PN_TO_KC], *pm = &cn.proj[DMN_P_KC_TO_MBON], *po = &cn.proj[DMN_P_ORN_TO_PN];
  CHECK(pk->nnz == 4 && !pk->synthetic, "pn_to_kc has 4 synapses from data, got %d", pk->nnz);
  int k20 = index_of(&cn, DMN_L_KC, 20), pn10 = index_of(&cn, DMN_L_PN, 10), q = find_syn(pk, k20, pn10);
  CHECK(q >= 0 && pk->count[q] == 8.0f, "per-neuropil rows summed: 10->20 count %g", q >= 0 ? pk->count[q] : -1.0);
  CHECK(pm->nnz == 4, "kc_to_mbon 4 synapses (999 dangling), got %d", pm->nnz);
  CHECK(strstr(cn.notes, "WARNING: 1 connection rows name ids absent") && strstr(cn.notes, "first: 999"), "dangling id counted: %s", cn.notes);
  CHECK(strstr(cn.notes, "1 rows summed into pairs already seen"), "merged rows counted");
  /* transmitters: table, then the connections' nt_type, then the default */
  CHECK(cn.transmitter[DMN_L_PN][index_of(&cn, DMN_L_PN, 11)] == DMN_NT_GABA, "PN GABA from the table");
  CHECK(cn.transmitter[DMN_L_MBON][index_of(&cn, DMN_L_MBON, 30)] == DMN_NT_GLUT, "MBON GLUT from the table");
  CHECK(cn.transmitter[DMN_L_MBON][index_of(&cn, DMN_L_MBON, 31)] == DMN_NT_GABA, "MBON GABA voted by its connections");
  /* generated projections: glomerular ORN->PN (both antennae), dense MBON->DN */
  CHECK(po->synthetic && po->nnz == 4 && po->row_ptr[pn10 + 1] - po->row_ptr[pn10] == 2, "ORN_DA1 -> DA1_lPN, both antennae");
  CHECK(cn.proj[DMN_P_MBON_TO_DN].synthetic && cn.proj[DMN_P_MBON_TO_DN].nnz == 4, "dense MBON->DN");
  for (int r = 0; r < pk->n_post; r++)
    for (int k = pk->row_ptr[r] + 1; k < pk->row_ptr[r + 1]; k++) CHECK(pk->col[k - 1] < pk->col[k], "rows sorted");
  char *sum = connectome_summary(&cn);
  CHECK(strstr(sum, "pn_to_kc    data") && strstr(sum, "orn_to_pn   synthetic"), "summary labels data vs synthetic");
  free(sum);

  /* the packed image is a faithful copy */
  size_t n1, n2;
  void *b1 = connectome_pack(&cn, &n1);
  DmnConnectome cp;
  CHECK(connectome_unpack(b1, n1, &cp) == 0, "unpack");
  void *b2 = connectome_pack(&cp, &n2);
  CHECK(n1 == n2 && !memcmp(b1, b2, n1), "pack(unpack(pack)) identical (%zu vs %zu bytes)", n1, n2);
  DmnConnectome bad;
  int refused = connectome_unpack(b1, n1 / 2, &bad) != 0;
  CHECK(refused, "a truncated image is refused");
  if (!refused) connectome_free(&bad);
  free(b1);
  free(b2);
  connectome_free(&cp);
  connectome_free(&cn);

  /* options: neuropil filter, minimum synapse count, hemisphere, data ORN->PN */
  snprintf(c.connectome_neuropil, sizeof c.connectome_neuropil, "MB_CA_R");
  CHECK(connectome_build(&c, &cn, err) == 0, "%s", err);
  q = find_syn(&cn.proj[DMN_P_PN_TO_KC], index_of(&cn, DMN_L_KC, 20), index_of(&cn, DMN_L_PN, 10));
  CHECK(q >= 0 && cn.proj[DMN_P_PN_TO_KC].count[q] == 5.0f && cn.proj[DMN_P_KC_TO_MBON].nnz == 0, "neuropil filter keeps MB_CA_R only");
  connectome_free(&cn);
  c.connectome_neuropil[0] = 0;
  c.connectome_min_synapses = 2;
  CHECK(connectome_build(&c, &cn, err) == 0, "%s", err);
  CHECK(cn.proj[DMN_P_KC_TO_MBON].nnz == 3 && strstr(cn.notes, "1 neuron pairs below connectome.min_synapses"), "min_synapses drops 21->30");
  connectome_free(&cn);
  c.connectome_min_synapses = 1;
  c.connectome_hemisphere = DMN_HEMI_RIGHT;
  CHECK(connectome_build(&c, &cn, err) == 0, "%s", err);
  CHECK(cn.n[DMN_L_MBON] == 1 && cn.n[DMN_L_DN] == 1 && cn.n[DMN_L_ORN] == 4, "hemisphere right keeps both antennae");
  connectome_free(&cn);
}

static void test_codex_format(void) {
  const char *dir = sub("codex");
  write_file(dir, "classification.csv.gz",
             "root_id,flow,super_class,class,sub_class,cell_type,hemibrain_type,hemilineage,side,nerve\n"
             "101,afferent,sensory,olfactory,,,,,left,AN\n"
             "102,afferent,sensory,olfactory,,,,,right,AN\n"
             "110,intrinsic,central,ALPN,uniglomerular,,DA1_lPN,,right,\n"
             "120,intrinsic,central,Kenyon_Cell,,,,,right,\n"
             "121,intrinsic,central,Kenyon_Cell,,,,,right,\n"
             "130,intrinsic,central,MBON,,,,,right,\n"
             "140,efferent,descending,,,,,,right,\n"
             "150,intrinsic,central,LHLN,,,,,right,\n");
  write_file(dir, "consolidated_cell_types.csv.gz",
             "root_id,primary_type,additional_type(s)\n101,ORN_DA1,\n102,ORN_DA1,\n110,DA1_lPN,\n120,KCg-m,\n121,KCab,\n130,MBON05,\n140,DNa02,\n"
             "150,LHLN1,\n777,unknown,\n");
  write_file(dir, "connections_princeton.csv.gz",
             "pre_root_id,post_root_id,neuropil,syn_count,nt_type\n"
             "101,110,AL_R,20,ACH\n102,110,AL_R,30,ACH\n102,110,AL_L,2,ACH\n"
             "110,120,MB_CA_R,6,ACH\n110,121,MB_CA_R,5,ACH\n"
             "120,130,MB_ML_R,10,GLUT\n120,130,MB_VL_R,4,GLUT\n121,130,MB_PED_R,3,ACH\n"
             "110,150,LH_R,40,ACH\n");
  DmnConfig c;
  base_config(&c, DMN_SOURCE_CODEX, dir);
  snprintf(c.connectome_orn, sizeof c.connectome_orn, "class=olfactory");
  snprintf(c.connectome_pn, sizeof c.connectome_pn, "class=ALPN");
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "class=Kenyon_Cell");
  snprintf(c.connectome_mbon, sizeof c.connectome_mbon, "class=MBON");
  snprintf(c.connectome_dn, sizeof c.connectome_dn, "super_class=descending");
  c.connectome_orn_to_pn = 1; /* data */
  DmnConnectome cn;
  char err[DMN_ERR_MAX] = "";
  int rc = connectome_build(&c, &cn, err);
  CHECK(rc == 0, "codex load: %s", err);
  if (rc) return;
  CHECK(cn.n[DMN_L_ORN] == 2 && cn.n[DMN_L_PN] == 1 && cn.n[DMN_L_KC] == 2 && cn.n[DMN_L_MBON] == 1 && cn.n[DMN_L_DN] == 1, "codex layers");
  CHECK(!strcmp(connectome_type(&cn, DMN_L_KC, 0), "KCab") && !strcmp(connectome_type(&cn, DMN_L_DN, 0), "DNa02"), "primary_type is the cell type");
  const DmnProjection *po = &cn.proj[DMN_P_ORN_TO_PN];
  CHECK(!po->synthetic && po->nnz == 2 && po->count[0] + po->count[1] == 52.0f, "ORN->PN from data, neuropils summed (%d)", po->nnz);
  const DmnProjection *pm = &cn.proj[DMN_P_KC_TO_MBON];
  int q = find_syn(pm, 0, index_of(&cn, DMN_L_KC, 120));
  CHECK(q >= 0 && pm->count[q] == 14.0f, "KC->MBON summed over MB_ML_R + MB_VL_R");
  CHECK(cn.transmitter[DMN_L_KC][index_of(&cn, DMN_L_KC, 120)] == DMN_NT_GLUT, "per-connection nt_type votes the KC's transmitter");
  CHECK(strstr(cn.notes, "1 rows name neurons absent from the first neuron table"), "unknown id in the type table counted: %s", cn.notes);
  connectome_free(&cn);
}

static void test_hemibrain_format(void) {
  const char *dir = sub("hb");
  write_file(dir, "neurons.csv",
             "body_id,class,cell_type,instance,side\n1,PN,DA1_lPN,DA1_lPN_R,right\n2,PN,VA1v_adPN,VA1v_adPN_R,right\n"
             "3,KC,KCg-m,KCg-m_R,right\n4,MBON,MBON01,MBON01(y5b'2a)_R,right\n");
  write_file(dir, "connections.csv",
             "pre_body_id,post_body_id,roi,weight\n1,3,CA(R),4\n2,3,CA(R),2\n3,4,gL(R),7\n3,4,b'2(R),5\n");
  DmnConfig c;
  base_config(&c, DMN_SOURCE_HEMIBRAIN, dir);
  snprintf(c.connectome_orn, sizeof c.connectome_orn, "synthetic");
  snprintf(c.connectome_dn, sizeof c.connectome_dn, "synthetic");
  c.circuit_n_dn = 3;
  snprintf(c.connectome_neuropil, sizeof c.connectome_neuropil, "*(R)");
  DmnConnectome cn;
  char err[DMN_ERR_MAX] = "";
  int rc = connectome_build(&c, &cn, err);
  CHECK(rc == 0, "hemibrain load: %s", err);
  if (rc) return;
  CHECK(cn.n[DMN_L_ORN] == 4 && cn.n[DMN_L_DN] == 3 && cn.proj[DMN_P_KC_TO_MBON].count[0] == 12.0f, "synthetic ORNs/DNs, ROIs summed");
  CHECK(!strcmp(connectome_type(&cn, DMN_L_ORN, 0), "ORN_DA1") && cn.proj[DMN_P_ORN_TO_PN].nnz == 4, "one ORN per antenna per glomerulus");
  connectome_free(&cn);
}

static void test_errors(void) {
  const char *dir = sub("bad");
  DmnConfig c;
  base_config(&c, DMN_SOURCE_FLYWIRE, sub("nowhere"));
  expect_error(&c, "data directory", "missing data directory");
  base_config(&c, DMN_SOURCE_FLYWIRE, dir);
  write_file(dir, "connections.csv", CONNECTIONS);
  expect_error(&c, "neurons.csv: neuron table not found", "missing neuron table");
  write_file(dir, "neurons.csv", NEURONS);
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,neuropil\n10,20,MB\n");
  expect_error(&c, "missing column 'syn_count/weight/synapse_weight/count' (header: pre_root_id,post_root_id,neuropil)", "missing column");
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,syn_count\n10,20,5\n10,21,abc\n");
  expect_error(&c, "connections.csv:3: column 'syn_count': expected a number, got 'abc'", "bad number");
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,syn_count\n10,20x,5\n");
  expect_error(&c, "connections.csv:2: column 'post_root_id': expected an integer, got '20x'", "bad id");
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,syn_count\n10,20,5,7\n");
  expect_error(&c, "connections.csv:2: 4 fields, the header has 3", "extra field");
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,syn_count\n10,20,\"5\n");
  expect_error(&c, "unterminated quoted field", "unterminated quote");
  write_file(dir, "connections.csv", "pre_root_id,post_root_id,syn_count\n10,20,-5\n");
  expect_error(&c, "negative synapse count", "negative count");
  write_file(dir, "connections.csv", CONNECTIONS);
  write_file(dir, "neurons.csv", "root_id,class,cell_type,side\n1,ORN,ORN_DA1,left\n1,PN,DA1_lPN,right\n");
  expect_error(&c, "neurons.csv:3: duplicate neuron id 1", "duplicate neuron id");
  write_file(dir, "neurons.csv", NEURONS);
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "class=KCX");
  expect_error(&c, "connectome.kc: selector 'class=KCX' matches no neuron", "empty selector");
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "klass=KC");
  expect_error(&c, "connectome.kc: selector 'klass=KC' uses column 'klass'", "unknown selector column");
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "class=KC,PN");
  expect_error(&c, "is selected by both connectome.pn and connectome.kc", "overlapping selectors");
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "class=KC");
  /* a corrupt gzip file (valid header, garbage after it) */
  char path[600];
  snprintf(path, sizeof path, "%s/connections.csv", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/connections.csv.gz", dir);
  FILE *f = fopen(path, "wb");
  const unsigned char junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  fwrite(junk, 1, sizeof junk, f);
  fclose(f);
  expect_error(&c, "connections.csv.gz:1: read error (truncated or corrupt gzip file?)", "corrupt gzip");
}

/* Lesions on the synthetic circuit: exact counts, seeds, degrees. */
static void small(DmnConfig *c) { fixture_tiny(c); }

static int parse(DmnConfig *c, const char *yaml) {
  char err[DMN_ERR_MAX];
  int rc = config_parse_text(c, yaml, strlen(yaml), "(test)", err);
  CHECK(rc == 0, "lesion yaml: %s", err);
  return rc;
}

static void test_lesions(void) {
  DmnConfig c;
  DmnConnectome a, b, intact;
  char err[DMN_ERR_MAX] = "";
  small(&c);
  CHECK(connectome_build(&c, &intact, err) == 0, "%s", err);

  /* ablate two KCs: 3 claws + 3 same-side MBON outputs + KC->APL and APL->KC each */
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: KC, select: \"id=3,5\"}\n");
  CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
  CHECK(a.n_lesions == 1 && a.lesions[0].n_neurons == 2 && a.lesions[0].synapses_removed == 16, "ablate: 2 KCs, 16 synapses (got %d, %ld)",
        a.lesions[0].n_neurons, a.lesions[0].synapses_removed);
  CHECK(a.apl && !a.apl[3] && !a.apl[5] && a.apl[4] && connectome_apl_kcs(&a) == a.n[DMN_L_KC] - 2, "ablated KCs lose their APL synapses");
  CHECK(a.silenced[DMN_L_KC] && a.silenced[DMN_L_KC][3] && a.silenced[DMN_L_KC][5] && !a.silenced[DMN_L_KC][4], "ablated KCs are silenced");
  CHECK(connectome_alive(&a.proj[DMN_P_PN_TO_KC]) == intact.proj[DMN_P_PN_TO_KC].nnz - 6, "6 claws removed");
  connectome_free(&a);

  /* the APL: one side ablated (its KCs lose both APL synapses), the packed
   * image carries the mask, a bad selector and an APL-less circuit say so */
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: APL, select: side=left}\n");
  CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
  {
    int left_wired = 0, right_wired = 0;
    for (int k = 0; k < a.n[DMN_L_KC]; k++) *(a.side[DMN_L_KC][k] == 0 ? &left_wired : &right_wired) += a.apl[k];
    CHECK(left_wired == 0 && right_wired == a.n[DMN_L_KC] / 2 && a.lesions[0].n_neurons == 1 && a.lesions[0].synapses_removed == a.n[DMN_L_KC],
          "ablate APL side=left: left KCs unwired (%d), right kept (%d), %ld synapses", left_wired, right_wired, a.lesions[0].synapses_removed);
    size_t nb;
    void *buf = connectome_pack(&a, &nb);
    CHECK(connectome_unpack(buf, nb, &b) == 0 && b.apl && !memcmp(a.apl, b.apl, (size_t)a.n[DMN_L_KC]), "the packed image carries the APL mask");
    free(buf);
    connectome_free(&b);
  }
  connectome_free(&a);
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: APL, select: side=middle}\n");
  CHECK(connectome_build(&c, &a, err) != 0 && strstr(err, "matches no APL"), "an APL selector that matches nothing: %s", err);
  small(&c);
  c.circuit_apl = 0;
  parse(&c, "lesions:\n  - {kind: silence, layer: APL, select: all}\n");
  CHECK(connectome_build(&c, &a, err) != 0 && strstr(err, "has no APL"), "an APL lesion without APL: %s", err);

  /* silence by type and side: nothing removed, flags set */
  small(&c);
  parse(&c, "lesions:\n  - {kind: silence, layer: MBON, select: \"side=left cell_type=MBON00,MBON01\"}\n");
  CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
  CHECK(a.lesions[0].n_neurons == 2 && a.lesions[0].synapses_removed == 0 && a.silenced[DMN_L_MBON][0] && a.silenced[DMN_L_MBON][1] &&
            !a.silenced[DMN_L_MBON][3],
        "silence 2 left MBONs");
  for (int q = 0; q < DMN_NPROJ; q++) CHECK(connectome_alive(&a.proj[q]) == a.proj[q].nnz, "silence removes no synapse");
  connectome_free(&a);

  /* drop: exactly round(fraction x alive), seeded */
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: KC, select: id=0}\n  - {kind: drop, projection: pn_to_kc, fraction: 0.3, seed: 7}\n");
  CHECK(connectome_build(&c, &a, err) == 0 && connectome_build(&c, &b, err) == 0, "%s", err);
  long alive_before = intact.proj[DMN_P_PN_TO_KC].nnz - 3, expect = lround(0.3 * alive_before);
  CHECK(a.lesions[1].synapses_removed == expect && connectome_alive(&a.proj[DMN_P_PN_TO_KC]) == alive_before - expect,
        "drop removed %ld of %ld alive, expected %ld", a.lesions[1].synapses_removed, alive_before, expect);
  CHECK(!memcmp(a.proj[DMN_P_PN_TO_KC].alive, b.proj[DMN_P_PN_TO_KC].alive, (size_t)a.proj[DMN_P_PN_TO_KC].nnz), "same seed, same synapses");
  connectome_free(&b);
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: KC, select: id=0}\n  - {kind: drop, projection: pn_to_kc, fraction: 0.3, seed: 8}\n");
  CHECK(connectome_build(&c, &b, err) == 0, "%s", err);
  CHECK(memcmp(a.proj[DMN_P_PN_TO_KC].alive, b.proj[DMN_P_PN_TO_KC].alive, (size_t)a.proj[DMN_P_PN_TO_KC].nnz) != 0, "another seed, other synapses");
  connectome_free(&a);
  connectome_free(&b);

  /* shuffle: every in- and out-degree kept, no double synapse, sorted rows, seeded */
  small(&c);
  c.circuit_n_orn = c.circuit_n_pn = 40; /* room to rewire: 20 PNs per side */
  c.circuit_kc_claws = 5;
  parse(&c, "lesions:\n  - {kind: drop, projection: pn_to_kc, fraction: 0.1, seed: 1}\n  - {kind: shuffle, projection: pn_to_kc, seed: 3}\n");
  DmnConfig c0 = c;
  c0.n_lesions = 1;
  CHECK(connectome_build(&c0, &b, err) == 0 && connectome_build(&c, &a, err) == 0, "%s", err);
  const DmnProjection *pa = &a.proj[DMN_P_PN_TO_KC], *pb = &b.proj[DMN_P_PN_TO_KC];
  int in_ok = 1, out_ok = 1, dup = 0, sorted = 1, changed = 0;
  int *oa = calloc((size_t)pa->n_pre, sizeof(int)), *ob = calloc((size_t)pa->n_pre, sizeof(int));
  for (int i = 0; i < pa->n_post; i++) {
    int da = 0, db = 0;
    for (int k = pa->row_ptr[i]; k < pa->row_ptr[i + 1]; k++) {
      da += pa->alive[k];
      db += pb->alive[k];
      if (pa->alive[k]) oa[pa->col[k]]++;
      if (pb->alive[k]) ob[pb->col[k]]++;
      if (k > pa->row_ptr[i]) {
        dup += pa->col[k] == pa->col[k - 1];
        sorted &= pa->col[k] >= pa->col[k - 1];
      }
      changed += pa->col[k] != pb->col[k];
    }
    in_ok &= da == db;
  }
  for (int j = 0; j < pa->n_pre; j++) out_ok &= oa[j] == ob[j];
  CHECK(in_ok && out_ok && !dup && sorted && changed > 0, "shuffle: in %d out %d dup %d sorted %d changed %d", in_ok, out_ok, dup, sorted, changed);
  CHECK(a.lesions[1].synapses_removed > 0, "shuffle reports rewired synapses");
  free(oa);
  free(ob);
  connectome_free(&b);
  CHECK(connectome_build(&c, &b, err) == 0, "%s", err);
  CHECK(!memcmp(a.proj[DMN_P_PN_TO_KC].col, b.proj[DMN_P_PN_TO_KC].col, sizeof(int) * (size_t)pa->nnz), "shuffle reproducible");
  connectome_free(&a);
  connectome_free(&b);

  /* randomize: in-degrees kept, presynaptic partners from the whole layer
   * (both sides here: the synthetic PN->KC wiring is within a side), no
   * double synapse, sorted rows, seeded */
  small(&c);
  c.circuit_n_orn = c.circuit_n_pn = 40;
  c.circuit_kc_claws = 5;
  parse(&c, "lesions:\n  - {kind: randomize, projection: pn_to_kc, seed: 3}\n");
  {
    DmnConfig c1 = c;
    c1.n_lesions = 0;
    CHECK(connectome_build(&c1, &b, err) == 0 && connectome_build(&c, &a, err) == 0, "%s", err);
    const DmnProjection *ra = &a.proj[DMN_P_PN_TO_KC], *rb = &b.proj[DMN_P_PN_TO_KC];
    int rin = 1, rdup = 0, rsorted = 1, cross = 0;
    for (int i = 0; i < ra->n_post; i++) {
      rin &= ra->row_ptr[i + 1] - ra->row_ptr[i] == rb->row_ptr[i + 1] - rb->row_ptr[i];
      for (int k = ra->row_ptr[i]; k < ra->row_ptr[i + 1]; k++) {
        cross += a.side[DMN_L_PN][ra->col[k]] != a.side[DMN_L_KC][i];
        if (k > ra->row_ptr[i]) rdup += ra->col[k] == ra->col[k - 1], rsorted &= ra->col[k] >= ra->col[k - 1];
      }
    }
    CHECK(rin && !rdup && rsorted && cross > ra->nnz / 4 && a.lesions[0].synapses_removed > ra->nnz / 2,
          "randomize: in-degrees %d dup %d sorted %d cross-side %d of %d, rewired %ld", rin, rdup, rsorted, cross, ra->nnz,
          a.lesions[0].synapses_removed);
    connectome_free(&b);
    CHECK(connectome_build(&c, &b, err) == 0 && !memcmp(a.proj[DMN_P_PN_TO_KC].col, b.proj[DMN_P_PN_TO_KC].col, sizeof(int) * (size_t)ra->nnz),
          "randomize reproducible");
    connectome_free(&a);
    connectome_free(&b);
  }
  /* ablate a random fraction of the selected neurons: that many, all from the selection, seeded */
  small(&c);
  parse(&c, "lesions:\n  - {kind: ablate, layer: KC, select: side=left, fraction: 0.5, seed: 2}\n");
  {
    CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
    int n_left = 0, n_sil = 0, wrong = 0;
    for (int i = 0; i < a.n[DMN_L_KC]; i++) {
      n_left += a.side[DMN_L_KC][i] == 0;
      n_sil += a.silenced[DMN_L_KC][i];
      wrong += a.silenced[DMN_L_KC][i] && a.side[DMN_L_KC][i] != 0;
    }
    CHECK(a.lesions[0].n_neurons == n_left / 2 && n_sil == n_left / 2 && !wrong, "ablate fraction: %d of %d left KCs (%d silenced, %d wrong side)",
          a.lesions[0].n_neurons, n_left, n_sil, wrong);
    CHECK(connectome_build(&c, &b, err) == 0 && !memcmp(a.silenced[DMN_L_KC], b.silenced[DMN_L_KC], (size_t)a.n[DMN_L_KC]), "ablate fraction reproducible");
    connectome_free(&a);
    connectome_free(&b);
    small(&c);
    const char *apl = "lesions:\n  - {kind: ablate, layer: APL, select: all, fraction: 0.5}\n";
    CHECK(config_parse_text(&c, apl, strlen(apl), "(test)", err) != 0 && strstr(err, "(test):2:5: lesion 0 (ablate APL) takes no 'fraction'"),
          "APL fraction refused: %s", err);
  }

  /* scale multiplies; a selector matching nothing is an error naming the lesion */
  small(&c);
  parse(&c, "lesions:\n  - {kind: scale, projection: mbon_to_dn, factor: 0.5}\n  - {kind: scale, projection: mbon_to_dn, factor: 0.5}\n");
  CHECK(connectome_build(&c, &a, err) == 0 && a.proj[DMN_P_MBON_TO_DN].scale == 0.25, "scales multiply");
  connectome_free(&a);
  small(&c);
  parse(&c, "lesions:\n  - {name: gone, kind: ablate, layer: DN, select: \"cell_type=DNx*\"}\n");
  CHECK(connectome_build(&c, &a, err) != 0 && strstr(err, "lesion 'gone' (lesions[0], config line 2): select 'cell_type=DNx*' matches no DN neuron"),
        "empty lesion selector: %s", err);
  /* a dense projection has only one wiring with these degrees: shuffled, it is unchanged */
  small(&c);
  parse(&c, "lesions:\n  - {kind: shuffle, projection: mbon_to_dn}\n");
  CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
  CHECK(a.lesions[0].synapses_removed == 0 &&
            !memcmp(a.proj[DMN_P_MBON_TO_DN].col, intact.proj[DMN_P_MBON_TO_DN].col, sizeof(int) * (size_t)intact.proj[DMN_P_MBON_TO_DN].nnz),
        "dense shuffle: nothing to rewire (%ld)", a.lesions[0].synapses_removed);
  connectome_free(&a);
  /* synthetic claws with a spread: every KC within kc_claws +- spread, distinct PNs of its side */
  small(&c);
  c.circuit_n_orn = c.circuit_n_pn = 40;
  c.circuit_kc_claws = 5;
  c.circuit_kc_claws_spread = 4;
  CHECK(connectome_build(&c, &a, err) == 0, "%s", err);
  int lo = 99, hi = 0, ok = 1;
  const DmnProjection *ps = &a.proj[DMN_P_PN_TO_KC];
  for (int i = 0; i < ps->n_post; i++) {
    int d = ps->row_ptr[i + 1] - ps->row_ptr[i];
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    for (int k = ps->row_ptr[i]; k < ps->row_ptr[i + 1]; k++) {
      ok &= a.side[DMN_L_PN][ps->col[k]] == a.side[DMN_L_KC][i];
      if (k > ps->row_ptr[i]) ok &= ps->col[k] > ps->col[k - 1];
    }
  }
  CHECK(lo >= 1 && hi <= 9 && hi > lo && ok, "claws in [%d, %d], same side, distinct", lo, hi);
  connectome_free(&a);
  connectome_free(&intact);
}

/* Real data, when present: exact counts (the data's README). */
static void test_real(const char *shared) {
  char dir[600];
  struct stat st;
  snprintf(dir, sizeof dir, "%s/fixture", shared);
  if (stat(dir, &st)) {
    printf("SKIP real connectome tests: %s not found (public data is not part of the repository)\n", dir);
    return;
  }
  DmnConfig c;
  DmnConnectome cn;
  char err[DMN_ERR_MAX] = "";
  base_config(&c, DMN_SOURCE_FLYWIRE, dir);
  CHECK(connectome_build(&c, &cn, err) == 0, "fixture: %s", err);
  CHECK(cn.n[DMN_L_ORN] == 60 && cn.n[DMN_L_PN] == 15 && cn.n[DMN_L_KC] == 200 && cn.n[DMN_L_MBON] == 16 && cn.n[DMN_L_DN] == 12,
        "fixture layers %d %d %d %d %d", cn.n[0], cn.n[1], cn.n[2], cn.n[3], cn.n[4]);
  CHECK(cn.proj[DMN_P_PN_TO_KC].nnz == 403 && cn.proj[DMN_P_KC_TO_MBON].nnz == 1017, "fixture edges PN->KC %d KC->MBON %d",
        cn.proj[DMN_P_PN_TO_KC].nnz, cn.proj[DMN_P_KC_TO_MBON].nnz);
  CHECK(cn.n_channels == 6, "fixture: 6 glomeruli");
  connectome_free(&cn);

  snprintf(dir, sizeof dir, "%s/flywire_v783", shared);
  if (stat(dir, &st)) {
    printf("SKIP full FlyWire tests: %s not found\n", dir);
    return;
  }
  base_config(&c, DMN_SOURCE_FLYWIRE, dir);
  double t0 = util_wtime();
  CHECK(connectome_build(&c, &cn, err) == 0, "flywire_v783: %s", err);
  printf("  flywire_v783 loaded in %.3f s, peak RSS %.1f MB\n", util_wtime() - t0, util_peak_rss_mb());
  /* README counts: ORN 2,281 of which 30 have no side (no antenna) */
  CHECK(cn.n[DMN_L_ORN] == 2281 - 30 && cn.n[DMN_L_PN] == 685 && cn.n[DMN_L_KC] == 5177 && cn.n[DMN_L_MBON] == 96 && cn.n[DMN_L_DN] == 1303,
        "flywire layers %d %d %d %d %d", cn.n[0], cn.n[1], cn.n[2], cn.n[3], cn.n[4]);
  const DmnProjection *pk = &cn.proj[DMN_P_PN_TO_KC], *pm = &cn.proj[DMN_P_KC_TO_MBON];
  double sk = 0, sm = 0;
  for (int k = 0; k < pk->nnz; k++) sk += pk->count[k];
  for (int k = 0; k < pm->nnz; k++) sm += pm->count[k];
  CHECK(pk->nnz == 22177 && sk == 364078, "PN->KC 22,177 pairs / 364,078 synapses: %d / %.0f", pk->nnz, sk);
  CHECK(pm->nnz == 25932 && sm == 178068, "KC->MBON 25,932 pairs / 178,068 synapses: %d / %.0f", pm->nnz, sm);
  /* the median KC has 5 PN inputs (over the KCs the PNs reach) */
  int hist[64] = {0}, reached = 0;
  for (int i = 0; i < pk->n_post; i++) {
    int d = pk->row_ptr[i + 1] - pk->row_ptr[i];
    if (d) hist[d < 63 ? d : 63]++, reached++;
  }
  int med = 0;
  for (int acc = 0; med < 64; med++)
    if ((acc += hist[med]) * 2 >= reached) break;
  CHECK(reached == 4748 && med == 5, "PN inputs per KC: %d KCs reached, median %d", reached, med);
  connectome_free(&cn);
  /* the right mushroom body (configs/flywire_right.yaml's selectors): the
   * glomeruli without a right uniglomerular PN get no tuning channel, so no
   * concentration band is blind (0.7's fly stopped ~7 mm short at VM6) */
  base_config(&c, DMN_SOURCE_FLYWIRE, dir);
  snprintf(c.connectome_pn, sizeof c.connectome_pn, "class=PN sub_class=uniglomerular side=right");
  snprintf(c.connectome_kc, sizeof c.connectome_kc, "class=KC side=right");
  snprintf(c.connectome_dn, sizeof c.connectome_dn, "class=DN cell_type=DNa01,DNa02,DNa03,DNa04,DNa05");
  CHECK(connectome_build(&c, &cn, err) == 0, "flywire right: %s", err);
  int untuned = 0, vm6 = 0, tuned_without_pn = 0;
  for (int i = 0; i < cn.n[DMN_L_ORN]; i++) {
    const char *t = connectome_type(&cn, DMN_L_ORN, i);
    untuned += cn.orn_channel[i] < 0;
    vm6 += !strncmp(t, "ORN_VM6", 7) && cn.orn_channel[i] < 0;
    if (cn.orn_channel[i] >= 0) { /* a tuned ORN's glomerulus has a PN */
      int has = 0;
      for (int j = 0; j < cn.n[DMN_L_PN] && !has; j++) {
        const char *pt = connectome_type(&cn, DMN_L_PN, j);
        size_t gl = strcspn(pt, "_");
        has = strlen(t) == 4 + gl && !strncmp(t + 4, pt, gl);
      }
      tuned_without_pn += !has;
    }
  }
  CHECK(cn.n_channels == 50 && untuned == 82 && vm6 > 0 && vm6 < untuned && tuned_without_pn == 0,
        "flywire right: %d channels, %d untuned ORNs (%d of VM6), %d tuned ORNs without a PN", cn.n_channels, untuned, vm6, tuned_without_pn);
  connectome_free(&cn);
}

int main(int argc, char **argv) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/dmn_test_connectome_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_flywire_format();
  test_codex_format();
  test_hemibrain_format();
  test_errors();
  test_lesions();
  test_real(argc > 1 ? argv[1] : "configs/connectomes");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd)) printf("(could not remove %s)\n", tmpdir);
  return th_summary("test_connectome");
}
