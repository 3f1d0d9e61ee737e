/* The modules between the kernels and the loops (issue 20): optim (Adam
 * against its formula, gradient norms, clipping), loss (the rate terms and
 * their derivative against finite differences), model (the parameter
 * layout, initial weights at their config scales, Dale's signs in the
 * effective weights), io (a parameter file round trip, a corrupted dataset
 * named by its checksum, a newer format refused, the previous-checkpoint
 * name) and trainstate (history growth, evaluation summaries and their deep
 * copy).  Runs on one process (PETSc for the model's matrices). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fixture.h"
#include "../harness.h"
#include "config.h"
#include "io.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "trainstate.h"
#include "util.h"

/* The small circuit the checks share: the synthetic connectome, 200 KCs. */
static PetscErrorCode small_model(DmnModel *m, DmnParams *p) {
  PetscFunctionBeginUser;
  DmnConfig c;
  fixture_small(&c, 200, 100);
  char err[DMN_ERR_MAX];
  PetscCall(model_build(&c, NULL, m, err));
  params_alloc(m, p);
  model_init_params(m, p);
  PetscFunctionReturn(0);
}

static void test_optim(const DmnModel *m, const DmnParams *p0) {
  DmnParams p, g;
  params_alloc(m, &p);
  params_alloc(m, &g);
  params_copy(&p, p0);
  for (size_t i = 0; i < g.n; i++) g.data[i] = (i % 3 == 0 ? -1.0 : 0.5) * (1.0 + (double)(i % 7));
  DmnAdam a;
  optim_adam_init(m, &a);
  a.lr[DMN_G_theta] = 0.0; /* a frozen group */
  optim_adam_step(m, &a, &p, &g, 0.5);
  /* one step from zero moments: m = (1-b1) g, v = (1-b2) g^2, bias-corrected to g and g^2 */
  int exact = 1, frozen = 1;
  for (int k = 0; k < DMN_NGROUP; k++)
    for (size_t i = m->group_off[k]; i < m->group_off[k] + m->group_n[k]; i++) {
      const double gi = g.data[i], lr = a.lr[k] * 0.5;
      const double mh = ((1.0 - a.beta1) * gi) / (1.0 - a.beta1), vh = ((1.0 - a.beta2) * gi * gi) / (1.0 - a.beta2);
      const double want = lr > 0 ? p0->data[i] - lr * mh / (sqrt(vh) + a.eps) : p0->data[i];
      exact &= fabs(p.data[i] - want) <= 1e-12 * fmax(1.0, fabs(want));
      if (k == DMN_G_theta) frozen &= p.data[i] == p0->data[i];
    }
  CHECK(exact, "one Adam step from zero moments: p - lr_factor lr mhat / (sqrt(vhat) + eps) in every group");
  CHECK(frozen && a.step == 1, "a group with lr 0 stays put; the step counter moves");
  CHECK(a.m.data[5] == (1.0 - a.beta1) * g.data[5] && a.v.data[5] == (1.0 - a.beta2) * g.data[5] * g.data[5], "the moments after one step");

  double gn[DMN_NGROUP], sum = 0;
  const double norm = optim_grad_norms(m, &g, gn);
  int groups = 1;
  for (int k = 0; k < DMN_NGROUP; k++) {
    double s = 0;
    for (size_t i = m->group_off[k]; i < m->group_off[k] + m->group_n[k]; i++) s += g.data[i] * g.data[i];
    groups &= fabs(gn[k] - sqrt(s)) <= 1e-12 * fmax(1.0, sqrt(s));
    sum += s;
  }
  CHECK(groups, "per-group gradient norms = sqrt(sum g^2)");
  CHECK_CLOSE(norm, sqrt(sum), 1e-12, "global norm");
  for (size_t i = 0; i < g.n; i++) g.data[i] *= 1e200;
  CHECK(isfinite(optim_grad_norms(m, &g, gn)), "the norm of gradients near 1e200 does not overflow");
  for (size_t i = 0; i < g.n; i++) g.data[i] *= 1e-200;
  const double f = optim_clip(&g, norm, norm / 10);
  CHECK_CLOSE(f, 0.1, 1e-14, "clipping to a tenth of the norm scales by 0.1");
  CHECK_CLOSE(optim_grad_norms(m, &g, gn), norm / 10, 1e-12, "the clipped gradient has the clip norm");
  CHECK(optim_clip(&g, norm / 10, 0.0) == 1.0, "clip <= 0: off");
  optim_adam_free(&a);
  /* learning rates from the group table: train.lr_<group>, -1 = train.lr */
  DmnModel mm = *m;
  mm.cfg.train_lr = 0.02;
  mm.cfg.train_lr_kc_to_mbon = 0.123;
  mm.cfg.train_lr_theta = -1.0;
  mm.cfg.train_lr_motor_b = 0.0;
  double lr[DMN_NGROUP];
  optim_adam_rates(&mm, lr);
  CHECK(lr[DMN_G_kc_to_mbon] == 0.123 && lr[DMN_G_theta] == 0.02 && lr[DMN_G_motor_b] == 0.0, "per-group learning rates follow train.lr_<group>");
  params_free(&p);
  params_free(&g);
}

static double rate_loss(const DmnModel *m, const double *nu, double *d) {
  DmnLoss L;
  memset(&L, 0, sizeof L);
  loss_rate_terms(m, nu, &L, d);
  return L.sparse + L.rate + L.silent;
}

static void test_loss(DmnModel *m) {
  const int n = m->n_neuron;
  double *nu = malloc(sizeof(double) * (size_t)n), *d = malloc(sizeof(double) * (size_t)n), *d2 = malloc(sizeof(double) * (size_t)n);
  DmnConfig *c = &m->cfg;
  c->loss_w_sparse = 0.01;
  c->loss_w_rate = 0.001;
  c->loss_w_silent = 1.0;
  /* every neuron at 20 Hz except: one KC at 40 Hz (sparse and below max), the MBONs silent */
  for (int i = 0; i < n; i++) nu[i] = 20.0;
  const int kc0 = m->layer_off[DMN_L_KC], mb0 = m->layer_off[DMN_L_MBON], n_kc = m->n[DMN_L_KC], n_mb = m->n[DMN_L_MBON];
  nu[kc0 + 3] = 40.0;
  for (int i = 0; i < n_mb; i++) nu[mb0 + i] = 0.0;
  DmnLoss L;
  memset(&L, 0, sizeof L);
  loss_rate_terms(m, nu, &L, d);
  double sparse = 0;
  for (int i = 0; i < n_kc; i++) {
    const double e = nu[kc0 + i] - c->loss_kc_max_hz;
    if (e > 0) sparse += c->loss_w_sparse * e * e / n_kc;
  }
  CHECK_CLOSE(L.sparse, sparse, 1e-14, "KC sparseness term = w mean relu(nu - kc_max)^2");
  const double gap = c->loss_min_rate_mbon;
  CHECK_CLOSE(L.silent, gap > 0 ? c->loss_w_silent * gap * gap : 0.0, 1e-14, "silent MBONs: w (floor - mean)^2");
  /* the derivative against central differences, at rates away from the kinks */
  for (int i = 0; i < n; i++) nu[i] = 5.0 + 70.0 * (double)((i * 37) % 101) / 101.0 + 0.123;
  for (int i = 0; i < n_mb; i++) nu[mb0 + i] = 0.2 + 0.01 * i;
  rate_loss(m, nu, d);
  double worst = 0;
  const int probe[] = {0, kc0, kc0 + 7, kc0 + 150, mb0, mb0 + 5, n - 1};
  for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
    const int i = probe[k];
    const double h = 1e-4, x = nu[i];
    nu[i] = x + h;
    const double up = rate_loss(m, nu, d2);
    nu[i] = x - h;
    const double dn = rate_loss(m, nu, d2);
    nu[i] = x;
    const double fd = (up - dn) / (2 * h);
    worst = fmax(worst, fabs(fd - d[i]) / fmax(1e-8, fabs(fd)));
  }
  CHECK(worst < 1e-6, "dL/dnu of the rate terms against central differences (worst relative error %.2e)", worst);
  free(nu);
  free(d);
  free(d2);
}

static PetscErrorCode test_model(const DmnModel *m, const DmnParams *p) {
  PetscFunctionBeginUser;
  size_t total = 0;
  int contiguous = 1;
  for (int k = 0; k < DMN_NGROUP; k++) {
    contiguous &= m->group_off[k] == total;
    total += m->group_n[k];
  }
  CHECK(contiguous && total == m->n_params && p->n == m->n_params, "parameter groups tile the flat vector in table order");
  char name[64];
  params_locate(m, m->group_off[DMN_G_kc_to_mbon] + 3, name, sizeof name);
  CHECK(!strcmp(name, "kc_to_mbon[3]"), "params_locate names the group and index (%s)", name);
  DmnDerived d;
  memset(&d, 0, sizeof d);
  PetscCall(derived_create(m, &d));
  PetscCall(derived_update(m, p, &d));
  /* initial |w| of PN -> KC: init.pn_to_kc (1 +- jitter U): mean within 5 % */
  const DmnProjection *pk = &m->conn.proj[DMN_P_PN_TO_KC];
  double mean = 0;
  for (int k = 0; k < pk->nnz; k++) mean += fabs(d.w[DMN_P_PN_TO_KC][k]) / pk->nnz;
  CHECK(fabs(mean / m->cfg.init_pn_to_kc - 1.0) < 0.05, "mean initial |w| PN->KC %.3f mV at init.pn_to_kc %.1f", mean, m->cfg.init_pn_to_kc);
  /* Dale: MBON -> DN weights carry the sign of the MBON's transmitter */
  const DmnProjection *md = &m->conn.proj[DMN_P_MBON_TO_DN];
  int dale = 1, inhib = 0;
  for (int i = 0; i < md->n_post; i++)
    for (int k = md->row_ptr[i]; k < md->row_ptr[i + 1]; k++) {
      const double s = connectome_sign(&m->conn, DMN_L_MBON, md->col[k]), w = d.w[DMN_P_MBON_TO_DN][k];
      dale &= s * w > 0;
      inhib += s < 0;
    }
  CHECK(dale && inhib > 0, "every MBON->DN weight has its MBON's sign (%d inhibitory synapses)", inhib);
  int decays = 1;
  for (int i = 0; i < m->n_neuron; i++) decays &= d.a[i] == exp(-m->dt / (m->tau_min + util_softplus(p->rho[i])));
  CHECK(decays, "membrane decay a = exp(-dt / (tau_min + softplus(rho))) for every neuron");
  PetscCall(derived_destroy(&d));
  PetscFunctionReturn(0);
}

/* Flip one byte in the middle of dataset `name`'s raw data. */
static int flip(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), ds = H5Dopen2(f, name, H5P_DEFAULT);
  haddr_t off = H5Dget_offset(ds);
  hsize_t size = H5Dget_storage_size(ds);
  H5Dclose(ds);
  H5Fclose(f);
  FILE *fp = fopen(path, "r+b");
  if (!fp || off == HADDR_UNDEF) return 1;
  fseek(fp, (long)(off + size / 2), SEEK_SET);
  int b = fgetc(fp);
  fseek(fp, (long)(off + size / 2), SEEK_SET);
  fputc(b ^ 0x10, fp);
  fclose(fp);
  return 0;
}

static void test_io(const DmnModel *m, const DmnParams *p) {
  char path[] = "/tmp/dmn_test_state_XXXXXX", file[64], err[DMN_ERR_MAX] = "";
  if (!mkdtemp(path)) return;
  snprintf(file, sizeof file, "%s/params.h5", path);
  CHECK(io_write_params(file, m, p, NULL, 1.5, "a: 1\n", err) == 0, "io_write_params: %s", err);
  DmnParams q;
  params_alloc(m, &q);
  CHECK(io_read_params(file, m, &q, err) == 0 && !memcmp(p->data, q.data, sizeof(double) * p->n), "write + read: the same bits (%s)", err);
  CHECK(flip(file, "/params/pn_to_kc") == 0, "corrupting the file");
  CHECK(io_read_params(file, m, &q, err) == 1 && strstr(err, "'/params/pn_to_kc' fails its checksum"), "a flipped byte is named: %s", err);
  io_write_params(file, m, p, NULL, 1.5, "a: 1\n", err);
  hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  const double v = 99;
  H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  H5Fclose(f);
  CHECK(io_read_params(file, m, &q, err) == 1 && strstr(err, "file format 99"), "a newer format is refused by name: %s", err);
  char prev[128];
  io_prev_path("run/checkpoint.h5", prev, sizeof prev);
  CHECK(!strcmp(prev, "run/checkpoint.prev.h5"), "io_prev_path: %s", prev);
  io_prev_path("run/ckpt", prev, sizeof prev);
  CHECK(!strcmp(prev, "run/ckpt.prev"), "io_prev_path without .h5: %s", prev);
  CHECK(io_checkpoint_update(file) == -1, "a parameter file has no update attribute: -1");
  params_free(&q);
  unlink(file);
  rmdir(path);
}

static void test_trainstate(void) {
  DmnHistory h;
  memset(&h, 0, sizeof h);
  double row[DMN_NHCOL], gn[DMN_NGROUP] = {0};
  int ok = 1;
  for (long u = 0; u < 100; u++) {
    for (int k = 0; k < DMN_NHCOL; k++) row[k] = (double)(u * 100 + k);
    gn[2] = (double)u;
    history_push(&h, row, gn);
  }
  for (long u = 0; u < 100; u++) ok &= h.col[DMN_H_loss_nav][u] == (double)(u * 100 + DMN_H_loss_nav) && h.group_norm[u * DMN_NGROUP + 2] == (double)u;
  CHECK(ok && h.n == 100 && h.cap >= 100, "history keeps 100 pushed rows through its growth");
  CHECK(isnan(history_missing_value(DMN_H_val_success)) && history_missing_value(DMN_H_loss_end) == 0.0,
        "a column missing from an old checkpoint: NaN for validation, 0 for a loss term");
  history_free(&h);

  DmnEvalSummary s;
  memset(&s, 0, sizeof s);
  s.n = 4;
  s.final_distance = malloc(sizeof(double) * 4);
  s.mean_distance = calloc(4, sizeof(double));
  s.path_length = calloc(4, sizeof(double));
  const double fd[4] = {8.0, 1.0, 3.0, 20.0};
  memcpy(s.final_distance, fd, sizeof fd);
  eval_summary_finish(&s);
  CHECK(s.success_rate == 0.5 && s.median_final == 5.5 && s.mean_final_distance == 8.0, "summary: 2 of 4 under 5 mm, median 5.5, mean 8");
  DmnEvalSummary c;
  eval_summary_copy(&s, &c);
  s.final_distance[0] = -1;
  CHECK(c.final_distance[0] == 8.0 && c.median_final == 5.5 && c.kc_active == NULL, "eval_summary_copy is deep");
  eval_summary_free(&s);
  eval_summary_free(&c);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  DmnModel m;
  DmnParams p;
  PetscCall(small_model(&m, &p));
  test_optim(&m, &p);
  test_loss(&m);
  PetscCall(test_model(&m, &p));
  test_io(&m, &p);
  test_trainstate();
  params_free(&p);
  model_free(&m);
  int rc = th_summary("state");
  PetscCall(PetscFinalize());
  return rc;
}
