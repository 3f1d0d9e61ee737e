#include "evolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "par.h"

/* The config value each hyperparameter is relative to (scales: 1). */
static void hyper_base(const DmnConfig *c, double h[DMN_NHYPER]) {
  h[DMN_HY_lr_scale] = 1.0;
  h[DMN_HY_w_energy] = c->loss_w_energy;
  h[DMN_HY_w_sparse] = c->loss_w_sparse;
  h[DMN_HY_surrogate_beta] = c->circuit_surrogate_beta;
  h[DMN_HY_tau_scale] = 1.0;
}

static int hyper_mutates(const DmnConfig *c, int k) {
  char buf[DMN_STR_MAX];
  snprintf(buf, sizeof buf, "%s", c->evolution_mutate);
  for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
    if (!strcmp(tok, dmn_hyper_names[k])) return 1;
  return 0;
}

void genome_mutate_hyper(const DmnConfig *cfg, DmnGenome *g, DmnRng *r) {
  double base[DMN_NHYPER];
  hyper_base(cfg, base);
  const double range = cfg->evolution_hyper_range, sigma = cfg->evolution_mutation_sigma;
  for (int k = 0; k < DMN_NHYPER; k++) {
    double z = util_rng_normal(r); /* drawn for every hyperparameter: the stream does not depend on `mutate` */
    if (!hyper_mutates(cfg, k) || base[k] <= 0) continue;
    double x = g->hyper[k] * exp(sigma * z), lo = base[k] / range, hi = base[k] * range;
    g->hyper[k] = x < lo ? lo : (x > hi ? hi : x);
  }
}

void genome_founder(const DmnConfig *cfg, int k, DmnGenome *g) {
  memset(g, 0, sizeof(*g));
  g->id = k;
  g->parent = -1;
  g->lesioned = cfg->evolution_lesioned > 0 && k >= cfg->evolution_population - cfg->evolution_lesioned;
  hyper_base(cfg, g->hyper);
  if (k > 0) { /* founder 0 is the config itself, so P = 1 is plain training */
    DmnRng r = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_EVOLVE, 0, (uint64_t)k);
    genome_mutate_hyper(cfg, g, &r);
  }
}

void genome_config(const DmnConfig *base, const DmnGenome *g, DmnConfig *out) {
  *out = *base;
  const double s = g->hyper[DMN_HY_lr_scale];
  out->train_lr *= s;
  double *lr[] = {&out->train_lr_orn_gain, &out->train_lr_orn_to_pn, &out->train_lr_pn_to_kc, &out->train_lr_kc_to_mbon,
                  &out->train_lr_mbon_to_dn, &out->train_lr_pn_to_dn, &out->train_lr_kc_to_apl, &out->train_lr_apl_to_kc, &out->train_lr_rho, &out->train_lr_theta,
                  &out->train_lr_bias, &out->train_lr_motor_w, &out->train_lr_motor_b};
  for (size_t k = 0; k < sizeof lr / sizeof lr[0]; k++)
    if (*lr[k] > 0) *lr[k] *= s; /* -1 follows train.lr, 0 stays frozen */
  out->loss_w_energy = g->hyper[DMN_HY_w_energy];
  out->loss_w_sparse = g->hyper[DMN_HY_w_sparse];
  out->circuit_surrogate_beta = g->hyper[DMN_HY_surrogate_beta];
}

static int find_col(const DmnProjection *p, int row, int pre) {
  int lo = p->row_ptr[row], hi = p->row_ptr[row + 1] - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (p->col[mid] == pre) return mid;
    if (p->col[mid] < pre) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

static void swap_slots(DmnProjection *p, int a, int b, double **arr, int n_arr) {
  int c = p->col[a];
  p->col[a] = p->col[b], p->col[b] = c;
  uint8_t al = p->alive[a];
  p->alive[a] = p->alive[b], p->alive[b] = al;
  float n = p->count[a];
  p->count[a] = p->count[b], p->count[b] = n;
  for (int k = 0; k < n_arr; k++) {
    double x = arr[k][a];
    arr[k][a] = arr[k][b], arr[k][b] = x;
  }
}

int genome_apply_edit(DmnProjection *p, const DmnEdit *e, double **arr, int n_arr) {
  if (e->post < 0 || e->post >= p->n_post || e->new_pre < 0 || e->new_pre >= p->n_pre) return -1;
  int k = find_col(p, e->post, e->old_pre);
  if (k < 0 || find_col(p, e->post, e->new_pre) >= 0) return -1;
  p->col[k] = e->new_pre;
  p->count[k] = 1.0f; /* a grown synapse: no count from the data */
  /* one bubble pass keeps the row sorted (the rest of it already is) */
  const int a = p->row_ptr[e->post], b = p->row_ptr[e->post + 1];
  while (k + 1 < b && p->col[k + 1] < p->col[k]) swap_slots(p, k, k + 1, arr, n_arr), k++;
  while (k - 1 >= a && p->col[k - 1] > p->col[k]) swap_slots(p, k, k - 1, arr, n_arr), k--;
  return k;
}

void genome_connectome(const DmnConnectome *const base[2], const DmnGenome *g, DmnConnectome *out) {
  connectome_copy(base[g->lesioned && base[1] ? 1 : 0], out);
  int touched[DMN_NPROJ] = {0};
  for (long i = 0; i < g->n_edits; i++) {
    const DmnEdit *e = &g->edits[i];
    if (e->proj >= 0 && e->proj < DMN_NPROJ && genome_apply_edit(&out->proj[e->proj], e, NULL, 0) >= 0) touched[e->proj] = 1;
  }
  for (int q = 0; q < DMN_NPROJ; q++)
    if (touched[q]) connectome_index_projection(&out->proj[q]);
}

long genome_rewire(DmnConnectome *c, int proj, double fraction, DmnRng *r, DmnGenome *g, double **arr, int n_arr, double u_new) {
  DmnProjection *p = &c->proj[proj];
  long alive = connectome_alive(p);
  long want = (long)floor(fraction * (double)alive + 0.5);
  if (want <= 0 || alive == 0) return 0;
  /* presynaptic candidates by side (silenced / ablated neurons never gain synapses) */
  const int n_pre = p->n_pre;
  int *by_side = malloc(sizeof(int) * ((size_t)n_pre + 1)), n_side[3] = {0}, start[3];
  for (int j = 0; j < n_pre; j++)
    if (!(c->silenced[p->pre] && c->silenced[p->pre][j])) n_side[c->side[p->pre][j] + 1]++;
  start[0] = 0, start[1] = n_side[0], start[2] = n_side[0] + n_side[1];
  int fill[3] = {start[0], start[1], start[2]};
  for (int j = 0; j < n_pre; j++)
    if (!(c->silenced[p->pre] && c->silenced[p->pre][j])) by_side[fill[c->side[p->pre][j] + 1]++] = j;
  const int n_cand_all = n_side[0] + n_side[1] + n_side[2];
  long made = 0;
  for (long tries = 0; made < want && tries < 4 * want + 16; tries++) {
    int k = (int)util_rng_below(r, (uint64_t)p->nnz);
    if (!p->alive[k]) continue; /* lesioned synapses stay lesioned */
    int post = p->row_of[k], s = c->side[p->post][post];
    int new_pre = -1;
    /* a presynaptic neuron of the postsynaptic side not yet connected */
    const int *cand = s >= 0 ? by_side + start[s + 1] : by_side;
    int nc = s >= 0 ? n_side[s + 1] : n_cand_all;
    for (int t = 0; t < 32 && nc > 0 && new_pre < 0; t++) {
      int j = cand[util_rng_below(r, (uint64_t)nc)];
      if (find_col(p, post, j) < 0) new_pre = j;
    }
    if (new_pre < 0 && proj == DMN_P_KC_TO_MBON) /* the MBON already has its side's KCs (synthetic circuit) */
      for (int t = 0; t < 32 && n_cand_all > 0 && new_pre < 0; t++) {
        int j = by_side[util_rng_below(r, (uint64_t)n_cand_all)];
        if (find_col(p, post, j) < 0) new_pre = j;
      }
    if (new_pre < 0) continue;
    DmnEdit e = {proj, post, p->col[k], new_pre};
    int at = genome_apply_edit(p, &e, arr, n_arr);
    if (at < 0) continue;
    if (n_arr > 0) arr[0][at] = u_new;
    for (int a = 1; a < n_arr; a++) arr[a][at] = 0.0;
    /* row_of is unchanged by a move inside a row; the transpose index is rebuilt below */
    genome_push_edit(g, e);
    made++;
  }
  connectome_index_projection(p);
  free(by_side);
  return made;
}

/* Bytes: id, parent, lesioned, made_pn_kc, made_kc_mbon, n_edits (int64),
 * hyper (double), edits (int32 x 4). */
void *genome_pack(const DmnGenome *g, size_t *n) {
  *n = 6 * sizeof(int64_t) + DMN_NHYPER * sizeof(double) + (size_t)g->n_edits * sizeof(DmnEdit);
  char *b = malloc(*n);
  int64_t h[6] = {g->id, g->parent, g->lesioned, g->made_pn_kc, g->made_kc_mbon, g->n_edits};
  memcpy(b, h, sizeof h);
  memcpy(b + sizeof h, g->hyper, sizeof g->hyper);
  if (g->n_edits) memcpy(b + sizeof h + sizeof g->hyper, g->edits, (size_t)g->n_edits * sizeof(DmnEdit));
  return b;
}

void genome_unpack(const void *buf, DmnGenome *g) {
  const char *b = buf;
  int64_t h[6];
  memcpy(h, b, sizeof h);
  g->id = h[0], g->parent = h[1], g->lesioned = (int)h[2], g->made_pn_kc = h[3], g->made_kc_mbon = h[4];
  memcpy(g->hyper, b + sizeof h, sizeof g->hyper);
  g->n_edits = 0;
  if (g->cap < h[5]) {
    g->cap = h[5];
    g->edits = realloc(g->edits, sizeof(DmnEdit) * (size_t)g->cap);
  }
  if (h[5]) memcpy(g->edits, b + sizeof h + sizeof g->hyper, (size_t)h[5] * sizeof(DmnEdit));
  g->n_edits = h[5];
}

/* ---- one individual: model, parameters, optimiser ------------------------------ */

typedef struct Individual {
  DmnModel m;
  DmnParams p;
  DmnAdam adam;
  DmnTrainState st;
  DmnTrainer tr;
} Individual;

static PetscErrorCode individual_model(const DmnConfig *cfg, const DmnConnectome *const base[2], const DmnGenome *g, DmnModel *m, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  DmnConfig ci;
  DmnConnectome conn;
  genome_config(cfg, g, &ci);
  genome_connectome(base, g, &conn);
  PetscErrorCode rc = model_build(&ci, &conn, m, err);
  connectome_free(&conn);
  PetscCall(rc);
  PetscFunctionReturn(0);
}

/* Multiply every neuron's tau - tau_min by f (the tau_scale hyperparameter). */
static void scale_tau(const DmnModel *m, DmnParams *p, double f) {
  for (int i = 0; i < m->n_neuron; i++) {
    double excess = util_softplus(p->rho[i]) * f;
    p->rho[i] = util_softplus_inv(excess > 1e-3 ? excess : 1e-3);
  }
}

/* Parameters, both Adam moments and the step in one buffer for the copy. */
static void pack_state(const Individual *ind, double *buf) {
  size_t n = ind->p.n;
  memcpy(buf, ind->p.data, sizeof(double) * n);
  memcpy(buf + n, ind->adam.m.data, sizeof(double) * n);
  memcpy(buf + 2 * n, ind->adam.v.data, sizeof(double) * n);
  buf[3 * n] = (double)ind->adam.step;
}

static void unpack_state(Individual *ind, const double *buf) {
  size_t n = ind->p.n;
  memcpy(ind->p.data, buf, sizeof(double) * n);
  memcpy(ind->adam.m.data, buf + n, sizeof(double) * n);
  memcpy(ind->adam.v.data, buf + 2 * n, sizeof(double) * n);
  ind->adam.step = (long)buf[3 * n];
}

/* Fitness of the individual on generation gen's fitness episodes (group-collective). */
static PetscErrorCode fitness_eval(const DmnConfig *cfg, const DmnGenome *g, Individual *ind, MPI_Comm gc, long gen, double out[4],
                                   int *failed) {
  PetscFunctionBeginUser;
  DmnEvalSummary s;
  PetscCall(train_evaluate_set(&ind->m, &ind->p, gc, DMN_STREAM_FITNESS, gen, (int)cfg->evolution_fitness_episodes, &s, NULL, 0,
                               &ind->tr.t, &ind->tr.w, failed));
  if (*failed) PetscFunctionReturn(0);
  /* the loss with the config's weights: an individual must not win by
   * turning its own loss weights down (the weights do not act on the forward pass) */
  double loss = 0;
  for (int e = 0; e < s.n; e++) {
    const double *t = s.loss_term + (size_t)e * DMN_NLOSS_TERM;
    double en = g->hyper[DMN_HY_w_energy] > 0 ? t[DMN_LT_ENERGY] * cfg->loss_w_energy / g->hyper[DMN_HY_w_energy] : 0;
    double sp = g->hyper[DMN_HY_w_sparse] > 0 ? t[DMN_LT_SPARSE] * cfg->loss_w_sparse / g->hyper[DMN_HY_w_sparse] : 0;
    loss += t[DMN_LT_NAV] + en + sp + t[DMN_LT_RATE] + t[DMN_LT_SILENT] + t[DMN_LT_END];
  }
  loss /= s.n;
  out[1] = loss, out[2] = s.success_rate, out[3] = s.median_final;
  switch (cfg->evolution_fitness) {
  case 1: out[0] = s.success_rate - 1e-6 * s.mean_final_distance; break; /* ties: closer is better */
  case 2: out[0] = -s.median_final; break;
  default: out[0] = -loss;
  }
  eval_summary_free(&s);
  PetscFunctionReturn(0);
}

/* Slots ordered best first (fitness, then slot: the same on every rank). */
static double *rank_key;
static int cmp_rank(const void *a, const void *b) {
  int i = *(const int *)a, j = *(const int *)b;
  if (rank_key[i] != rank_key[j]) return rank_key[i] > rank_key[j] ? -1 : 1;
  return i - j;
}

static void bcast_genome(DmnGenome *g, int root, MPI_Comm world) {
  size_t n = 0;
  void *buf = NULL;
  int rank;
  DMN_MPI(MPI_Comm_rank(world, &rank));
  if (rank == root) buf = genome_pack(g, &n);
  long ln = (long)n;
  DMN_MPI(MPI_Bcast(&ln, 1, MPI_LONG, root, world));
  if (rank != root) buf = malloc((size_t)ln);
  DMN_MPI(MPI_Bcast(buf, (int)ln, MPI_BYTE, root, world));
  if (rank != root) genome_unpack(buf, g);
  free(buf);
}

static void print_generation(const DmnEvolutionLog *lg, long gen, long n_gen, long ep_done, long ep_total, const int *order, const int *parent_slot,
                             int n_rep, double secs) {
  const int P = lg->P;
  const double *fit = lg->col[DMN_LIN_fitness] + gen * P;
  double med = P % 2 ? fit[order[P / 2]] : 0.5 * (fit[order[P / 2 - 1]] + fit[order[P / 2]]);
  printf("Generation %3ld/%ld | episodes %ld/%ld per individual | fitness best %9.4f (ind %ld) median %9.4f worst %9.4f | success best %5.1f%%",
         gen + 1, n_gen, ep_done, ep_total, fit[order[0]], (long)lg->col[DMN_LIN_id][gen * P + order[0]], med, fit[order[P - 1]],
         100 * lg->col[DMN_LIN_fitness_success][gen * P + order[0]]);
  if (n_rep) {
    printf(" | replaced");
    for (int r = 0; r < n_rep; r++)
      printf(" %ld<-%ld", (long)lg->col[DMN_LIN_id][gen * P + order[P - 1 - r]], (long)lg->col[DMN_LIN_id][gen * P + parent_slot[r]]);
  }
  printf(" | %.1f s\n", secs);
  fflush(stdout);
}

typedef struct {
  Individual *ind;
  int P, slot;
  long *generation, *next_id;
  DmnGenome *genomes;
  DmnEvolutionLog *log;
} PopResumeCtx;

static int resume_population(const char *path, void *ctx, long *update, char err[DMN_ERR_MAX]) {
  PopResumeCtx *r = ctx;
  *update = io_checkpoint_update(path);
  return io_population_read(path, &r->ind->m, r->P, r->slot, &r->ind->p, &r->ind->adam, &r->ind->st, r->generation, r->next_id, r->genomes,
                            r->log, err);
}

PetscErrorCode evolve_run(const DmnConfig *cfg, const DmnConnectome *const base[2], const DmnParams *init, MPI_Comm world, const TrainOptions *o,
                          int *exit_code) {
  PetscFunctionBeginUser;
  int wrank, wsize;
  DMN_MPI(MPI_Comm_rank(world, &wrank));
  DMN_MPI(MPI_Comm_size(world, &wsize));
  const int P = (int)cfg->evolution_population;
  *exit_code = 0;
  if (P > wsize || wsize % P) {
    if (!wrank)
      fprintf(stderr, "dmn_mpi: error: evolution.population = %d needs a rank count that is a multiple of it (got %d rank%s); e.g. mpirun -n %d\n", P,
              wsize, wsize > 1 ? "s" : "", P * ((wsize + P - 1) / P));
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  const int gs = wsize / P, slot = wrank / gs;
  MPI_Comm gc;
  DMN_MPI(MPI_Comm_split(world, slot, wrank, &gc));
  int grank;
  DMN_MPI(MPI_Comm_rank(gc, &grank));
  const int leader = grank == 0;
  const long B = cfg->train_batch_per_rank, G = B * gs;
  const long upg = (cfg->evolution_episodes_per_generation + G - 1) / G; /* updates per generation */
  const long n_gen = (cfg->train_episodes + upg * G - 1) / (upg * G);
  /* replaced per generation: round(f P), at least 1 when f > 0, at most P/2 (losers and parents stay disjoint) */
  int n_rep = 0;
  if (P >= 2 && cfg->evolution_replace_fraction > 0) {
    n_rep = (int)floor(cfg->evolution_replace_fraction * P + 0.5);
    if (n_rep < 1) n_rep = 1;
    if (n_rep > P / 2) n_rep = P / 2;
  }
  char err[DMN_ERR_MAX] = "", ckpt[DMN_STR_MAX + 64];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", o->run_dir);
  char *yaml = config_to_yaml(cfg);

  /* every rank knows every genome (they are small); each only its own individual */
  DmnGenome *genome = calloc((size_t)P, sizeof(DmnGenome));
  for (int k = 0; k < P; k++) genome_founder(cfg, k, &genome[k]);
  DmnEvolutionLog lg;
  evolution_log_init(&lg, P);
  evolution_log_reserve(&lg, n_gen + 1);
  long gen0 = 0, next_id = P;
  Individual ind;
  memset(&ind, 0, sizeof ind);
  DmnModel base_model; /* the circuit individuals start on, for /connectome in outputs */
  PetscCall(model_build(cfg, base[0], &base_model, err));
  PetscCall(individual_model(cfg, base, &genome[slot], &ind.m, err));
  params_alloc(&ind.m, &ind.p);
  optim_adam_init(&ind.m, &ind.adam);
  if (init) {
    params_copy(&ind.p, init);
  } else {
    model_init_params_individual(&ind.m, &ind.p, slot); /* founder 0: the config's own initialisation */
  }
  if (genome[slot].hyper[DMN_HY_tau_scale] != 1.0) scale_tau(&ind.m, &ind.p, genome[slot].hyper[DMN_HY_tau_scale]);
  DmnParams founder0; /* the config's initial parameters: the "untrained" row of the final table */
  params_alloc(&ind.m, &founder0);
  if (init) params_copy(&founder0, init);
  else model_init_params(&base_model, &founder0);

  if (o->resume) {
    PopResumeCtx rctx = {&ind, P, slot, &gen0, &next_id, genome, &lg};
    const char *used;
    if (train_resume_read(o->resume, world, resume_population, &rctx, &used)) {
      *exit_code = 2;
      goto done;
    }
    /* the structure and hyperparameters of the genome read back */
    DmnParams keep;
    params_alloc(&ind.m, &keep);
    params_copy(&keep, &ind.p);
    model_free(&ind.m);
    PetscCall(individual_model(cfg, base, &genome[slot], &ind.m, err));
    params_copy(&ind.p, &keep);
    params_free(&keep);
    optim_adam_rates(&ind.m, ind.adam.lr); /* the individual's lr_scale */
    if (!wrank) printf("Resuming population from %s: %ld of %ld generations done\n", used, gen0, n_gen);
  }
  history_reserve(&ind.st.hist, n_gen * upg + 1);
  if (!wrank)
    printf("dmn evolve: population %d (%d rank%s each), %ld generations x %ld updates x %ld episodes = %ld episodes per individual, "
           "fitness %s on %ld episodes, replace %d per generation; circuit ORN %d PN %d KC %d MBON %d DN %d, %zu parameters\n"
           "  run directory %s/\n",
           P, gs, gs > 1 ? "s" : "", n_gen, upg, G, n_gen * upg * G, config_enum_name("evolution", "fitness", (int)cfg->evolution_fitness),
           cfg->evolution_fitness_episodes, n_rep, ind.m.n[0], ind.m.n[1], ind.m.n[2], ind.m.n[3], ind.m.n[4], ind.m.n_params, o->run_dir);
  PetscCall(trainer_create(&ind.m, &ind.tr));
  train_catch_signals();
  const size_t n = ind.p.n;
  double *buf = malloc(sizeof(double) * (3 * n + 1));
  int *order = malloc(sizeof(int) * (size_t)P), *parent_slot = malloc(sizeof(int) * (size_t)P);
  double *gather = malloc(sizeof(double) * 4 * (size_t)P);
  uint64_t *gsum = malloc(sizeof(uint64_t) * (size_t)P);
  double t_run = util_wtime();
  long gens_here = 0;
  for (long gen = gen0; gen < n_gen; gen++) {
    double t0 = util_wtime();
    /* 1. every individual trains on its own episodes (start poses keyed by slot) */
    int ec = 0, sig = 0;
    /* (a resumed run may start inside a generation: a signal stops after any update) */
    for (long u = ind.st.update > gen * upg ? ind.st.update : gen * upg; u < (gen + 1) * upg; u++) {
      double row[DMN_NHCOL], gn[DMN_NGROUP];
      PetscCall(train_update(&ind.m, &ind.tr, &ind.p, &ind.adam, u, slot, gc, row, gn, &ec));
      if (!ec) {
        ind.st.update = u + 1;
        ind.st.episodes_done = ind.st.update * G;
        history_push(&ind.st.hist, row, gn);
      }
      /* every group runs the same updates, so these collectives line up over the world */
      DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &ec, 1, MPI_INT, MPI_MAX, world));
      sig = train_stop_requested(world);
      if (ec || sig) break;
    }
    if (sig && !ec && ind.st.update < (gen + 1) * upg) {
      /* stopped inside the generation: the population as it is, resumable from this update */
      DmnPopulationIO pio = {P, slot, leader, gen, next_id, genome, &lg};
      int ckrc = io_population_write(ckpt, world, &base_model, &ind.m, &ind.p, &ind.adam, &ind.st, &pio, yaml, err);
      if (ckrc) {
        if (!wrank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
        *exit_code = 1;
      } else if (!wrank) {
        printf("Stopped by signal %d in generation %ld after update %ld (checkpoint written); resume with --resume %s\n", sig, gen + 1,
               ind.st.update, ckpt);
        fflush(stdout);
      }
      goto cleanup;
    }
    if (!ec && !train_params_agree(&ind.p, gc, NULL, NULL)) {
      if (leader) fprintf(stderr, "dmn_mpi: error: parameters differ between the ranks of individual slot %d in generation %ld\n", slot, gen + 1);
      ec = 1;
    }
    /* 2. fitness on the generation's shared episode set */
    double fit[4] = {0};
    int ff = 0;
    if (!ec) PetscCall(fitness_eval(cfg, &genome[slot], &ind, gc, gen, fit, &ff));
    ec |= ff;
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &ec, 1, MPI_INT, MPI_MAX, world));
    if (ec) {
      if (!wrank) fprintf(stderr, "dmn_mpi: evolution stopped in generation %ld (last checkpoint: %s)\n", gen + 1, ckpt);
      *exit_code = 1;
      break;
    }
    memset(gather, 0, sizeof(double) * 4 * (size_t)P);
    memset(gsum, 0, sizeof(uint64_t) * (size_t)P);
    if (leader) {
      for (int j = 0; j < 4; j++) gather[j * P + slot] = fit[j];
      gsum[slot] = train_params_checksum(&ind.p);
    }
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, gather, 4 * P, MPI_DOUBLE, MPI_SUM, world));
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, gsum, P, MPI_UINT64_T, MPI_BOR, world));
    /* 3. the lineage row of this generation */
    lg.n_gen = gen + 1;
    for (int k = 0; k < P; k++) {
      double *row[DMN_NLCOL];
      for (int c = 0; c < DMN_NLCOL; c++) row[c] = lg.col[c] + gen * P + k;
      *row[DMN_LIN_id] = (double)genome[k].id;
      *row[DMN_LIN_parent] = (double)genome[k].parent;
      *row[DMN_LIN_lesioned] = genome[k].lesioned;
      *row[DMN_LIN_fitness] = gather[k];
      *row[DMN_LIN_fitness_loss] = gather[P + k];
      *row[DMN_LIN_fitness_success] = gather[2 * P + k];
      *row[DMN_LIN_fitness_final] = gather[3 * P + k];
      for (int h = 0; h < DMN_NHYPER; h++) *row[DMN_LIN_lr_scale + h] = genome[k].hyper[h];
      *row[DMN_LIN_edits] = (double)genome[k].n_edits;
      *row[DMN_LIN_made_pn_kc] = (double)genome[k].made_pn_kc;
      *row[DMN_LIN_made_kc_mbon] = (double)genome[k].made_kc_mbon;
      *row[DMN_LIN_replaced_by] = -1;
      lg.checksum[gen * P + k] = gsum[k];
      lg.inherited[gen * P + k] = 0;
    }
    /* 4. selection: the bottom n_rep copy individuals drawn from the top n_rep */
    rank_key = gather;
    for (int k = 0; k < P; k++) order[k] = k;
    qsort(order, (size_t)P, sizeof(int), cmp_rank);
    const int last_gen = gen + 1 == n_gen;
    const int reps = last_gen ? 0 : n_rep;
    for (int r = 0; r < reps; r++) {
      DmnRng rr = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_EVOLVE, (uint64_t)gen + 1, (uint64_t)r);
      parent_slot[r] = order[util_rng_below(&rr, (uint64_t)n_rep)];
    }
    for (int r = 0; r < reps; r++) {
      const int L = order[P - 1 - r], W = parent_slot[r];
      /* Lamarckian copy: parameters, Adam moments and step from W's leader */
      if (slot == W && leader) pack_state(&ind, buf);
      DMN_MPI(MPI_Bcast(buf, (int)(3 * n + 1), MPI_DOUBLE, W * gs, world));
      if (slot == L) unpack_state(&ind, buf);
      lg.col[DMN_LIN_replaced_by][gen * P + L] = W;
      DmnGenome child;
      memset(&child, 0, sizeof child);
      genome_copy(&child, &genome[W]);
      child.parent = genome[W].id;
      child.id = next_id++;
      child.made_pn_kc = child.made_kc_mbon = 0;
      genome_copy(&genome[L], &child);
      genome_free(&child);
    }
    /* the copies as received (before mutation): every slot's checksum */
    memset(gsum, 0, sizeof(uint64_t) * (size_t)P);
    for (int r = 0; r < reps; r++)
      if (slot == order[P - 1 - r] && leader) gsum[slot] = train_params_checksum(&ind.p);
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, gsum, P, MPI_UINT64_T, MPI_BOR, world));
    for (int r = 0; r < reps; r++) lg.inherited[gen * P + order[P - 1 - r]] = gsum[order[P - 1 - r]];
    /* 5. mutation of the replacements (deterministic in their group), then their genomes to everyone */
    for (int r = 0; r < reps; r++) {
      const int L = order[P - 1 - r];
      if (slot == L) {
        DmnGenome *g = &genome[L];
        DmnRng rm = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_EVOLVE, (uint64_t)gen + 1, 1000003ull + (uint64_t)L);
        double tau_before = g->hyper[DMN_HY_tau_scale];
        genome_mutate_hyper(cfg, g, &rm);
        /* structure: the parent's circuit (as the copy), rewired with the parameters moving along */
        DmnConnectome conn;
        genome_connectome(base, g, &conn);
        const int pq[2] = {DMN_P_PN_TO_KC, DMN_P_KC_TO_MBON};
        const double frac[2] = {cfg->evolution_rewire_pn_kc, cfg->evolution_rewire_kc_mbon};
        long made[2] = {0, 0};
        for (int j = 0; j < 2; j++) {
          int grp = DMN_G_orn_to_pn + pq[j];
          double *arr[3] = {params_group(&ind.p, &ind.m, grp), params_group(&ind.adam.m, &ind.m, grp), params_group(&ind.adam.v, &ind.m, grp)};
          double w = cfg->evolution_new_weight;
          double u_new = conn.proj[pq[j]].is_signed ? util_softplus_inv(w) : w;
          made[j] = genome_rewire(&conn, pq[j], frac[j], &rm, g, arr, 3, u_new);
        }
        g->made_pn_kc = made[0], g->made_kc_mbon = made[1];
        if (g->hyper[DMN_HY_tau_scale] != tau_before) scale_tau(&ind.m, &ind.p, g->hyper[DMN_HY_tau_scale] / tau_before);
        connectome_free(&conn);
        /* a new model (structure, hyperparameters) and PETSc matrices over the new masks */
        model_free(&ind.m);
        PetscCall(individual_model(cfg, base, g, &ind.m, err));
        optim_adam_rates(&ind.m, ind.adam.lr); /* the individual's lr_scale */
        PetscCall(derived_destroy(&ind.tr.d));
        PetscCall(derived_create(&ind.m, &ind.tr.d));
      }
      bcast_genome(&genome[L], L * gs, world);
    }
    gens_here++;
    if (!wrank) print_generation(&lg, gen, n_gen, (gen + 1) * upg * G, n_gen * upg * G, order, parent_slot, reps, util_wtime() - t0);
    /* 6. the whole population in one collective checkpoint */
    sig = train_stop_requested(world);
    int stop = sig || (o->stop_after && gens_here >= o->stop_after);
    PetscCall(PetscLogEventBegin(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
    DmnPopulationIO pio = {P, slot, leader, gen + 1, next_id, genome, &lg};
    int ckrc = io_population_write(ckpt, world, &base_model, &ind.m, &ind.p, &ind.adam, &ind.st, &pio, yaml, err);
    PetscCall(PetscLogEventEnd(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
    if (ckrc) {
      if (!wrank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
      *exit_code = 1;
      break;
    }
    if (stop && !last_gen) {
      if (!wrank) {
        if (sig) printf("Stopped by signal %d after generation %ld (checkpoint written); resume with --resume %s\n", sig, gen + 1, ckpt);
        else printf("Stopped after %ld generations as asked; resume with --resume %s\n", gens_here, ckpt);
      }
      fflush(stdout);
      goto cleanup;
    }
  }
  if (*exit_code) goto cleanup;
  if (!wrank) printf("Evolution done: %ld generations, %ld episodes per individual in %.1f s\n", n_gen, n_gen * upg * G, util_wtime() - t_run);
  {
    /* every individual on the held-out evaluation set (the population spread) */
    DmnEvalSummary s;
    int f = 0;
    PetscCall(train_evaluate(&ind.m, &ind.p, gc, &s, NULL, 0, &ind.tr.t, &ind.tr.w, &f));
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_MAX, world));
    if (f) {
      *exit_code = 1;
      goto cleanup;
    }
    memset(gather, 0, sizeof(double) * 3 * (size_t)P);
    if (leader) gather[slot] = s.success_rate, gather[P + slot] = s.median_final, gather[2 * P + slot] = s.mean_mean_distance;
    eval_summary_free(&s);
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, gather, 3 * P, MPI_DOUBLE, MPI_SUM, world));
    memcpy(lg.final_success, gather, sizeof(double) * (size_t)P);
    memcpy(lg.final_median, gather + P, sizeof(double) * (size_t)P);
    memcpy(lg.final_mean_distance, gather + 2 * P, sizeof(double) * (size_t)P);
    /* the best by its last fitness (the held-out set only reports) */
    int best = 0;
    if (lg.n_gen > 0)
      for (int k = 1; k < P; k++)
        if (lg.col[DMN_LIN_fitness][(lg.n_gen - 1) * P + k] > lg.col[DMN_LIN_fitness][(lg.n_gen - 1) * P + best]) best = k;
    lg.best = best;
    if (!wrank) {
      printf("\nPopulation on %ld held-out start poses (best by last fitness: slot %d, individual %ld):\n", cfg->train_eval_episodes, best,
             genome[best].id);
      printf("  %4s %5s %6s %10s %9s %13s %9s %9s %9s %9s %9s %6s\n", "slot", "id", "parent", "fitness", "success", "median final", "lr_scale",
             "w_energy", "w_sparse", "beta", "tau", "edits");
      for (int k = 0; k < P; k++)
        printf("  %4d %5ld %6ld %10.4f %8.1f%% %10.2f mm %9.3g %9.3g %9.3g %9.3g %9.3g %6ld%s\n", k, genome[k].id, genome[k].parent,
               lg.n_gen ? lg.col[DMN_LIN_fitness][(lg.n_gen - 1) * P + k] : 0.0, 100 * lg.final_success[k], lg.final_median[k],
               genome[k].hyper[0], genome[k].hyper[1], genome[k].hyper[2], genome[k].hyper[3], genome[k].hyper[4], genome[k].n_edits,
               k == best ? "  <- best" : "");
      fflush(stdout);
    }
    /* the best individual's parameters, history and structure to every rank: the standard report */
    if (slot == best && leader) pack_state(&ind, buf);
    DMN_MPI(MPI_Bcast(buf, (int)(3 * n + 1), MPI_DOUBLE, best * gs, world));
    long hn = ind.st.hist.n;
    DMN_MPI(MPI_Bcast(&hn, 1, MPI_LONG, best * gs, world));
    DmnTrainState bst;
    memset(&bst, 0, sizeof bst);
    history_reserve(&bst.hist, hn + 1);
    if (slot == best && leader) {
      for (int c = 0; c < DMN_NHCOL; c++) memcpy(bst.hist.col[c], ind.st.hist.col[c], sizeof(double) * (size_t)hn);
      memcpy(bst.hist.group_norm, ind.st.hist.group_norm, sizeof(double) * (size_t)hn * DMN_NGROUP);
    }
    for (int c = 0; c < DMN_NHCOL; c++) DMN_MPI(MPI_Bcast(bst.hist.col[c], (int)hn, MPI_DOUBLE, best * gs, world));
    DMN_MPI(MPI_Bcast(bst.hist.group_norm, (int)(hn * DMN_NGROUP), MPI_DOUBLE, best * gs, world));
    bst.hist.n = hn;
    bst.update = hn;
    bst.episodes_done = hn * G;
    Individual b;
    memset(&b, 0, sizeof b);
    PetscCall(individual_model(cfg, base, &genome[best], &b.m, err));
    params_alloc(&b.m, &b.p);
    memcpy(b.p.data, buf, sizeof(double) * n);
    PetscCall(trainer_create(&b.m, &b.tr));
    TrainOptions ro = *o;
    ro.intact = NULL;
    PetscCall(train_report(&b.m, &b.p, &founder0, &bst, world, &ro, &b.tr, &lg, exit_code));
    PetscCall(trainer_destroy(&b.tr));
    params_free(&b.p);
    model_free(&b.m);
    history_free(&bst.hist);
  }
cleanup:
  free(buf);
  free(order);
  free(parent_slot);
  free(gather);
  free(gsum);
  PetscCall(trainer_destroy(&ind.tr));
done:
  params_free(&founder0);
  history_free(&ind.st.hist);
  optim_adam_free(&ind.adam);
  params_free(&ind.p);
  model_free(&ind.m);
  model_free(&base_model);
  for (int k = 0; k < P; k++) genome_free(&genome[k]);
  free(genome);
  evolution_log_free(&lg);
  free(yaml);
  DMN_MPI(MPI_Comm_free(&gc));
  PetscFunctionReturn(0);
}
