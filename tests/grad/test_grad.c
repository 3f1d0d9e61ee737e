/* Gradients of whole modules and of the closed loop (MODEL §2 smooth mode:
 * exact derivative, rel. error < 1e-6), the harness self-test (a flipped
 * sign must FAIL), spiking-mode gradients, lesions, the PETSc and CSR
 * backends, and the initial firing rates of the default circuit. */
#include <petscsys.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "evolve.h"
#include "gradcheck.h"
#include "util.h"
#include "../fixture.h"

/* the tiny circuit (tests/fixture.h) in smooth mode (MODEL §2) */
static void small_circuit(DmnConfig *c, int T) {
  fixture_tiny(c);
  c->sim_steps = T;
  c->circuit_spike_fn = DMN_SPIKE_SIGMOID;
  c->circuit_detach_reset = 0;
  c->grad_sensory_feedback = DMN_FEEDBACK_FULL;
}

/* 1: every Setup's backward pass goes step by step (section 5d compares) */
static int backward_by_step = 0;

typedef struct {
  DmnModel m;
  DmnParams p, g;
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  double p0[2], psi0, loss;
} Setup;

static PetscErrorCode setup(Setup *s, const DmnConfig *c, const DmnConnectome *conn) {
  PetscFunctionBeginUser;
  char err[DMN_ERR_MAX] = "";
  PetscErrorCode rc = model_build(c, conn, &s->m, err);
  if (rc) {
    printf("FAIL setup: %s\n", err);
    fflush(stdout);
  }
  PetscCall(rc);
  s->m.backward_by_step = backward_by_step;
  params_alloc(&s->m, &s->p);
  params_alloc(&s->m, &s->g);
  model_init_params(&s->m, &s->p);
  PetscCall(derived_create(&s->m, &s->d));
  tape_alloc(&s->m, &s->t);
  work_alloc(&s->m, &s->w);
  episode_start_pose(&s->m, DMN_STREAM_SIM_START, 0, 0, s->p0, &s->psi0);
  PetscCall(gradcheck_gradient(&s->m, &s->p, &s->d, s->p0, s->psi0, &s->t, &s->w, &s->g, &s->loss, err));
  PetscFunctionReturn(0);
}

static PetscErrorCode teardown(Setup *s) {
  PetscFunctionBeginUser;
  work_free(&s->w);
  tape_free(&s->t);
  PetscCall(derived_destroy(&s->d));
  params_free(&s->g);
  params_free(&s->p);
  model_free(&s->m);
  PetscFunctionReturn(0);
}

/* Spiking mode: every group's gradient finite and non-zero (no FD there). */
static void check_groups_finite(const char *label, const Setup *s) {
  for (int k = 0; k < DMN_NGROUP; k++) {
    double *g = params_group(&s->g, &s->m, k), nrm = 0;
    int finite = 1;
    for (size_t i = 0; i < s->m.group_n[k]; i++) {
      finite &= isfinite(g[i]);
      nrm += g[i] * g[i];
    }
    printf("  %s |grad %-10s| = %.3e (%zu entries)\n", label, dmn_group_names[k], sqrt(nrm), s->m.group_n[k]);
    CHECK(finite && nrm > 0, "%s: gradient of %s finite and non-zero", label, dmn_group_names[k]);
  }
}

/* The circuit check_fd builds on (NULL: the config's). */
static const DmnConnectome *fd_conn = NULL;

static PetscErrorCode check_fd_h(const char *label, const DmnConfig *c, int expect_pass, Setup *keep, double h_rel) {
  PetscFunctionBeginUser;
  Setup s;
  char err[DMN_ERR_MAX];
  PetscCall(setup(&s, c, fd_conn));
  GradCheckOptions o = gradcheck_defaults();
  if (h_rel > 0) o.h_rel = h_rel;
  GradCheckResult r;
  PetscCall(gradcheck_compare(&s.m, &s.p, &s.g, s.p0, s.psi0, &o, &r, err));
  printf("--- %s\n", label);
  gradcheck_print(&s.m, &r, &o);
  CHECK(r.pass == expect_pass, "%s: gradient check %s", label, r.pass ? "passed" : "failed");
  for (int k = 0; k < DMN_NGROUP; k++)
    CHECK(r.n_checked[k] > 0 || s.m.group_n[k] == 0, "%s: group %s checked", label, dmn_group_names[k]);
  if (keep) *keep = s;
  else PetscCall(teardown(&s));
  PetscFunctionReturn(0);
}

static PetscErrorCode check_fd(const char *label, const DmnConfig *c, int expect_pass, Setup *keep) {
  return check_fd_h(label, c, expect_pass, keep, getenv("DMN_TEST_H") ? atof(getenv("DMN_TEST_H")) : 0.0);
}

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  DmnConfig c;
  char err[DMN_ERR_MAX];

  /* 1. the whole closed loop, T = 120 (tripod switches at 50 and 100 couple
   *    the drive into the pose), every parameter group */
  small_circuit(&c, 120);
  Setup loop;
  PetscCall(check_fd("closed loop, T = 120", &c, 1, &loop));

  /* 2. harness self-test: one flipped sign must FAIL */
  {
    size_t k = loop.m.group_off[DMN_G_pn_to_kc], best = k;
    for (size_t i = k; i < k + loop.m.group_n[DMN_G_pn_to_kc]; i++)
      if (fabs(loop.g.data[i]) > fabs(loop.g.data[best])) best = i;
    /* make sure the flipped entry is among the checked ones: check all of it */
    GradCheckOptions o = gradcheck_defaults();
    o.max_per_group = (int)loop.m.group_n[DMN_G_pn_to_kc];
    loop.g.data[best] = -loop.g.data[best];
    GradCheckResult r;
    PetscCall(gradcheck_compare(&loop.m, &loop.p, &loop.g, loop.p0, loop.psi0, &o, &r, err));
    char where[64];
    params_locate(&loop.m, r.worst_index, where, sizeof where);
    printf("--- self-test: flipped sign of the largest pn_to_kc entry -> %s, worst %s (rel %.2e)\n", r.pass ? "PASSED (bad)" : "FAILED (good)",
           where, r.worst_rel);
    CHECK(!r.pass && r.worst_index == best, "a flipped gradient sign must fail the check and be named");
    PetscCall(teardown(&loop));
  }

  /* 3. circuit module alone, T = 20: only the rate terms of the loss */
  small_circuit(&c, 20);
  c.loss_w_nav = c.loss_w_energy = 0.0;
  c.loss_min_rate_kc = 30; /* make the silent-layer term active */
  PetscCall(check_fd("circuit module (rate terms), T = 20", &c, 1, NULL));

  /* 4. the other odor field, and window feedback spanning the episode
   *    (equal to full there, so the gradient is exact) */
  small_circuit(&c, 60);
  c.odor_field = DMN_ODOR_GAUSSIAN;
  c.grad_sensory_feedback = DMN_FEEDBACK_WINDOW;
  c.grad_window = 60;
  PetscCall(check_fd("closed loop, gaussian field, window = T = 60", &c, 1, NULL));

  /* 4'. Hill receptors (sensing.receptor: hill) with ORN adaptation, closed loop */
  small_circuit(&c, 80);
  c.sensing_receptor = DMN_RECEPTOR_HILL;
  c.sensing_adapt = 0.6;
  c.sensing_adapt_tau = 15.0;
  PetscCall(check_fd("closed loop, Hill receptors with ORN adaptation, T = 80", &c, 1, NULL));

  /* 4''. Weber receptors with perfect adaptation (k = 1) and an ORN bias,
   *      closed loop; their initial gain is init.orn_gain itself */
  small_circuit(&c, 80);
  c.sensing_receptor = DMN_RECEPTOR_WEBER;
  c.sensing_adapt = 1.0;
  c.sensing_adapt_tau = 15.0;
  c.init_orn_gain = 300;
  c.init_orn_bias = 12;
  {
    Setup s;
    PetscCall(setup(&s, &c, NULL));
    CHECK(s.p.orn_gain[0] == c.init_orn_gain && s.p.bias[s.m.layer_off[DMN_L_ORN]] == c.init_orn_bias &&
              s.p.bias[s.m.layer_off[DMN_L_PN]] == 0.0,
          "Weber receptors: initial ORN gain init.orn_gain (%g), ORN bias init.orn_bias (%g), other biases 0", s.p.orn_gain[0],
          s.p.bias[s.m.layer_off[DMN_L_ORN]]);
    PetscCall(teardown(&s));
  }
  PetscCall(check_fd("closed loop, Weber receptors with perfect ORN adaptation (k = 1) and ORN bias, T = 80", &c, 1, NULL));

  /* 5. spiking mode (Heaviside + surrogate, defaults): finite, non-zero in every group */
  {
    config_defaults(&c);
    c.sim_steps = 600;
    Setup s;
    PetscCall(setup(&s, &c, NULL));
    check_groups_finite("spiking mode", &s);
    PetscCall(teardown(&s));
  }

  /* 5b. the compact tape (float V, I; byte spikes): the forward pass is the
   *     same to the bit, the gradient that of the double tape up to the
   *     rounding of V and I (spiking mode, the default circuit) */
  {
    config_defaults(&c);
    c.sim_steps = 1000;
    c.grad_checkpoint = 0;
    Setup a, b;
    PetscCall(setup(&a, &c, NULL));
    c.grad_tape = DMN_TAPE_COMPACT;
    PetscCall(setup(&b, &c, NULL));
    double dn = 0, gn = 0;
    for (size_t i = 0; i < a.g.n; i++) {
      dn += (a.g.data[i] - b.g.data[i]) * (a.g.data[i] - b.g.data[i]);
      gn += a.g.data[i] * a.g.data[i];
    }
    int same_spikes = 1;
    for (size_t i = 0; i < (size_t)a.m.T * (size_t)a.m.n_neuron; i++) same_spikes &= a.t.s[i] == (double)b.t.s8[i];
    printf("  compact tape: loss %.17g vs %.17g; |g_compact - g_double| / |g_double| = %.2e; tape %.1f MB vs %.1f MB\n", b.loss, a.loss,
           sqrt(dn / gn), 9.0 * a.m.T * a.m.n_neuron / 1e6, 24.0 * a.m.T * a.m.n_neuron / 1e6);
    CHECK(a.loss == b.loss && same_spikes, "compact tape: identical forward pass (loss and every spike)");
    CHECK(sqrt(dn / gn) < 1e-5 && sqrt(dn / gn) > 0, "compact tape: gradient within 1e-5 of the double tape's (and not the same code path)");
    PetscCall(teardown(&a));
    PetscCall(teardown(&b));
  }

  /* 5c. checkpointed BPTT recomputes each segment exactly: the same loss and
   *     the same gradient to the bit, in spiking mode (K not dividing T) and
   *     in smooth mode, where it also passes the finite-difference check */
  for (int smooth = 0; smooth < 2; smooth++) {
    if (smooth) small_circuit(&c, 90);
    else config_defaults(&c), c.sim_steps = 1000;
    Setup a, b;
    c.grad_checkpoint = 0; /* every step on the tape */
    PetscCall(setup(&a, &c, NULL));
    c.grad_checkpoint = smooth ? 16 : 37;
    PetscCall(setup(&b, &c, NULL));
    size_t diff = 0;
    for (size_t i = 0; i < a.g.n; i++) diff += a.g.data[i] != b.g.data[i];
    printf("  checkpointed BPTT (K = %ld, T = %d, %s): loss %.17g vs %.17g, %zu of %zu gradient entries differ; tape rows %d of %d\n",
           c.grad_checkpoint, b.m.T, smooth ? "smooth" : "spiking", b.loss, a.loss, diff, a.g.n, b.t.rows, b.m.T);
    CHECK(a.loss == b.loss && diff == 0, "checkpointed BPTT gives the same loss and gradient, bit for bit (%s)", smooth ? "smooth" : "spiking");
    CHECK(b.t.rows == c.grad_checkpoint, "the checkpointed tape holds K rows");
    PetscCall(teardown(&a));
    PetscCall(teardown(&b));
    if (smooth) PetscCall(check_fd("closed loop with checkpointed BPTT (K = 16), T = 90", &c, 1, NULL));
  }

  /* 5c'. the automatic segment (grad.checkpoint: -1): whole (half) blocks
   *     near sqrt(T), short enough for the cache on large circuits, as the
   *     README's performance section states */
  {
    static const int neurons[] = {2144, 4144, 5093, 8144, 554}, steps[] = {5000, 5000, 5000, 5000, 90}, want[] = {64, 32, 32, 16, 16};
    for (int i = 0; i < 5; i++) {
      DmnModel mk;
      memset(&mk, 0, sizeof mk);
      mk.n_neuron = neurons[i];
      mk.T = steps[i];
      const long K = tape_auto_segment(&mk);
      CHECK(K == want[i] && K % (DMN_BACKWARD_BLOCK / 2) == 0, "automatic segment for %d neurons, T = %d: %ld steps (want %d)", neurons[i],
            steps[i], K, want[i]);
    }
  }

  /* 5d. with sensing detached the backward pass goes layer by layer over
   *     blocks of steps (DMN_BACKWARD_BLOCK); it must give the step-by-step
   *     gradient to the bit: spiking with a checkpointed tape whose
   *     segments are not a multiple of the block, every step on the tape,
   *     the PETSc backend, and smooth mode with a silenced neuron (the
   *     general LIF loop) */
  for (int variant = 0; variant < 6; variant++) {
    static const char *names[] = {"spiking, K = 37, ORN adaptation", "spiking, full tape", "spiking, PETSc backend", "smooth, silenced KC",
                                  "spiking, K = 48: half blocks", "spiking, K = 37, ORN adaptation, sensory feedback in the last 300 steps"};
    DmnConnectome conn, *cp = NULL;
    if (variant == 3) {
      small_circuit(&c, 150);
      CHECK(connectome_build_synthetic(&c, &conn, err) == 0, "%s", err);
      conn.silenced[DMN_L_KC] = calloc((size_t)conn.n[DMN_L_KC] + 1, 1);
      conn.silenced[DMN_L_KC][2] = 1; /* a silencing lesion: the general LIF loop */
      cp = &conn;
    } else {
      config_defaults(&c);
      c.sim_steps = 1000;
      c.grad_checkpoint = variant == 0 || variant == 5 ? 37 : (variant == 4 ? 48 : 0);
      if (variant == 0 || variant == 5) c.sensing_adapt = 0.5; /* and ORN adaptation */
      if (variant == 2) c.circuit_sparse_backend = DMN_SPARSE_PETSC;
    }
    c.grad_sensory_feedback = DMN_FEEDBACK_DETACH;
    if (variant == 5) { /* the steps before the window in blocks, the window's step by step */
      c.grad_sensory_feedback = DMN_FEEDBACK_WINDOW;
      c.grad_window = 300;
    }
    Setup a, b;
    backward_by_step = 1;
    PetscCall(setup(&a, &c, cp));
    backward_by_step = 0;
    PetscCall(setup(&b, &c, cp));
    size_t diff = 0;
    for (size_t i = 0; i < a.g.n; i++) diff += a.g.data[i] != b.g.data[i];
    printf("  layer-by-layer backward (%s): %ld blocks, %zu of %zu gradient entries differ from the step-by-step pass\n", names[variant],
           b.w.n_blocks, diff, a.g.n);
    const int blocked_steps = variant == 5 ? b.m.T - (int)c.grad_window : b.m.T;
    CHECK(a.w.n_blocks == 0 && b.w.n_blocks >= (blocked_steps + b.t.block - 1) / b.t.block, "%s: the two paths were taken", names[variant]);
    if (variant != 3) /* (3 takes the automatic segment of its short episode) */
      CHECK(b.t.block == (variant == 4 ? DMN_BACKWARD_BLOCK / 2 : DMN_BACKWARD_BLOCK), "%s: blocks of %d steps", names[variant], b.t.block);
    CHECK(diff == 0 && a.loss == b.loss, "layer-by-layer backward equals the step-by-step one bit for bit (%s)", names[variant]);
    PetscCall(teardown(&a));
    PetscCall(teardown(&b));
    if (cp) connectome_free(&conn);
  }

  /* 6. lesions: removed synapses get gradient exactly 0 and have no influence */
  {
    small_circuit(&c, 80);
    DmnConnectome conn;
    CHECK(connectome_build_synthetic(&c, &conn, err) == 0, "%s", err);
    int removed = connectome_lesion_synapse(&conn, DMN_P_PN_TO_KC, 5);
    removed += connectome_ablate_neuron(&conn, DMN_L_KC, 3);
    CHECK(removed == 1 + 3 + 3 + 2, "lesion removed %d synapses (1 + 3 claws + 3 MBON outputs + KC->APL and APL->KC)", removed);
    Setup s;
    PetscCall(setup(&s, &c, &conn));
    const DmnProjection *pk = &s.m.conn.proj[DMN_P_PN_TO_KC], *pm = &s.m.conn.proj[DMN_P_KC_TO_MBON];
    int zero = 1, n_dead = 0;
    for (int q = 0; q < DMN_NPROJ; q++) {
      const DmnProjection *pr = &s.m.conn.proj[q];
      double *g = params_group(&s.g, &s.m, DMN_G_orn_to_pn + q);
      for (int k = 0; k < pr->nnz; k++)
        if (!pr->alive[k]) {
          n_dead++;
          zero &= g[k] == 0.0;
        }
    }
    CHECK(n_dead == removed - 2 && zero, "every lesioned synapse has gradient exactly 0 (%d dead)", n_dead);
    CHECK(s.g.kc_to_apl[3] == 0.0 && s.g.apl_to_kc[3] == 0.0 && s.d.apl_w_in[3] == 0.0 && s.d.apl_w_out[3] == 0.0,
          "an ablated KC's APL synapses: weight and gradient exactly 0");
    /* no influence: changing a dead parameter changes nothing */
    double loss0 = s.loss, l1;
    s.p.pn_to_kc[5] += 3.0;
    PetscCall(gradcheck_loss(&s.m, &s.p, &s.d, s.p0, s.psi0, &s.t, &s.w, &l1, err));
    CHECK(l1 == loss0, "a lesioned synapse has no influence on the loss");
    (void)pk;
    (void)pm;
    PetscCall(teardown(&s));
    connectome_free(&conn);
  }

  /* 5b. the w_end extension (distance over the closing steps) in the closed loop */
  {
    small_circuit(&c, 80);
    c.loss_w_end = 2.0;
    c.loss_end_fraction = 0.3;
    PetscCall(check_fd("closed loop with loss.w_end = 2 over the last 30 % of the steps, T = 80", &c, 1, NULL));
  }

  /* 5b''. the body calibrated to NeuroMechFly (configs/neuromechfly.yaml):
   *        turn gain and spot-turn threshold in the closed loop, with a
   *        forward motor bias so the drives sit where the dead zone fades */
  {
    small_circuit(&c, 80);
    c.body_cpg_freq = 12, c.body_amplitude = 0.385, c.body_turn_gain = 0.545;
    c.body_spot_turn_threshold = 0.605, c.body_spot_turn_width = 0.38;
    c.init_motor_b = 0.3;
    PetscCall(check_fd("closed loop in the calibrated body (turn gain 0.545, spot-turn threshold 0.605), T = 80", &c, 1, NULL));
  }

  /* 5b'. the distance term normalised by the start distance
   *       (loss.nav_norm: start) and capped in slope beyond it (progress),
   *       starts drawn from a range of distances, in the closed loop */
  for (int norm = DMN_NAV_NORM_START; norm <= DMN_NAV_NORM_PROGRESS; norm++) {
    small_circuit(&c, 90);
    c.arena_start_radius = 10;
    c.arena_start_radius_max = 45;
    c.loss_nav_norm = norm;
    c.loss_beyond_start = 0.3;
    Setup s;
    PetscCall(check_fd(norm == DMN_NAV_NORM_START ? "closed loop, loss.nav_norm: start, starts 10-45 mm, T = 90"
                                                  : "closed loop, loss.nav_norm: progress (slope 0.3 beyond the start), T = 90",
                       &c, 1, &s));
    double r0 = hypot(s.p0[0] - c.odor_source_x, s.p0[1] - c.odor_source_y);
    CHECK(r0 >= 10 && r0 <= 45, "start distance %.2f mm within [10, 45]", r0);
    PetscCall(teardown(&s));
  }

  /* 5c'. ORN adaptation (sensing.adapt extension) in the closed loop: the
   *      gradient through the adaptation state into the pose, exact; and
   *      the adaptation changes what the ORNs get (not a no-op) */
  {
    small_circuit(&c, 90);
    c.sensing_receptor = DMN_RECEPTOR_GAUSSIAN; /* model v2.0's band receptors (the default's Weber ones: 4'') */
    c.sensing_adapt = 0.6;
    c.sensing_adapt_tau = 15.0;
    Setup s;
    PetscCall(check_fd("closed loop with band receptors and ORN adaptation (k = 0.6, tau 15 ms), T = 90", &c, 1, &s));
    double most = 0;
    for (size_t i = 0; i < (size_t)s.m.T * (size_t)s.m.n[DMN_L_ORN]; i++) most = fmax(most, fabs(s.t.orn_in[i] - s.t.recept[i]));
    CHECK(most > 0.05, "adaptation: the ORNs get r - k A, not r (largest difference %.3g)", most);
    /* the formula, from the receptor responses on the tape: A[-1] = r[0] */
    const int no = s.m.n[DMN_L_ORN];
    const double aa = exp(-c.sim_dt / c.sensing_adapt_tau);
    int formula = 1;
    for (int i = 0; i < no; i++) {
      double A = s.t.recept[i];
      for (int t = 0; t < s.m.T; t++) {
        const double r = s.t.recept[(size_t)t * no + i];
        formula &= s.t.orn_in[(size_t)t * no + i] == r - 0.6 * A;
        A = aa * A + (1 - aa) * r;
      }
    }
    CHECK(formula, "adaptation: x = g (r[t] - k A[t-1]), A[t] = a A[t-1] + (1 - a) r[t], A[-1] = r[0]");
    CHECK_CLOSE(s.p.orn_gain[0], c.init_orn_gain / (1 - 0.6), 1e-12, "adaptation: initial ORN gain init.orn_gain / (1 - k)");
    PetscCall(teardown(&s));
  }

  /* 5c''. APL feedback inhibition (MODEL §2b) in the closed loop with a
   *       strong APL: the gradient of both APL groups and through the APL
   *       state into the KCs is exact; z on the tape follows its formula
   *       from the KC spikes; and the APL is not a no-op (ablating it
   *       changes the loss) */
  {
    small_circuit(&c, 90);
    c.init_apl_to_kc = 3.0;
    c.init_kc_to_apl = 2.0;
    c.circuit_tau_apl = 4.0;
    c.grad_checkpoint = 0; /* every step's real-valued spikes on the tape, for the formula below */
    Setup s;
    PetscCall(check_fd("closed loop with strong APL inhibition (apl_to_kc 3, kc_to_apl 2, tau 4 ms), T = 90", &c, 1, &s));
    const int nk = s.m.n[DMN_L_KC], ok = s.m.layer_off[DMN_L_KC];
    const double aa = exp(-c.sim_dt / c.circuit_tau_apl);
    double z[2] = {0, 0}, worst = 0, most = 0;
    for (int t = 0; t < s.m.T; t++) {
      double drive[2] = {0, 0};
      for (int k = 0; k < nk; k++) drive[s.m.conn.side[DMN_L_KC][k] == 1] += s.d.apl_w_in[k] * tape_spike(&s.t, t, ok + k);
      for (int side = 0; side < 2; side++) {
        z[side] = aa * z[side] + (1 - aa) * drive[side];
        worst = fmax(worst, fabs(z[side] - s.t.apl[2 * t + side]) / fmax(1e-12, fabs(z[side])));
        most = fmax(most, z[side]);
      }
    }
    CHECK(worst < 1e-12 && most > 0.1, "APL: z[t] = a z[t-1] + (1 - a) sum_k w_in s_k[t] per side (worst rel. difference %.2g, largest z %.3g)", worst,
          most);
    CHECK(s.d.apl_w_in[0] > 0 && s.d.apl_w_out[0] < 0, "APL: Dale signs (KC -> APL excitatory, APL -> KC inhibitory)");
    const double loss_apl = s.loss;
    PetscCall(teardown(&s));
    const char *les = "lesions:\n  - {kind: ablate, layer: APL, select: all}\n";
    CHECK(config_parse_text(&c, les, strlen(les), "(lesions)", err) == 0, "%s", err);
    PetscCall(check_fd("closed loop with both APLs ablated, T = 90", &c, 1, &s));
    double gz = 0;
    for (int k = 0; k < nk; k++) gz += fabs(s.g.kc_to_apl[k]) + fabs(s.g.apl_to_kc[k]);
    CHECK(gz == 0.0, "ablated APLs: their synapses get gradient exactly 0");
    CHECK(s.loss != loss_apl, "the APL changes the loss (%.10g with, %.10g without)", loss_apl, s.loss);
    PetscCall(teardown(&s));
  }

  /* 6a. an evolved individual: PN->KC claws rewired, KC->MBON synapses
   *     pruned and regrown across sides, its own loss weights -- the gradient
   *     on the new structure is still exact */
  {
    small_circuit(&c, 80);
    DmnConnectome conn;
    CHECK(connectome_build_synthetic(&c, &conn, err) == 0, "%s", err);
    DmnGenome g;
    genome_founder(&c, 0, &g);
    g.hyper[DMN_HY_w_energy] = 0.37;
    DmnRng r = util_rng(3, DMN_STREAM_EVOLVE, 0, 0);
    long n1 = genome_rewire(&conn, DMN_P_PN_TO_KC, 0.3, &r, &g, NULL, 0, 0.0);
    long n2 = genome_rewire(&conn, DMN_P_KC_TO_MBON, 0.1, &r, &g, NULL, 0, 0.0);
    CHECK(n1 > 0 && n2 > 0, "rewired %ld PN->KC and %ld KC->MBON synapses", n1, n2);
    DmnConfig ci;
    genome_config(&c, &g, &ci);
    fd_conn = &conn;
    PetscCall(check_fd("closed loop on an evolved circuit (30% PN->KC rewired, 10% KC->MBON regrown), T = 80", &ci, 1, NULL));
    fd_conn = NULL;
    genome_free(&g);
    connectome_free(&conn);
  }

  /* 6b. every lesion kind in the closed loop (smooth mode): the gradient is
   *     still exact, and silenced neurons / scaled-to-zero projections get
   *     exactly zero gradient */
  {
    small_circuit(&c, 80);
    const char *lesions = "lesions:\n"
                          "  - {kind: ablate, layer: KC, select: \"id=3,7\"}\n"
                          "  - {kind: silence, layer: MBON, select: id=1}\n"
                          "  - {kind: silence, layer: PN, select: id=2}\n"
                          "  - {kind: drop, projection: pn_to_kc, fraction: 0.2, seed: 1}\n"
                          "  - {kind: shuffle, projection: pn_to_kc, seed: 2}\n"
                          "  - {kind: scale, projection: kc_to_mbon, factor: 0.7}\n"
                          "  - {kind: scale, projection: pn_to_dn, factor: 0}\n";
    CHECK(config_parse_text(&c, lesions, strlen(lesions), "(lesions)", err) == 0, "%s", err);
    Setup s;
    PetscCall(check_fd("closed loop with ablate, silence, drop, shuffle, scale lesions, T = 80", &c, 1, &s));
    int o_mbon = s.m.layer_off[DMN_L_MBON] + 1, o_pn = s.m.layer_off[DMN_L_PN] + 2;
    CHECK(s.g.theta[o_mbon] == 0 && s.g.bias[o_mbon] == 0 && s.g.rho[o_mbon] == 0, "silenced MBON: zero gradient of its own parameters");
    CHECK(s.g.theta[o_pn] == 0 && s.g.bias[o_pn] == 0 && s.g.rho[o_pn] == 0, "silenced PN: zero gradient of its own parameters");
    const DmnProjection *pm = &s.m.conn.proj[DMN_P_KC_TO_MBON];
    int zero_in = 1;
    for (int k = pm->row_ptr[1]; k < pm->row_ptr[2]; k++) zero_in &= s.g.kc_to_mbon[k] == 0.0;
    CHECK(zero_in, "synapses onto a silenced MBON get zero gradient");
    double n_lh = 0;
    for (size_t i = 0; i < s.m.group_n[DMN_G_pn_to_dn]; i++) n_lh += fabs(s.g.pn_to_dn[i]);
    CHECK(n_lh == 0.0, "a projection scaled by 0 gets zero gradient");
    double spikes_silenced = 0;
    for (int t = 0; t < s.m.T; t++) spikes_silenced += tape_spike(&s.t, t, o_mbon);
    CHECK(spikes_silenced == 0.0 && s.t.rate_hz[o_mbon] == 0.0, "a silenced neuron never spikes (%g spikes, %g Hz)", spikes_silenced, s.t.rate_hz[o_mbon]);
    PetscCall(teardown(&s));
  }

  /* 6c. real circuits (configs/connectomes, skipped when absent) */
  {
    const char *shared = getenv("DMN_SHARED_CONNECTOME") ? getenv("DMN_SHARED_CONNECTOME") : DMN_SOURCE_DIR "/configs/connectomes";
    char path[512];
    snprintf(path, sizeof path, "%s/fixture/neurons.csv", shared);
    FILE *probe = fopen(path, "r");
    if (!probe) {
      printf("SKIP real-circuit gradient tests: %s not found (public data is not in the repository)\n", path);
    } else {
      fclose(probe);
      /* the fixture circuit (FlyWire right MB subset), smooth mode, closed loop */
      small_circuit(&c, 60);
      c.connectome_source = DMN_SOURCE_FLYWIRE;
      snprintf(c.connectome_path, sizeof c.connectome_path, "%s/fixture", shared);
      c.init_orn_to_pn = 2;
      PetscCall(check_fd("closed loop on the FlyWire fixture circuit, T = 60", &c, 1, NULL));
      /* the same with lesions by cell type */
      const char *les = "lesions:\n  - {kind: ablate, layer: KC, select: \"cell_type=KCg*\"}\n  - {kind: shuffle, projection: pn_to_kc, seed: 5}\n";
      CHECK(config_parse_text(&c, les, strlen(les), "(lesions)", err) == 0, "%s", err);
      PetscCall(check_fd("fixture circuit with all KCg ablated and PN->KC shuffled, T = 60", &c, 1, NULL));
      /* configs/flywire_right.yaml in spiking mode: finite, non-zero in every group */
      snprintf(path, sizeof path, "%s/flywire_v783/neurons.csv", shared);
      probe = fopen(path, "r");
      if (!probe) {
        printf("SKIP flywire_right gradients: %s not found\n", path);
      } else {
        fclose(probe);
        CHECK(config_load_file(&c, DMN_SOURCE_DIR "/configs/flywire_right.yaml", err) == 0, "%s", err);
        snprintf(c.connectome_path, sizeof c.connectome_path, "%s/flywire_v783", shared);
        snprintf(c.connectome_nt_from, sizeof c.connectome_nt_from, "%s", "");
        c.sim_steps = 500;
        Setup s;
        PetscCall(setup(&s, &c, NULL));
        check_groups_finite("flywire_right, spiking", &s);
        PetscCall(teardown(&s));
      }
    }
  }

  /* 6d. init.orn_to_pn_contra: the other antenna's ORN -> PN synapse starts at
   *     c times the same-side one, their sum as with c = 1 */
  {
    config_defaults(&c);
    c.init_jitter = 0.0;
    double sum[2] = {0, 0}, ratio = 0;
    for (int k = 0; k < 2; k++) {
      c.init_orn_to_pn_contra = k ? 0.3 : 1.0;
      DmnModel m;
      DmnParams p;
      PetscCall(model_build(&c, NULL, &m, err));
      params_alloc(&m, &p);
      model_init_params(&m, &p);
      const DmnProjection *pr = &m.conn.proj[DMN_P_ORN_TO_PN];
      double ipsi = 0, contra = 0;
      for (int r = pr->row_ptr[0]; r < pr->row_ptr[1]; r++) { /* PN 0's two inputs */
        double wv = util_softplus(p.orn_to_pn[r]);
        if (m.conn.side[DMN_L_ORN][pr->col[r]] == m.conn.side[DMN_L_PN][0]) ipsi += wv;
        else contra += wv;
      }
      sum[k] = ipsi + contra;
      if (k) ratio = contra / ipsi;
      params_free(&p);
      model_free(&m);
    }
    CHECK(fabs(sum[1] - sum[0]) < 1e-9 * sum[0] && fabs(ratio - 0.3) < 1e-9, "contra/ipsi %.6f, sums %.9g vs %.9g", ratio, sum[1], sum[0]);
  }

  /* 7. PETSc AIJ and the plain CSR loop agree */
  {
    config_defaults(&c);
    c.sim_steps = 400;
    c.circuit_sparse_backend = DMN_SPARSE_PETSC;
    Setup a, b;
    PetscCall(setup(&a, &c, NULL));
    c.circuit_sparse_backend = DMN_SPARSE_CSR;
    PetscCall(setup(&b, &c, NULL));
    double md = 0, mg = 0;
    for (size_t i = 0; i < a.g.n; i++) {
      md = fmax(md, fabs(a.g.data[i] - b.g.data[i]));
      mg = fmax(mg, fabs(a.g.data[i]));
    }
    printf("  PETSc vs CSR: loss %.17g vs %.17g, max |grad diff| %.2e (max |grad| %.2e)\n", a.loss, b.loss, md, mg);
    CHECK(fabs(a.loss - b.loss) <= 1e-12 * fabs(a.loss), "losses agree");
    CHECK(md <= 1e-9 * mg, "gradients agree");
    PetscCall(teardown(&a));
    PetscCall(teardown(&b));
  }

  /* 8. initial rates of the default circuit (MODEL §2): plausible before learning */
  {
    config_defaults(&c);
    DmnModel m;
    DmnParams p;
    DmnDerived d;
    DmnTape t;
    DmnWork w;
    PetscCall(model_build(&c, NULL, &m, err));
    params_alloc(&m, &p);
    model_init_params(&m, &p);
    PetscCall(derived_create(&m, &d));
    PetscCall(derived_update(&m, &p, &d));
    tape_alloc(&m, &t);
    work_alloc(&m, &w);
    double rate[DMN_NLAYER] = {0}, kc_act = 0;
    const int n_ep = 3;
    for (int e = 0; e < n_ep; e++) {
      double p0[2], psi0;
      episode_start_pose(&m, DMN_STREAM_SIM_START, 0, e, p0, &psi0);
      PetscCall(episode_forward(&m, &p, &d, p0, psi0, &t, &w, err));
      for (int l = 0; l < DMN_NLAYER; l++) rate[l] += t.metrics.rate_hz[l] / n_ep;
      kc_act += t.metrics.kc_active_fraction / n_ep;
    }
    printf("  default circuit at init: ORN %.1f PN %.1f KC %.2f Hz (%.1f%% active per 100 ms) MBON %.1f DN %.1f Hz\n", rate[0], rate[1],
           rate[2], 100 * kc_act, rate[3], rate[4]);
    CHECK(rate[DMN_L_ORN] >= 10 && rate[DMN_L_ORN] <= 100, "ORN tens of Hz: %.1f", rate[DMN_L_ORN]);
    CHECK(rate[DMN_L_PN] >= 10 && rate[DMN_L_PN] <= 100, "PN tens of Hz: %.1f", rate[DMN_L_PN]);
    CHECK(rate[DMN_L_KC] >= 0.5 && rate[DMN_L_KC] <= 10, "KC a few Hz: %.2f", rate[DMN_L_KC]);
    CHECK(kc_act >= 0.05 && kc_act <= 0.20, "5-20%% of KCs active: %.3f", kc_act);
    CHECK(rate[DMN_L_MBON] >= 10 && rate[DMN_L_MBON] <= 100, "MBON tens of Hz: %.1f", rate[DMN_L_MBON]);
    CHECK(rate[DMN_L_DN] >= 10 && rate[DMN_L_DN] <= 100, "DN tens of Hz: %.1f", rate[DMN_L_DN]);
    /* the APL keeps KC coding sparse: ablated, the same circuit codes densely */
    {
      DmnConfig ca = c;
      const char *les = "lesions:\n  - {kind: ablate, layer: APL, select: all}\n";
      CHECK(config_parse_text(&ca, les, strlen(les), "(lesions)", err) == 0, "%s", err);
      DmnModel ma;
      DmnDerived da;
      PetscCall(model_build(&ca, NULL, &ma, err));
      PetscCall(derived_create(&ma, &da));
      PetscCall(derived_update(&ma, &p, &da)); /* the same parameters */
      double kc_act_abl = 0, kc_rate_abl = 0;
      for (int e = 0; e < n_ep; e++) {
        double p0[2], psi0;
        episode_start_pose(&ma, DMN_STREAM_SIM_START, 0, e, p0, &psi0);
        PetscCall(episode_forward(&ma, &p, &da, p0, psi0, &t, &w, err));
        kc_act_abl += t.metrics.kc_active_fraction / n_ep;
        kc_rate_abl += t.metrics.rate_hz[DMN_L_KC] / n_ep;
      }
      printf("  APL ablated: KC %.2f Hz, %.1f%% active per 100 ms (intact %.2f Hz, %.1f%%)\n", kc_rate_abl, 100 * kc_act_abl, rate[DMN_L_KC],
             100 * kc_act);
      /* model v2.1's untrained circuit: KCs fire ~4x faster and ~1.8x more of
       * them per window without the APL (the trained fly: analysis/RESULTS.md) */
      CHECK(kc_act_abl > 1.5 * kc_act && kc_rate_abl > 3 * rate[DMN_L_KC], "APL ablated: KC coding dense (%.1f%% of KCs active vs %.1f%% intact, %.2f vs %.2f Hz)",
            100 * kc_act_abl, 100 * kc_act, kc_rate_abl, rate[DMN_L_KC]);
      PetscCall(derived_destroy(&da));
      model_free(&ma);
    }
    work_free(&w);
    tape_free(&t);
    PetscCall(derived_destroy(&d));
    params_free(&p);
    model_free(&m);
  }
  int rc = th_summary("test_grad");
  PetscCall(PetscFinalize());
  return rc;
}
