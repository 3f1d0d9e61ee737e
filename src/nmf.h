/* nmf — the NeuroMechFly v2 body in MuJoCo 2.2.2 (body.kind: neuromechfly;
 * forward only).  A six-oscillator CPG plays the preprogrammed step back
 * through periodic splines into 42 position actuators, adhesion on in stance,
 * and flygym's two-drive turning scheme makes the circuit's descending drive
 * [dL, dR] steer it unchanged: each side's step amplitude is |d|, a negative
 * d walks that side backward.  Units: mm, s (MuJoCo), rad; poses handed to the
 * episode are in the arena's frame (mm, heading in rad).
 *
 * Built only with MuJoCo (DMN_HAVE_MUJOCO); without it nmf_open says so. */
#ifndef DMN_NMF_H
#define DMN_NMF_H

#include <stddef.h>

#define NMF_LEGS 6
#define NMF_DOFS 7               /* per leg: Coxa, Coxa_roll, Coxa_yaw, Femur, Femur_roll, Tibia, Tarsus1 */
#define NMF_NJOINT (NMF_LEGS * NMF_DOFS)
#define NMF_MAX_STEP_ROWS 512

/* Where the odor is sensed: the model's antenna sites (flygym's
 * LAntenna/RAntenna_sensor), the antenna and maxillary palp sites averaged
 * 9:1 as flygym's odor-taxis example does, or the reduced body's antenna
 * points (sensing.antenna_x, +-antenna_y) on the NeuroMechFly thorax — the
 * last isolates the gap the physics makes from the one the sensor geometry
 * makes. */
enum { NMF_SENSE_ANTENNAE = 0, NMF_SENSE_PALPS = 1, NMF_SENSE_REDUCED = 2 };

typedef struct NmfOptions {
  char dir[1024];          /* folder with mjcf/, mesh/, steps/ (configs/bodies/neuromechfly) */
  char scene[512];         /* scene file in mjcf/ */
  double brain_dt_ms;      /* one brain step = substeps physics steps */
  double cpg_freq;         /* Hz, flygym's 12 */
  int noslip_iterations;   /* < 0: the scene's (100) */
  int njmax, nconmax;      /* <= 0: the scene's */
  int sensors;             /* NMF_SENSE_* */
  double ant_x, ant_y;     /* the reduced body's antenna points (NMF_SENSE_REDUCED), mm */
} NmfOptions;

/* Per-episode physics health (counted over the episode, reported, never hidden). */
typedef struct NmfHealth {
  int nonfinite;      /* steps with a non-finite qpos/qvel/qacc (MuJoCo resets such a state: the episode is void) */
  int flipped;        /* steps with the body's up axis tilted more than 60 degrees */
  int sunk;           /* steps with a tarsus tip more than 0.1 mm below the floor */
  int contacts_full;  /* MuJoCo ran out of contact or constraint slots (raise body.nmf_njmax) */
  int max_contacts;   /* most contacts at one step */
  double min_up;      /* smallest z of the body's up axis (1 = upright) */
  double min_foot_z;  /* lowest tarsus tip, mm */
  int error;          /* a MuJoCo error stopped the episode (message in nmf_error) */
} NmfHealth;

typedef struct NmfBody NmfBody;

/* Load the scene and the step data; NULL with err set (names the file). */
NmfBody *nmf_open(const NmfOptions *o, char *err, size_t n_err);
void nmf_close(NmfBody *b);
int nmf_substeps(const NmfBody *b);
double nmf_physics_dt(const NmfBody *b); /* s */
size_t nmf_memory_bytes(const NmfBody *b); /* model + data */

/* Start: the stretch pose at (x, y) mm facing psi rad, CPG phases in
 * tripod, magnitudes 0 (they converge to |d| within ~0.1 s, as flygym's). */
int nmf_reset(NmfBody *b, double x, double y, double psi, char *err, size_t n_err);
/* One brain step with drive d = [dL, dR]: substeps physics steps. */
int nmf_step(NmfBody *b, const double d[2], char *err, size_t n_err);

/* Thorax position (x, y) mm and heading rad (unwrapped over the episode). */
void nmf_pose(const NmfBody *b, double p[2], double *psi);
/* World (x, y) of the left and right odor sensors (NmfOptions.sensors). */
void nmf_sensors(const NmfBody *b, double left[2], double right[2]);
/* The four odor-sensor sites in 3D (mm): left and right antenna, left and
 * right maxillary palp. */
void nmf_sensor_sites(const NmfBody *b, double xyz[4][3]);
/* The 42 leg joint angles (rad, actuator order), the 6 adhesion commands,
 * the number of leg-floor contacts per leg. */
void nmf_joints(const NmfBody *b, double q[NMF_NJOINT]);
void nmf_contacts(const NmfBody *b, int per_leg[NMF_LEGS]);
void nmf_adhesion(const NmfBody *b, double on[NMF_LEGS]);
double nmf_height(const NmfBody *b); /* thorax height above the floor, mm */
const NmfHealth *nmf_health(const NmfBody *b);
/* One line: what is wrong with the episode's physics, or "" when healthy. */
const char *nmf_health_problem(const NmfBody *b);

/* The preprogrammed step (no physics): joint targets of leg `leg` at CPG
 * phase phi and magnitude r, and whether its adhesion is on.  Exposed for
 * the tests (periodicity, the neutral pose at r = 0). */
void nmf_step_targets(const NmfBody *b, int leg, double phi, double r, double q[NMF_DOFS]);
int nmf_adhesion_on(const NmfBody *b, int leg, double phi);

#endif
