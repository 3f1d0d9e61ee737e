/* nmf — the NeuroMechFly v2 body in MuJoCo 2.2.2: scene, CPG, preprogrammed
 * step, turning by the two drives, odor sensors, physics health (nmf.h).
 *
 * The controller is flygym v1.2.1's HybridTurningController without its
 * correction rules (examples/locomotion/{cpg_controller,turning_controller,
 * steps}.py), rewritten in C: the CPG is integrated by Euler at the physics
 * time step, as flygym does, and the step is a periodic cubic spline over
 * phase through the 45 recorded samples. */
#include "nmf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#ifdef DMN_HAVE_MUJOCO
#include <mujoco/mujoco.h>
#include <setjmp.h>

static const char *leg_name[NMF_LEGS] = {"LF", "LM", "LH", "RF", "RM", "RH"};
static const char *dof_name[NMF_DOFS] = {"Coxa", "Coxa_roll", "Coxa_yaw", "Femur", "Femur_roll", "Tibia", "Tarsus1"};

struct NmfBody {
  NmfOptions o;
  mjModel *m;
  mjData *d;
  int substeps, key_stretch;
  int act_joint[NMF_NJOINT], act_adhesion[NMF_LEGS];
  int qadr_joint[NMF_NJOINT];
  int site_thorax, site_sensor[4]; /* L/R antenna, L/R palp */
  int site_tarsus[NMF_LEGS];
  int body_fly;
  int *body_leg;                   /* (nbody) leg of a body, -1 for none */
  /* the preprogrammed step: n_knot samples over one period (the last equal
   * to the first), second derivatives of the periodic spline */
  int n_knot;
  double h; /* knot spacing in phase, rad */
  double y[NMF_NJOINT][NMF_MAX_STEP_ROWS], ypp[NMF_NJOINT][NMF_MAX_STEP_ROWS];
  double neutral[NMF_NJOINT];       /* spline at phase pi (flygym's neutral_pose_phases) */
  double swing_end[NMF_LEGS];       /* adhesion off for phase in (0, swing_end) */
  /* CPG state */
  double phase[NMF_LEGS], mag[NMF_LEGS];
  double psi, psi_prev_raw;         /* unwrapped heading */
  NmfHealth health;
  char problem[256];
};

/* MuJoCo's errors end the process by default; inside an episode they stop
 * that episode with the message instead (the caller reports it). */
static jmp_buf *nmf_jump;
static char nmf_errmsg[512];
static void nmf_on_error(const char *msg) {
  snprintf(nmf_errmsg, sizeof nmf_errmsg, "%s", msg);
  if (nmf_jump) longjmp(*nmf_jump, 1);
  fprintf(stderr, "dmn_mpi: MuJoCo error: %s\n", msg);
  abort();
}
static void nmf_on_warning(const char *msg) { (void)msg; /* counted per episode from d->warning (health) */ }

/* Periodic cubic spline through y[0..n-1] (y[n-1] = y[0]) at uniform
 * spacing h: second derivatives from the cyclic system
 * M[i-1] + 4 M[i] + M[i+1] = 6 (y[i+1] - 2 y[i] + y[i-1]) / h^2, i = 0..N-1
 * (N = n - 1 intervals), solved by Gauss-Seidel: it is diagonally dominant
 * (4 against 1 + 1) and converges to machine precision in a few dozen sweeps. */
static void spline_periodic(const double *y, int n, double h, double *ypp) {
  const int N = n - 1;
  double rhs[NMF_MAX_STEP_ROWS];
  for (int i = 0; i < N; i++) {
    double ym = y[(i - 1 + N) % N], yp = y[(i + 1) % N];
    rhs[i] = 6.0 * (yp - 2.0 * y[i] + ym) / (h * h);
    ypp[i] = 0.0;
  }
  for (int it = 0; it < 200; it++) {
    double change = 0.0;
    for (int i = 0; i < N; i++) {
      double v = (rhs[i] - ypp[(i - 1 + N) % N] - ypp[(i + 1) % N]) / 4.0;
      change = fmax(change, fabs(v - ypp[i]));
      ypp[i] = v;
    }
    if (change < 1e-15 * (1.0 + fabs(ypp[0]))) break;
  }
  ypp[N] = ypp[0];
}

static double spline_eval(const double *y, const double *ypp, int n, double h, double phi) {
  const int N = n - 1;
  double period = N * h;
  phi = fmod(phi, period);
  if (phi < 0) phi += period;
  int i = (int)(phi / h);
  if (i >= N) i = N - 1;
  double t = phi - i * h, u = h - t;
  return ypp[i] * u * u * u / (6 * h) + ypp[i + 1] * t * t * t / (6 * h) + (y[i] / h - ypp[i] * h / 6) * u + (y[i + 1] / h - ypp[i + 1] * h / 6) * t;
}

void nmf_step_targets(const NmfBody *b, int leg, double phi, double r, double q[NMF_DOFS]) {
  for (int k = 0; k < NMF_DOFS; k++) {
    int j = leg * NMF_DOFS + k;
    double s = spline_eval(b->y[j], b->ypp[j], b->n_knot, b->h, phi);
    q[k] = b->neutral[j] + r * (s - b->neutral[j]);
  }
}

int nmf_adhesion_on(const NmfBody *b, int leg, double phi) {
  double p = fmod(phi, 2 * M_PI);
  if (p < 0) p += 2 * M_PI;
  return !(p > 0.0 && p < b->swing_end[leg]);
}

static int read_steps(NmfBody *b, char *err, size_t n_err) {
  char path[2048], e[DMN_ERR_MAX];
  CsvReader r;
  snprintf(path, sizeof path, "%s/steps/single_steps_untethered.csv", b->o.dir);
  if (csv_open(&r, path, e)) {
    snprintf(err, n_err, "body.kind neuromechfly: %.900s", e);
    return 1;
  }
  int col[NMF_NJOINT], ct = csv_require(&r, "t_s", e);
  for (int j = 0; j < NMF_NJOINT && ct >= 0; j++) {
    char name[64];
    snprintf(name, sizeof name, "joint_%s%s", leg_name[j / NMF_DOFS], dof_name[j % NMF_DOFS]);
    if ((col[j] = csv_require(&r, name, e)) < 0) ct = -1;
  }
  int n = 0, rc;
  double t_first = 0, t_second = 0;
  while (ct >= 0 && (rc = csv_next(&r, e)) == 1) {
    if (n >= NMF_MAX_STEP_ROWS) {
      snprintf(e, sizeof e, "%.900s: more than %d rows", path, NMF_MAX_STEP_ROWS);
      ct = -1;
      break;
    }
    double t;
    if (csv_double(&r, ct, &t, e)) ct = -1;
    if (n == 0) t_first = t;
    if (n == 1) t_second = t;
    for (int j = 0; j < NMF_NJOINT && ct >= 0; j++)
      if (csv_double(&r, col[j], &b->y[j][n], e)) ct = -1;
    n++;
  }
  if (ct >= 0 && rc < 0) ct = -1;
  csv_close(&r);
  if (ct < 0) {
    snprintf(err, n_err, "body.kind neuromechfly: %.900s", e);
    return 1;
  }
  if (n < 4) {
    snprintf(err, n_err, "body.kind neuromechfly: %s: %d rows; the step needs at least 4", path, n);
    return 1;
  }
  for (int j = 0; j < NMF_NJOINT; j++)
    if (fabs(b->y[j][n - 1] - b->y[j][0]) > 1e-9) {
      snprintf(err, n_err, "body.kind neuromechfly: %s: the last row must repeat the first (a periodic step); column %d differs by %g rad",
               path, j + 1, b->y[j][n - 1] - b->y[j][0]);
      return 1;
    }
  b->n_knot = n;
  b->h = 2 * M_PI / (n - 1); /* flygym: phase_grid = linspace(0, 2 pi, n) */
  for (int j = 0; j < NMF_NJOINT; j++) {
    spline_periodic(b->y[j], n, b->h, b->ypp[j]);
    b->neutral[j] = spline_eval(b->y[j], b->ypp[j], n, b->h, M_PI);
  }
  /* swing from phase 0 to the stance onset: flygym divides by the step's
   * duration n x timestep */
  double duration = n * (t_second - t_first);
  snprintf(path, sizeof path, "%s/steps/single_steps_swing_stance.csv", b->o.dir);
  if (csv_open(&r, path, e)) {
    snprintf(err, n_err, "body.kind neuromechfly: %.900s", e);
    return 1;
  }
  int cl = csv_require(&r, "leg", e), cs = cl >= 0 ? csv_require(&r, "stance_onset_s", e) : -1, seen = 0;
  while (cs >= 0 && (rc = csv_next(&r, e)) == 1) {
    double onset;
    if (csv_double(&r, cs, &onset, e)) {
      cs = -1;
      break;
    }
    for (int l = 0; l < NMF_LEGS; l++)
      if (!strcmp(csv_field(&r, cl), leg_name[l])) {
        b->swing_end[l] = onset / duration * 2 * M_PI;
        seen |= 1 << l;
      }
  }
  if (cs >= 0 && rc < 0) cs = -1;
  csv_close(&r);
  if (cs < 0 || seen != (1 << NMF_LEGS) - 1) {
    if (cs >= 0) snprintf(e, sizeof e, "%.900s: a row for each of LF LM LH RF RM RH is needed", path);
    snprintf(err, n_err, "body.kind neuromechfly: %.900s", e);
    return 1;
  }
  return 0;
}

static int need_id(const NmfBody *b, int type, const char *name, const char *path, char *err, size_t n_err) {
  int id = mj_name2id(b->m, type, name);
  if (id < 0) snprintf(err, n_err, "body.kind neuromechfly: %s has no %s '%s' (not a NeuroMechFly scene?)", path,
                       type == mjOBJ_SITE ? "site" : type == mjOBJ_BODY ? "body" : type == mjOBJ_ACTUATOR ? "actuator" : type == mjOBJ_KEY ? "keyframe" : "joint",
                       name);
  return id;
}

NmfBody *nmf_open(const NmfOptions *o, char *err, size_t n_err) {
  NmfBody *b = calloc(1, sizeof *b);
  if (!b) {
    snprintf(err, n_err, "body.kind neuromechfly: out of memory");
    return NULL;
  }
  b->o = *o;
  mju_user_error = nmf_on_error;
  mju_user_warning = nmf_on_warning;
  if (read_steps(b, err, n_err)) {
    free(b);
    return NULL;
  }
  char path[2048], msg[1000] = "";
  snprintf(path, sizeof path, "%s/mjcf/%s", o->dir, o->scene);
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, n_err, "body.kind neuromechfly: cannot open %s (body.nmf_dir names the folder of mjcf/, mesh/, steps/)", path);
    free(b);
    return NULL;
  }
  fclose(f);
  b->m = mj_loadXML(path, NULL, msg, sizeof msg);
  if (!b->m) {
    snprintf(err, n_err, "body.kind neuromechfly: MuJoCo cannot load %s: %s", path, msg);
    free(b);
    return NULL;
  }
  if (o->noslip_iterations >= 0) b->m->opt.noslip_iterations = o->noslip_iterations;
  /* constraint and contact slots other than the scene's (1000 / 200; walking
   * uses at most ~50 contacts): the stack, which holds njmax^2-sized
   * matrices, scales with njmax both ways */
  if (o->njmax > 0 || o->nconmax > 0) {
    int nj = o->njmax > 0 ? o->njmax : b->m->njmax, nc = o->nconmax > 0 ? o->nconmax : b->m->nconmax;
    double scale = (double)nj / b->m->njmax;
    b->m->njmax = nj;
    b->m->nconmax = nc;
    long ns = (long)(b->m->nstack * scale * scale) + 1000L * b->m->nv;
    if (ns < 100000) ns = 100000;
    b->m->nstack = ns > 2000000000L ? 2000000000 : (int)ns;
  }
  b->d = mj_makeData(b->m);
  if (!b->d) {
    snprintf(err, n_err, "body.kind neuromechfly: MuJoCo cannot allocate the simulation data of %s (lower body.nmf_njmax)", path);
    mj_deleteModel(b->m);
    free(b);
    return NULL;
  }
  int bad = 0;
  for (int j = 0; j < NMF_NJOINT && !bad; j++) {
    char name[96];
    snprintf(name, sizeof name, "actuator_position_joint_%s%s", leg_name[j / NMF_DOFS], dof_name[j % NMF_DOFS]);
    if ((b->act_joint[j] = need_id(b, mjOBJ_ACTUATOR, name, path, err, n_err)) < 0) bad = 1;
    snprintf(name, sizeof name, "joint_%s%s", leg_name[j / NMF_DOFS], dof_name[j % NMF_DOFS]);
    int jid = bad ? -1 : need_id(b, mjOBJ_JOINT, name, path, err, n_err);
    if (jid < 0) bad = 1;
    else b->qadr_joint[j] = b->m->jnt_qposadr[jid];
  }
  for (int l = 0; l < NMF_LEGS && !bad; l++) {
    char name[96];
    snprintf(name, sizeof name, "%sTarsus5_adhesion", leg_name[l]);
    if ((b->act_adhesion[l] = need_id(b, mjOBJ_ACTUATOR, name, path, err, n_err)) < 0) bad = 1;
    snprintf(name, sizeof name, "%sTarsus5_site", leg_name[l]);
    if (!bad && (b->site_tarsus[l] = need_id(b, mjOBJ_SITE, name, path, err, n_err)) < 0) bad = 1;
  }
  const char *sensor[4] = {"LAntenna_sensor", "RAntenna_sensor", "LMaxillaryPalp_sensor", "RMaxillaryPalp_sensor"};
  for (int k = 0; k < 4 && !bad; k++)
    if ((b->site_sensor[k] = need_id(b, mjOBJ_SITE, sensor[k], path, err, n_err)) < 0) bad = 1;
  if (!bad && (b->site_thorax = need_id(b, mjOBJ_SITE, "thorax", path, err, n_err)) < 0) bad = 1;
  if (!bad && (b->body_fly = need_id(b, mjOBJ_BODY, "FlyBody", path, err, n_err)) < 0) bad = 1;
  if (!bad && (b->key_stretch = need_id(b, mjOBJ_KEY, "stretch", path, err, n_err)) < 0) bad = 1;
  if (!bad && b->m->jnt_type[b->m->body_jntadr[b->body_fly]] != mjJNT_FREE) {
    snprintf(err, n_err, "body.kind neuromechfly: %s: FlyBody has no free joint (use a scene such as nmf_scene_floor.xml, not the bare body)", path);
    bad = 1;
  }
  if (bad) {
    nmf_close(b);
    return NULL;
  }
  /* which leg each body belongs to, from its name (LFCoxa, RHTarsus5, ...) */
  b->body_leg = malloc(sizeof(int) * (size_t)b->m->nbody);
  for (int i = 0; i < b->m->nbody; i++) {
    const char *name = mj_id2name(b->m, mjOBJ_BODY, i);
    b->body_leg[i] = -1;
    for (int l = 0; name && l < NMF_LEGS; l++)
      if (!strncmp(name, leg_name[l], 2) && strlen(name) > 2 && (name[2] == 'C' || name[2] == 'T' || name[2] == 'F')) b->body_leg[i] = l;
  }
  double dt_ms = b->m->opt.timestep * 1000.0;
  b->substeps = (int)floor(o->brain_dt_ms / dt_ms + 0.5);
  if (b->substeps < 1 || fabs(b->substeps * dt_ms - o->brain_dt_ms) > 1e-9 * o->brain_dt_ms) {
    snprintf(err, n_err,
             "body.kind neuromechfly: sim.dt %g ms is not a whole number of the scene's physics steps (%g ms); the brain and the body "
             "must stay in step",
             o->brain_dt_ms, dt_ms);
    nmf_close(b);
    return NULL;
  }
  return b;
}

void nmf_close(NmfBody *b) {
  if (!b) return;
  if (b->d) mj_deleteData(b->d);
  if (b->m) mj_deleteModel(b->m);
  free(b->body_leg);
  free(b);
}

int nmf_substeps(const NmfBody *b) { return b->substeps; }
double nmf_physics_dt(const NmfBody *b) { return b->m->opt.timestep; }
size_t nmf_memory_bytes(const NmfBody *b) { return (size_t)b->m->nbuffer + (size_t)b->d->nbuffer + sizeof(mjtNum) * (size_t)b->d->nstack; }

static double fly_heading(const NmfBody *b) {
  const mjtNum *R = b->d->xmat + 9 * b->body_fly;
  return atan2(R[3], R[0]); /* the body's x axis (forward) in the floor plane */
}

int nmf_reset(NmfBody *b, double x, double y, double psi, char *err, size_t n_err) {
  mj_resetDataKeyframe(b->m, b->d, b->key_stretch);
  int q0 = b->m->jnt_qposadr[b->m->body_jntadr[b->body_fly]];
  b->d->qpos[q0 + 0] = x;
  b->d->qpos[q0 + 1] = y;
  b->d->qpos[q0 + 3] = cos(psi / 2);
  b->d->qpos[q0 + 4] = 0;
  b->d->qpos[q0 + 5] = 0;
  b->d->qpos[q0 + 6] = sin(psi / 2);
  jmp_buf jb;
  nmf_jump = &jb;
  if (setjmp(jb)) {
    nmf_jump = NULL;
    snprintf(err, n_err, "MuJoCo: %s", nmf_errmsg);
    return 1;
  }
  mj_forward(b->m, b->d);
  nmf_jump = NULL;
  for (int l = 0; l < NMF_LEGS; l++) {
    b->phase[l] = (l == 0 || l == 2 || l == 4) ? 0.0 : M_PI; /* tripods {LF, LH, RM} and {LM, RF, RH} */
    b->mag[l] = 0.0;
  }
  b->psi = b->psi_prev_raw = fly_heading(b);
  memset(&b->health, 0, sizeof b->health);
  b->health.min_up = 1.0;
  b->health.min_foot_z = INFINITY;
  b->problem[0] = 0;
  return 0;
}

/* flygym's tripod network: coupling 10 between legs half a cycle apart
 * (phase bias pi), convergence 20 /s of the magnitudes to |d|. */
static void cpg_step(NmfBody *b, const double d[2], double dt) {
  double dphi[NMF_LEGS];
  for (int i = 0; i < NMF_LEGS; i++) {
    const double dk = d[i < 3 ? 0 : 1];
    double rate = 2 * M_PI * b->o.cpg_freq * (dk > 0 ? 1.0 : -1.0);
    for (int j = 0; j < NMF_LEGS; j++) {
      if (((i + j) & 1) == 0) continue; /* weight 0 within a tripod */
      rate += b->mag[j] * 10.0 * sin(b->phase[j] - b->phase[i] - M_PI);
    }
    dphi[i] = rate;
  }
  for (int i = 0; i < NMF_LEGS; i++) {
    const double dk = d[i < 3 ? 0 : 1];
    b->phase[i] += dphi[i] * dt;
    b->mag[i] += 20.0 * (fabs(dk) - b->mag[i]) * dt;
  }
}

static void check_health(NmfBody *b) {
  const mjData *d = b->d;
  NmfHealth *h = &b->health;
  const mjtNum *R = d->xmat + 9 * b->body_fly;
  if (R[8] < h->min_up) h->min_up = R[8];
  if (R[8] < 0.5) h->flipped++;
  double lowest = INFINITY;
  for (int l = 0; l < NMF_LEGS; l++)
    lowest = fmin(lowest, d->site_xpos[3 * b->site_tarsus[l] + 2]);
  if (lowest < h->min_foot_z) h->min_foot_z = lowest;
  if (lowest < -0.1) h->sunk++;
  if (d->ncon > h->max_contacts) h->max_contacts = d->ncon;
}

int nmf_step(NmfBody *b, const double d_in[2], char *err, size_t n_err) {
  mjData *d = b->d;
  const double dt = b->m->opt.timestep;
  double dd[2] = {d_in[0], d_in[1]};
  jmp_buf jb;
  nmf_jump = &jb;
  if (setjmp(jb)) {
    nmf_jump = NULL;
    b->health.error = 1;
    snprintf(err, n_err, "MuJoCo: %s", nmf_errmsg);
    return 1;
  }
  const int warn0 = d->warning[mjWARN_BADQACC].number + d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number;
  const int full0 = d->warning[mjWARN_CONTACTFULL].number + d->warning[mjWARN_CNSTRFULL].number;
  for (int s = 0; s < b->substeps; s++) {
    cpg_step(b, dd, dt);
    for (int l = 0; l < NMF_LEGS; l++) {
      double q[NMF_DOFS];
      nmf_step_targets(b, l, b->phase[l], b->mag[l], q);
      for (int k = 0; k < NMF_DOFS; k++)
        d->ctrl[b->act_joint[l * NMF_DOFS + k]] = q[k];
      d->ctrl[b->act_adhesion[l]] = nmf_adhesion_on(b, l, b->phase[l]);
    }
    mj_step(b->m, d);
  }
  nmf_jump = NULL;
  int bad = d->warning[mjWARN_BADQACC].number + d->warning[mjWARN_BADQPOS].number + d->warning[mjWARN_BADQVEL].number - warn0;
  for (int i = 0; i < b->m->nq && !bad; i++)
    if (!isfinite(d->qpos[i])) bad = 1;
  if (bad) b->health.nonfinite++;
  if (d->warning[mjWARN_CONTACTFULL].number + d->warning[mjWARN_CNSTRFULL].number > full0) b->health.contacts_full++;
  check_health(b);
  /* unwrap the heading so it can be compared with the reduced body's */
  double raw = fly_heading(b), dpsi = raw - b->psi_prev_raw;
  dpsi -= 2 * M_PI * floor((dpsi + M_PI) / (2 * M_PI));
  b->psi += dpsi;
  b->psi_prev_raw = raw;
  return 0;
}

void nmf_pose(const NmfBody *b, double p[2], double *psi) {
  p[0] = b->d->site_xpos[3 * b->site_thorax];
  p[1] = b->d->site_xpos[3 * b->site_thorax + 1];
  *psi = b->psi;
}

void nmf_sensors(const NmfBody *b, double left[2], double right[2]) {
  const mjtNum *x = b->d->site_xpos;
  if (b->o.sensors == NMF_SENSE_REDUCED) {
    double p[2], psi;
    nmf_pose(b, p, &psi);
    double c = cos(psi), s = sin(psi);
    left[0] = p[0] + c * b->o.ant_x - s * b->o.ant_y;
    left[1] = p[1] + s * b->o.ant_x + c * b->o.ant_y;
    right[0] = p[0] + c * b->o.ant_x + s * b->o.ant_y;
    right[1] = p[1] + s * b->o.ant_x - c * b->o.ant_y;
    return;
  }
  const double wa = b->o.sensors == NMF_SENSE_PALPS ? 0.9 : 1.0, wp = 1.0 - wa;
  for (int k = 0; k < 2; k++) {
    left[k] = wa * x[3 * b->site_sensor[0] + k] + wp * x[3 * b->site_sensor[2] + k];
    right[k] = wa * x[3 * b->site_sensor[1] + k] + wp * x[3 * b->site_sensor[3] + k];
  }
}

void nmf_sensor_sites(const NmfBody *b, double xyz[4][3]) {
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 3; j++) xyz[k][j] = b->d->site_xpos[3 * b->site_sensor[k] + j];
}

void nmf_joints(const NmfBody *b, double q[NMF_NJOINT]) {
  for (int j = 0; j < NMF_NJOINT; j++)
    q[j] = b->d->qpos[b->qadr_joint[j]];
}

void nmf_adhesion(const NmfBody *b, double on[NMF_LEGS]) {
  for (int l = 0; l < NMF_LEGS; l++)
    on[l] = b->d->ctrl[b->act_adhesion[l]];
}

void nmf_contacts(const NmfBody *b, int per_leg[NMF_LEGS]) {
  memset(per_leg, 0, sizeof(int) * NMF_LEGS);
  for (int c = 0; c < b->d->ncon; c++) {
    const mjContact *k = b->d->contact + c;
    int l1 = b->body_leg[b->m->geom_bodyid[k->geom1]], l2 = b->body_leg[b->m->geom_bodyid[k->geom2]];
    if (l1 >= 0) per_leg[l1]++;
    else if (l2 >= 0) per_leg[l2]++;
  }
}

double nmf_height(const NmfBody *b) { return b->d->site_xpos[3 * b->site_thorax + 2]; }

const NmfHealth *nmf_health(const NmfBody *b) { return &b->health; }

const char *nmf_health_problem(const NmfBody *b) {
  const NmfHealth *h = &b->health;
  NmfBody *w = (NmfBody *)b;
  w->problem[0] = 0;
  if (h->error) snprintf(w->problem, sizeof w->problem, "MuJoCo error: %.200s", nmf_errmsg);
  else if (h->nonfinite)
    snprintf(w->problem, sizeof w->problem, "unstable: non-finite state at %d brain steps (MuJoCo reset it)", h->nonfinite);
  else if (h->flipped)
    snprintf(w->problem, sizeof w->problem, "flipped over: up axis below 60 degrees at %d steps (lowest %.2f)", h->flipped, h->min_up);
  else if (h->sunk)
    snprintf(w->problem, sizeof w->problem, "feet sank through the floor: %d steps (lowest tarsus %.3f mm)", h->sunk, h->min_foot_z);
  else if (h->contacts_full)
    snprintf(w->problem, sizeof w->problem, "ran out of contact slots at %d steps (raise body.nmf_njmax)", h->contacts_full);
  return w->problem;
}

#else /* without MuJoCo */

struct NmfBody {
  int unused;
};
NmfBody *nmf_open(const NmfOptions *o, char *err, size_t n_err) {
  (void)o;
  snprintf(err, n_err, "body.kind neuromechfly: this dmn_mpi was built without MuJoCo (install libmujoco-dev and rebuild: jobs/build.sh)");
  return NULL;
}
void nmf_close(NmfBody *b) { (void)b; }
int nmf_substeps(const NmfBody *b) { (void)b; return 0; }
double nmf_physics_dt(const NmfBody *b) { (void)b; return 0; }
size_t nmf_memory_bytes(const NmfBody *b) { (void)b; return 0; }
int nmf_reset(NmfBody *b, double x, double y, double psi, char *err, size_t n_err) { (void)b, (void)x, (void)y, (void)psi, (void)err, (void)n_err; return 1; }
int nmf_step(NmfBody *b, const double d[2], char *err, size_t n_err) { (void)b, (void)d, (void)err, (void)n_err; return 1; }
void nmf_pose(const NmfBody *b, double p[2], double *psi) { (void)b, p[0] = p[1] = *psi = 0; }
void nmf_sensors(const NmfBody *b, double l[2], double r[2]) { (void)b, l[0] = l[1] = r[0] = r[1] = 0; }
void nmf_joints(const NmfBody *b, double q[NMF_NJOINT]) { (void)b, memset(q, 0, sizeof(double) * NMF_NJOINT); }
void nmf_sensor_sites(const NmfBody *b, double xyz[4][3]) { (void)b, memset(xyz, 0, sizeof(double) * 12); }
void nmf_contacts(const NmfBody *b, int c[NMF_LEGS]) { (void)b, memset(c, 0, sizeof(int) * NMF_LEGS); }
void nmf_adhesion(const NmfBody *b, double on[NMF_LEGS]) { (void)b, memset(on, 0, sizeof(double) * NMF_LEGS); }
double nmf_height(const NmfBody *b) { (void)b; return 0; }
const NmfHealth *nmf_health(const NmfBody *b) { (void)b; static NmfHealth h; return &h; }
const char *nmf_health_problem(const NmfBody *b) { (void)b; return ""; }
void nmf_step_targets(const NmfBody *b, int leg, double phi, double r, double q[NMF_DOFS]) { (void)b, (void)leg, (void)phi, (void)r, memset(q, 0, sizeof(double) * NMF_DOFS); }
int nmf_adhesion_on(const NmfBody *b, int leg, double phi) { (void)b, (void)leg, (void)phi; return 0; }

#endif
