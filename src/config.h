/* config — the run description: one YAML file, one field table.
 *
 * DMN_CONFIG_FIELDS is the single source of truth for every key: its section,
 * name, type, default, allowed range (or choices), unit and one-line doc.
 * It generates the DmnConfig struct, the defaults, the parser and validator,
 * `--print-config` and the config reference in configs/README.md (`--config-reference`).
 *
 * Row: X(section, key, TYPE, default_number, default_string_or_choices,
 *        min, max, unit, doc)
 *   DOUBLE/INT: default_number, range [min, max]
 *   BOOL:       default_number (0/1)
 *   ENUM:       default_number = index into the '|'-separated choices
 *   STRING:     default_string
 */
#ifndef DMN_CONFIG_H
#define DMN_CONFIG_H

#include <stddef.h>

#define DMN_STR_MAX 512
#define DMN_CONFIG_MAX_BYTES (16u << 20) /* a config (or a base) file is text: at most 16 MB */
#define DMN_ERR_MAX 1024

/* clang-format off */
#define DMN_CONFIG_FIELDS(X) \
  X(sim, dt,            DOUBLE, 1.0,   "", 0.01, 10.0, "ms", "time step shared by brain and body (MODEL §2)") \
  X(sim, steps,         INT,    8000,  "", 1, 100000000, "steps", "episode length T") \
  X(sim, episodes,      INT,    1,     "", 1, 1000000, "", "episodes run by --simulate (spread over ranks)") \
  X(sim, seed,          INT,    1,     "", 0, 2147483647, "", "base seed: connectome, initial weights, start poses") \
  X(sim, sweep_seeds,   STRING, 0,     "", 0, 0, "", "seeds every condition of the config's sweep: list runs with (comma-separated, e.g. 1,2,3): the sweep's tasks are conditions x seeds, each setting sim.seed; empty = sim.seed alone") \
  X(arena, size_x,      DOUBLE, 100.0, "", 1.0, 1e6, "mm", "arena floor extent in x; position is clamped to [0, size_x]") \
  X(arena, size_y,      DOUBLE, 100.0, "", 1.0, 1e6, "mm", "arena floor extent in y") \
  X(arena, size_z,      DOUBLE, 50.0,  "", 1.0, 1e6, "mm", "arena height (informational; the fly walks on the floor)") \
  X(arena, start_radius, DOUBLE, 30.0, "", 0.0, 1e6, "mm", "start poses lie on a circle of this radius around the source (the nearest radius when start_radius_max is larger)") \
  X(arena, start_radius_max, DOUBLE, 0.0, "", 0.0, 1e6, "mm", "with a value above start_radius, each start draws its radius uniformly in [start_radius, start_radius_max] (training over distances: src/MODEL.md §5); 0 = every start at start_radius") \
  X(odor, field,        ENUM,   0, "exponential|gaussian", 0, 0, "", "odor field shape (MODEL §3)") \
  X(odor, source_x,     DOUBLE, 50.0,  "", -1e6, 1e6, "mm", "odor source x") \
  X(odor, source_y,     DOUBLE, 50.0,  "", -1e6, 1e6, "mm", "odor source y") \
  X(odor, source_z,     DOUBLE, 0.0,   "", -1e6, 1e6, "mm", "odor source z (the antennae are at z = 0)") \
  X(odor, c0,           DOUBLE, 1.0,   "", 1e-9, 1e9, "", "peak concentration C0") \
  X(odor, lambda,       DOUBLE, 15.0,  "", 1e-3, 1e6, "mm", "decay length of the exponential field") \
  X(odor, sigma,        DOUBLE, 25.0,  "", 1e-3, 1e6, "mm", "width of the gaussian field") \
  X(sensing, antenna_x, DOUBLE, 1.0,   "", -10.0, 10.0, "mm", "antenna position ahead of the body origin") \
  X(sensing, antenna_y, DOUBLE, 0.5,   "", 0.0, 10.0, "mm", "antenna half-separation (left +y, right -y)") \
  X(sensing, c_min,     DOUBLE, 1e-3,  "", 1e-12, 1e9, "", "lowest receptor tuning centre (mu spread over [ln c_min, ln C0])") \
  X(sensing, receptor,  ENUM,   2,     "gaussian|hill|weber", 0, 0, "", "receptor dose-response over log concentration (src/MODEL.md §3): gaussian = a band around the channel's centre (model v2.0), hill = a Hill function rising through the centre and saturating above it (higher concentrations recruit more channels, as real ORN types do), weber = zero below the channel's centre and ln(C/K) above it (recruited like hill, but with the same Weber-law slope at every concentration; with sensing.adapt 1 the ORN signal is the same at every distance; model v2.1)") \
  X(sensing, tuning_width, DOUBLE, 1.0, "", 0.05, 100.0, "", "receptor tuning width w in units of the spacing of the tuning centres (1 = model v1: neighbouring channels overlap at one standard deviation)") \
  X(sensing, eps,       DOUBLE, 1e-6,  "", 1e-15, 1.0, "", "concentration floor inside the log") \
  X(sensing, adapt,     DOUBLE, 1.0,   "", 0.0, 1.0, "", "ORN adaptation strength k (src/MODEL.md §3; 0 = model v1, 0.8 = v2.0, 1 = v2.1: perfect adaptation): ORN i gets g_i (r_i[t] - k A_i[t-1]), A = a low-pass of r_i with time constant adapt_tau, A[-1] = r_i[0]; the initial gain is init.orn_gain / (1 - k) for gaussian and hill receptors, so an adapted ORN is driven as in the model without adaptation and a rising (falling) concentration drives it more (less); weber receptors start from init.orn_gain (k = 1 allowed: perfect adaptation)") \
  X(sensing, adapt_tau, DOUBLE, 300.0, "", 1.0, 1e6, "ms", "time constant of ORN adaptation (sensing.adapt > 0)") \
  X(circuit, n_orn,     INT,    50,    "", 2, 100000, "neurons", "ORNs (half per antenna; one receptor each)") \
  X(circuit, n_pn,      INT,    50,    "", 2, 100000, "neurons", "PNs (synthetic connectome: must equal n_orn, one per glomerulus and side)") \
  X(circuit, n_kc,      INT,    2000,  "", 2, 1000000, "neurons", "Kenyon cells (half per side); each MBON sums every KC of its side, so with other counts scale init.kc_to_mbon by 2000/n_kc to keep the default MBON rates") \
  X(circuit, n_mbon,    INT,    34,    "", 2, 100000, "neurons", "mushroom-body output neurons (half per side)") \
  X(circuit, n_dn,      INT,    10,    "", 1, 100000, "neurons", "descending neurons") \
  X(circuit, kc_claws,  INT,    7,     "", 1, 1000, "synapses", "distinct same-side PN inputs per KC (synthetic connectome)") \
  X(circuit, kc_claws_spread, INT, 0,  "", 0, 1000, "synapses", "synthetic: claws per KC drawn uniformly in kc_claws +- spread (FlyWire: median 5, range 1-10 -> kc_claws 5, spread 4)") \
  X(circuit, dale,      BOOL,   1,     "", 0, 1, "", "sign-constrained weights w = sigma*softplus(u) on connectome projections") \
  X(circuit, lh_signed, BOOL,   0,     "", 0, 1, "", "apply Dale's sign to PN->DN too (off: the lateral-horn relay has excitatory and inhibitory LHNs, so w = u)") \
  X(circuit, spike_fn,  ENUM,   0, "heaviside|sigmoid", 0, 0, "", "heaviside + surrogate (training) or sigmoid (smooth mode for gradient checks)") \
  X(circuit, detach_reset, BOOL, 1,    "", 0, 1, "", "treat the reset term s*(V - V_reset) as constant in the backward pass") \
  X(circuit, surrogate_gamma, DOUBLE, 0.05, "", 1e-6, 100.0, "1/mV", "SuperSpike surrogate height gamma") \
  X(circuit, surrogate_beta,  DOUBLE, 0.5,  "", 0.0, 100.0, "1/mV", "SuperSpike surrogate sharpness beta") \
  X(circuit, tau_syn,   DOUBLE, 5.0,   "", 0.01, 1e4, "ms", "synaptic current time constant (fixed)") \
  X(circuit, tau_min,   DOUBLE, 1.0,   "", 0.0, 1e4, "ms", "tau = tau_min + softplus(rho)") \
  X(circuit, v_rest,    DOUBLE, -70.0, "", -200.0, 100.0, "mV", "resting potential") \
  X(circuit, v_reset,   DOUBLE, -70.0, "", -200.0, 100.0, "mV", "reset potential after a spike") \
  X(circuit, theta_init, DOUBLE, -50.0, "", -200.0, 100.0, "mV", "initial threshold of every neuron") \
  X(circuit, tau_orn,   DOUBLE, 15.0,  "", 0.01, 1e4, "ms", "initial membrane tau, ORN") \
  X(circuit, tau_pn,    DOUBLE, 15.0,  "", 0.01, 1e4, "ms", "initial membrane tau, PN") \
  X(circuit, tau_kc,    DOUBLE, 20.0,  "", 0.01, 1e4, "ms", "initial membrane tau, KC") \
  X(circuit, tau_mbon,  DOUBLE, 25.0,  "", 0.01, 1e4, "ms", "initial membrane tau, MBON") \
  X(circuit, tau_dn,    DOUBLE, 30.0,  "", 0.01, 1e4, "ms", "initial membrane tau, DN") \
  X(circuit, apl,       BOOL,   1,     "", 0, 1, "", "APL feedback inhibition (model v2): one graded, non-spiking GABAergic APL per side, driven by every KC of its side and inhibiting each of them one step later (src/MODEL.md §2b); off = model v1") \
  X(circuit, tau_apl,   DOUBLE, 10.0,  "", 0.01, 1e4, "ms", "membrane time constant of the graded APL (fixed)") \
  X(circuit, sparse_backend, ENUM, 1, "petsc|csr", 0, 0, "", "kernel of the backward's W^T d_y for PN->KC and KC->MBON (PETSc AIJ matrices either way): a MatMultAdd on the stored transpose, or the built-in loops over the same arrays (default: axpys along contiguous rows, else four transpose rows at a time; measured 27 % faster backward on the default circuit); the forward is event-driven either way") \
  X(init, orn_gain,     DOUBLE, 100.0,  "", 0.0, 1e6, "mV", "receptor -> ORN gain g_i") \
  X(init, orn_bias,     DOUBLE, 26.0,   "", -1e3, 1e3, "mV", "initial bias current of every ORN (learned with train.lr_bias; spontaneous firing when the adapted receptor drive is 0)") \
  X(init, orn_to_pn,    DOUBLE, 40.0,  "", 0.0, 1e6, "mV", "initial |w| ORN -> PN (per input spike)") \
  X(init, orn_to_pn_contra, DOUBLE, 1.0, "", 0.0, 100.0, "", "initial |w| of an ORN -> PN synapse from the other antenna relative to the same-side one, their sum kept (1: MODEL §1, both sides alike)") \
  X(init, pn_to_kc,     DOUBLE, 14.0,  "", 0.0, 1e6, "mV", "initial |w| PN -> KC") \
  X(init, kc_to_mbon,   DOUBLE, 1.9,   "", 0.0, 1e6, "mV", "initial |w| KC -> MBON") \
  X(init, mbon_to_dn,   DOUBLE, 30.0,  "", 0.0, 1e6, "mV", "initial |w| MBON -> DN (excitatory presynapse)") \
  X(init, pn_to_dn,     DOUBLE, 0.0,   "", 0.0, 1e6, "mV", "initial |w| PN -> DN (lateral horn; MODEL: 0)") \
  X(init, kc_to_apl,    DOUBLE, 1.0,   "", 0.0, 1e6, "mV", "initial KC -> APL weight per 1000 KCs on the APL's side (APL depolarisation per KC spike, before its low-pass, is this x 1000 / KCs of the side)") \
  X(init, apl_to_kc,    DOUBLE, 0.8,   "", 0.0, 1e6, "", "initial |w| APL -> KC (inhibitory current per mV of APL depolarisation)") \
  X(init, inhibitory_scale, DOUBLE, 0.25, "", 0.0, 100.0, "", "initial |w| of inhibitory presynapses relative to excitatory") \
  X(init, jitter,       DOUBLE, 0.5,   "", 0.0, 0.99, "", "initial |w| drawn uniformly in scale*(1 +- jitter)") \
  X(init, motor_w,      DOUBLE, 1.0,   "", 0.0, 1e6, "ms", "initial motor map entries M (drive per spike/ms of DN rate)") \
  X(init, motor_b,      DOUBLE, 0.0,   "", -10.0, 10.0, "", "initial motor bias m") \
  X(motor, tau_q,       DOUBLE, 50.0,  "", 0.01, 1e5, "ms", "DN rate low-pass filter time constant") \
  X(body, cpg_freq,     DOUBLE, 10.0,  "", 0.0, 1000.0, "Hz", "tripod gait frequency f") \
  X(body, amplitude,    DOUBLE, 0.5,   "", 0.0, 3.0, "rad", "coxa yaw amplitude A at full drive") \
  X(body, lift,         DOUBLE, 0.5,   "", 0.0, 3.0, "rad", "femur lift amplitude L") \
  X(body, traction,     DOUBLE, 1.0,   "", 0.0, 1.0, "", "traction eta (1 = no slip)") \
  X(body, turn_gain,    DOUBLE, 1.0,   "", 0.0, 10.0, "", "gain on the difference of the two drives as the legs see it: each side gets (dL + dR)/2 +- turn_gain (dL - dR)/2 (1 = MODEL §5 as in v2.1; --calibrate-body fits it to NeuroMechFly)") \
  X(body, spot_turn_threshold, DOUBLE, 0.0, "", 0.0, 2.0, "", "soft dead zone of turning on the spot: each side's legs get (dL + dR)/2 +- turn_gain D, D = h - t tanh(h/t) sech^2(m/w), h = (dL - dR)/2, m = (dL + dR)/2, t this, w spot_turn_width (0 = none, MODEL §5; NeuroMechFly's small opposite drives do not turn it; --calibrate-body fits it)") \
  X(body, spot_turn_width, DOUBLE, 0.3, "", 1e-3, 10.0, "", "mean forward drive over which the spot-turn threshold fades (walking forward, NeuroMechFly turns freely)") \
  X(body, kind,         ENUM,   0, "reduced|neuromechfly", 0, 0, "", "reduced = the differentiable tripod walker of MODEL §5 (training and evaluation); neuromechfly = the NeuroMechFly v2 body in MuJoCo, forward only: --evaluate CKPT runs the same starts in both bodies (src/MODEL.md §5b)") \
  X(body, nmf_dir,      STRING, 0, "", 0, 0, "", "folder of the NeuroMechFly body (mjcf/, mesh/, steps/); empty = the copy shipped in configs/bodies/neuromechfly; a relative path is relative to this file") \
  X(body, nmf_scene,    STRING, 0, "nmf_scene_floor.xml", 0, 0, "", "scene in nmf_dir/mjcf/: nmf_scene_floor.xml (leg-floor contacts) or nmf_scene_selfcol.xml (plus leg-leg collisions, 1.5-2x slower)") \
  X(body, nmf_cpg_freq, DOUBLE, 12.0,  "", 0.1, 100.0, "Hz", "NeuroMechFly: intrinsic frequency of the six CPG oscillators (flygym's 12 Hz)") \
  X(body, nmf_noslip_iterations, INT, -1, "", -1, 10000, "", "NeuroMechFly: MuJoCo no-slip solver iterations; -1 = the scene's 100 (flygym's); 0 is 3.5x faster and walks within 1 % of the speed (tests/bench/README.md)") \
  X(body, nmf_njmax,    INT,    0,     "", 0, 1000000, "", "NeuroMechFly: constraint rows MuJoCo reserves; 0 = the scene's 1,000 (walking uses a few hundred; more costs memory)") \
  X(body, nmf_nconmax,  INT,    0,     "", 0, 1000000, "", "NeuroMechFly: contact slots; 0 = the scene's 200 (walking makes at most ~50)") \
  X(body, nmf_sensors,  ENUM,   0, "antennae|palps|reduced", 0, 0, "", "NeuroMechFly: where the odor is sensed: the model's antenna sites (0.17 mm apart), antennae and maxillary palps averaged 9:1 (flygym's odor-taxis example), or the reduced body's antenna points (sensing.antenna_x, +-antenna_y) on the NeuroMechFly thorax (separates the sensor-geometry gap from the physics gap)") \
  X(body, nmf_eval_episodes, INT, 16,   "", 1, 1000000, "", "--evaluate --body neuromechfly: held-out starts run in both bodies (the first ones of the reduced evaluation's; an 8 s episode costs ~45 s of one core at the scene's solver settings)") \
  X(loss, w_nav,        DOUBLE, 1.0,   "", 0.0, 1e9, "1/mm", "weight of mean distance to the source") \
  X(loss, nav_norm,     ENUM,   0, "none|start|progress", 0, 0, "", "none: the distance term as it is; start: each episode's distance term divided by its start distance and multiplied by the mean start radius, so that a start near the source weighs as much as a far one; progress: the same, and a distance beyond the start distance counts with slope loss.beyond_start only (walking away costs little more than standing still, so standing still is no trap; src/MODEL.md §6)") \
  X(loss, beyond_start, DOUBLE, 0.1,   "", 0.0, 1.0, "", "nav_norm progress: slope of the distance term beyond the episode's start distance (1 = nav_norm start)") \
  X(loss, w_energy,     DOUBLE, 0.1,   "", 0.0, 1e9, "", "weight of mean |d|^2") \
  X(loss, w_end,        DOUBLE, 0.0,   "", 0.0, 1e9, "1/mm", "weight of the mean distance over the last end_fraction of the episode (arrive and stay; 0 = MODEL §6)") \
  X(loss, end_fraction, DOUBLE, 0.2,   "", 1e-6, 1.0, "", "the closing part of the episode w_end looks at") \
  X(loss, w_sparse,     DOUBLE, 0.01,  "", 0.0, 1e9, "1/Hz^2", "weight of KC rates above kc_max_hz") \
  X(loss, w_rate,       DOUBLE, 0.001, "", 0.0, 1e9, "1/Hz^2", "weight of rates above max_rate_hz, every layer") \
  X(loss, w_silent,     DOUBLE, 1.0,   "", 0.0, 1e9, "1/Hz^2", "weight of layer mean rates below their floor") \
  X(loss, kc_max_hz,    DOUBLE, 10.0,  "", 0.0, 1e4, "Hz", "KC sparseness target") \
  X(loss, max_rate_hz,  DOUBLE, 100.0, "", 0.0, 1e4, "Hz", "rate ceiling for every neuron") \
  X(loss, min_rate_orn, DOUBLE, 5.0,   "", 0.0, 1e4, "Hz", "silent-layer floor ORN") \
  X(loss, min_rate_pn,  DOUBLE, 5.0,   "", 0.0, 1e4, "Hz", "silent-layer floor PN") \
  X(loss, min_rate_kc,  DOUBLE, 0.5,   "", 0.0, 1e4, "Hz", "silent-layer floor KC") \
  X(loss, min_rate_mbon, DOUBLE, 5.0,  "", 0.0, 1e4, "Hz", "silent-layer floor MBON") \
  X(loss, min_rate_dn,  DOUBLE, 5.0,   "", 0.0, 1e4, "Hz", "silent-layer floor DN") \
  X(grad, sensory_feedback, ENUM, 0, "detach|window|full", 0, 0, "", "gradient through pose -> odor -> receptors: none, last `window` steps, or exact (MODEL §8)") \
  X(grad, window,       INT,    50,    "", 1, 100000000, "steps", "K for sensory_feedback: window") \
  X(grad, checkpoint,   INT,    -1,    "", -1, 100000000, "steps", "checkpointed BPTT: keep the neuron state only every K steps and recompute each K-step segment in the backward pass; the gradient is the same to the bit, memory ~ (T/K + K) rows instead of T (-1: K near sqrt(T) in whole blocks of 32 steps, fewer for large circuits so a segment stays in cache; 0 = off: store every step)") \
  X(grad, tape,         ENUM,   0, "double|compact", 0, 0, "", "BPTT tape: V, I in double and spikes as doubles (24 B per neuron-step), or V, I in float and spikes as bytes (9 B; Heaviside only; the forward pass is unchanged, the backward reads rounded V, I)") \
  X(train, episodes,    INT,    1200,  "", 0, 100000000, "", "training episodes in total (updates = episodes / (batch_per_rank x ranks)); 0 = evaluate only") \
  X(train, batch_per_rank, INT, 8,     "", 1, 100000, "", "episodes per rank per update; the global batch is batch_per_rank x ranks") \
  X(train, lr,          DOUBLE, 1e-3,  "", 0.0, 10.0, "", "Adam learning rate of every group whose lr_<group> is -1") \
  X(train, lr_orn_gain, DOUBLE, -1.0,  "", -1.0, 10.0, "", "learning rate of orn_gain (-1: train.lr, 0: frozen)") \
  X(train, lr_orn_to_pn, DOUBLE, -1.0, "", -1.0, 10.0, "", "learning rate of orn_to_pn") \
  X(train, lr_pn_to_kc, DOUBLE, -1.0,  "", -1.0, 10.0, "", "learning rate of pn_to_kc") \
  X(train, lr_kc_to_mbon, DOUBLE, -1.0, "", -1.0, 10.0, "", "learning rate of kc_to_mbon") \
  X(train, lr_mbon_to_dn, DOUBLE, -1.0, "", -1.0, 10.0, "", "learning rate of mbon_to_dn") \
  X(train, lr_pn_to_dn, DOUBLE, 0.3,   "", -1.0, 10.0, "", "learning rate of pn_to_dn (weights of ~10 mV need ~0.3: TRAINING-NOTES)") \
  X(train, lr_kc_to_apl, DOUBLE, -1.0, "", -1.0, 10.0, "", "learning rate of kc_to_apl") \
  X(train, lr_apl_to_kc, DOUBLE, -1.0, "", -1.0, 10.0, "", "learning rate of apl_to_kc") \
  X(train, lr_rho,      DOUBLE, -1.0,  "", -1.0, 10.0, "", "learning rate of rho (membrane tau)") \
  X(train, lr_theta,    DOUBLE, -1.0,  "", -1.0, 10.0, "", "learning rate of theta") \
  X(train, lr_bias,     DOUBLE, -1.0,  "", -1.0, 10.0, "", "learning rate of bias") \
  X(train, lr_motor_w,  DOUBLE, 0.01,  "", -1.0, 10.0, "", "learning rate of motor_w (entries of ~0.3 need ~0.01)") \
  X(train, lr_motor_b,  DOUBLE, 0.01,  "", -1.0, 10.0, "", "learning rate of motor_b") \
  X(train, lr_schedule, ENUM,   1, "constant|cosine", 0, 0, "", "learning-rate schedule over the run's updates: constant, or cosine decay of every group's rate to lr_final x its value at the last update") \
  X(train, lr_final,    DOUBLE, 0.1,   "", 0.0, 1.0, "", "cosine: rate at the last update as a fraction of the initial one") \
  X(train, curriculum,  DOUBLE, 0.0,   "", 0.0, 1.0, "", "with a range of start distances (arena.start_radius_max): over this fraction of train.episodes the training starts' range widens linearly from its middle radius to [start_radius, start_radius_max] (a curriculum: the middle distance is learned first; src/MODEL.md §7); 0 = the whole range from the start") \
  X(train, mirror_pairs, BOOL,  0,     "", 0, 1, "", "training starts come in mirror pairs: odd episode 2k+1 starts where episode 2k does with the bearing to the source mirrored (antithetic sampling: a left/right turning bias no longer gains from the luck of the headings)") \
  X(train, beta1,       DOUBLE, 0.9,   "", 0.0, 0.999999, "", "Adam beta1") \
  X(train, beta2,       DOUBLE, 0.999, "", 0.0, 0.99999999, "", "Adam beta2") \
  X(train, adam_eps,    DOUBLE, 1e-8,  "", 0.0, 1.0, "", "Adam epsilon") \
  X(train, clip_norm,   DOUBLE, 1.0,   "", 0.0, 1e12, "", "global gradient-norm clip (0 = off), computed overflow-safe") \
  X(train, eval_episodes, INT,  64,    "", 1, 1000000, "", "held-out evaluation episodes (own start-pose stream), spread over ranks") \
  X(train, eval_radii,  STRING, 0, "10,20,30,45", 0, 0, "mm", "start distances the final evaluation also reports one by one (comma-separated, e.g. 10,20,30,45; each with train.eval_episodes starts on that circle; empty = none)") \
  X(train, eval_at,     STRING, 0, "", 0, 0, "episodes", "episode counts after which training also evaluates its current parameters (the average with train.average) on the held-out starts, e.g. 100,400,1600: a learning or compensation curve in results.h5 /history/eval_success and the JSON summary (the first update reaching each count; empty = none)") \
  X(train, eval_trajectories, INT, 4,  "", 0, 1000, "", "evaluation episodes whose full trajectories go into results.h5") \
  X(train, average,     DOUBLE, 0.95,   "", 0.0, 0.9999, "", "decay a of an exponential moving average of the parameters, avg = a avg + (1 - a) p after every update (Polyak averaging; 0 = off; plain training only: a population's individuals are judged and kept as they are): validation, best.h5 and the final evaluation's trained row use the average (the last parameters stay in the checkpoint for resuming; the average is checkpointed too)") \
  X(train, validate_every, INT, 0,     "", 0, 100000000, "updates", "every N updates (and after the last) run train.validate_episodes validation starts (a stream of their own, disjoint from training and the held-out evaluation) and keep the parameters that did best there as best.h5 (success, then median final distance); the final evaluation reports them beside the last ones (0 = off)") \
  X(train, validate_episodes, INT, 32, "", 1, 1000000, "", "episodes per validation, spread over ranks") \
  X(train, check_every, INT,    10,    "", 1, 100000000, "updates", "compare a checksum of the parameters across ranks every N updates") \
  X(connectome, source, ENUM,   0, "synthetic|flywire|codex|hemibrain", 0, 0, "", "where the circuit comes from: the MODEL §1 generator, or data in connectome.path (configs/README.md: Real connectomes)") \
  X(connectome, path,   STRING, 0, "", 0, 0, "", "data directory; a relative path is relative to the config file's directory") \
  X(connectome, neurons_file, STRING, 0, "", 0, 0, "", "neuron table in path (empty: neurons.csv[.gz]; codex: classification.csv.gz + consolidated_cell_types.csv.gz)") \
  X(connectome, connections_file, STRING, 0, "", 0, 0, "", "connection table in path (empty: connections.csv[.gz]; codex: the first connections*.csv.gz)") \
  X(connectome, neuropil, STRING, 0, "", 0, 0, "", "count only synapses in neuropils/ROIs matching this glob (e.g. MB_* or CA(R)); empty = all") \
  X(connectome, min_synapses, INT, 1,  "", 1, 1000000000, "synapses", "keep a neuron pair only with at least this many synapses (summed over neuropils)") \
  X(connectome, hemisphere, ENUM, 0, "both|left|right", 0, 0, "", "keep PN, KC, MBON and DN of one brain side (ORNs keep both antennae)") \
  X(connectome, orn,    STRING, 0, "class=ORN", 0, 0, "", "selector of the ORN layer (`column=glob[,glob]` terms, all must match), or `synthetic`: two ORNs (one per antenna) per PN glomerulus") \
  X(connectome, pn,     STRING, 0, "class=PN", 0, 0, "", "selector of the PN layer") \
  X(connectome, kc,     STRING, 0, "class=KC", 0, 0, "", "selector of the KC layer") \
  X(connectome, mbon,   STRING, 0, "class=MBON", 0, 0, "", "selector of the MBON layer") \
  X(connectome, dn,     STRING, 0, "class=DN", 0, 0, "", "selector of the DN layer, or `synthetic`: circuit.n_dn generic DNs") \
  X(connectome, orn_to_pn, ENUM, 0, "glomerulus|data", 0, 0, "", "ORN->PN: every ORN_X to every X_* PN (labelled synthetic), or the data's edges") \
  X(connectome, mbon_to_dn, ENUM, 0, "dense|data", 0, 0, "", "MBON->DN: dense (abstracts multi-synaptic paths; labelled synthetic), or the data's edges") \
  X(connectome, nt_from, STRING, 0, "", 0, 0, "", "neuron table (cell_type, nt_type) lending transmitters by cell type to neurons the data gives none, e.g. FlyWire's neurons.csv for hemibrain; relative to the config file") \
  X(connectome, nt_default, ENUM, 0, "ach|gaba|glut", 0, 0, "", "transmitter of neurons the data gives none for (counted in --connectome-info)") \
  X(connectome, weights_from_counts, BOOL, 1, "", 0, 1, "", "initial |w| proportional to the synapse count, init.<projection> being the mean") \
  X(connectome, variant_dropout, DOUBLE, 0.0, "", 0.0, 0.95, "", "connectome variants: each training episode drops this fraction of PN->KC and KC->MBON synapses at random") \
  X(evolution, population, INT, 1,     "", 1, 100000, "", "individuals, each a group of ranks / population (1 = plain gradient training; > 1: population-based training, jobs/README.md: Evolution)") \
  X(evolution, episodes_per_generation, INT, 320, "", 1, 100000000, "", "training episodes of every individual between two selections (rounded up to whole updates); train.episodes is each individual's total") \
  X(evolution, fitness, ENUM, 0, "loss|success|final_distance", 0, 0, "", "fitness: -mean loss (the config's loss weights), success rate (ties: mean final distance), or -median final distance") \
  X(evolution, fitness_episodes, INT, 32, "", 1, 1000000, "", "fitness episodes per generation: a fixed seeded set, the same for every individual, held out from training and evaluation") \
  X(evolution, replace_fraction, DOUBLE, 0.25, "", 0.0, 0.5, "", "the bottom fraction of individuals (at least one when > 0) is replaced by mutated copies of individuals drawn from the top fraction") \
  X(evolution, mutate, STRING, 0, "lr_scale,w_energy,w_sparse,surrogate_beta,tau_scale", 0, 0, "", "hyperparameters that mutate (comma-separated; empty = none)") \
  X(evolution, mutation_sigma, DOUBLE, 0.2, "", 0.0, 5.0, "", "log-normal mutation: a hyperparameter is multiplied by exp(sigma * N(0,1)); founders other than 0 start mutated once") \
  X(evolution, hyper_range, DOUBLE, 10.0, "", 1.0, 1e6, "", "every hyperparameter stays within [x/range, x*range] of its config value") \
  X(evolution, rewire_pn_kc, DOUBLE, 0.01, "", 0.0, 1.0, "", "fraction of alive PN->KC synapses rewired per mutation: the KC drops one PN and draws another PN of its side (claw count kept)") \
  X(evolution, rewire_kc_mbon, DOUBLE, 0.01, "", 0.0, 1.0, "", "fraction of alive KC->MBON synapses pruned and regrown per mutation: the MBON gets another KC of its side instead (of any side when it already has them all)") \
  X(evolution, new_weight, DOUBLE, 1.0, "", 1e-6, 1e6, "mV", "|w| of a regrown synapse (its Adam moments start at 0)") \
  X(evolution, lesioned, INT, 0, "", 0, 100000, "", "the last N individuals start on the config's lesions, the others on the intact circuit (selection against a lesion); 0 = all share the config's circuit") \
  X(output, dir,        STRING, 0, "", 0, 0, "", "run directory; empty = runs/<config-name>-YYYYMMDD_HHMMSS") \
  X(output, checkpoint_every, INT, 400, "", 1, 100000000, "episodes", "write checkpoint.h5 whenever this many more episodes are done (and at the end)")
/* clang-format on */

#define DMN_DECL_DOUBLE(name) double name;
#define DMN_DECL_INT(name)    long name;
#define DMN_DECL_BOOL(name)   int name;
#define DMN_DECL_ENUM(name)   int name;
#define DMN_DECL_STRING(name) char name[DMN_STR_MAX];
#define DMN_DECL_FIELD(sec, key, type, dn, ds, mn, mx, unit, doc) DMN_DECL_##type(sec##_##key)

/* One entry of the `lesions:` list (configs/README.md: Lesions).  Applied in order to
 * the connectome before the model is built. */
#define DMN_MAX_LESIONS 16
/* A lesion's layer index for the APL (after ORN PN KC MBON DN): the graded
 * APLs are not a spiking layer, but ablate/silence name them like one. */
#define DMN_LESION_LAYER_APL 5
#define DMN_SELECT_MAX 1024
enum { DMN_LESION_ABLATE, DMN_LESION_SILENCE, DMN_LESION_DROP, DMN_LESION_SCALE, DMN_LESION_SHUFFLE, DMN_LESION_RANDOMIZE, DMN_NLESION_KIND };
extern const char *const dmn_lesion_kinds[DMN_NLESION_KIND];
typedef struct DmnLesionSpec {
  char name[64];
  int kind;                    /* DMN_LESION_* */
  int layer;                   /* ablate/silence: layer index (ORN PN KC MBON DN), else -1 */
  int proj;                    /* drop/scale/shuffle: projection index (orn_to_pn ...), else -1 */
  char select[DMN_SELECT_MAX]; /* neuron selector within the layer (ids: become id=...) */
  double fraction;             /* drop; ablate/silence: a random fraction of the selected neurons (-1 = all) */
  double factor;               /* scale */
  long seed;                   /* drop, shuffle */
  int line;                    /* where it was written, for messages */
} DmnLesionSpec;

/* The `sweep:` list (jobs/README.md: Cluster workflow): named conditions, each its own lesions
 * (after the base lesions) and key overrides.  Only the selected one is
 * applied; every entry is validated. */
#define DMN_MAX_SWEEP 256
#define DMN_NAME_MAX 64

typedef struct DmnConfig {
  DMN_CONFIG_FIELDS(DMN_DECL_FIELD)
  int n_lesions;
  DmnLesionSpec lesions[DMN_MAX_LESIONS];
  int sweep_index;                         /* selected task, -1 = none (set before parsing): condition x seed (sim.sweep_seeds) */
  int sweep_condition;                     /* its condition (sweep_index / seeds), -1 = none */
  int n_sweep;                             /* conditions in the file's sweep: list */
  int sweep_base_lesions;                  /* lesions before the condition's own (the intact baseline), -1 = none applied */
  char sweep_names[DMN_MAX_SWEEP][DMN_NAME_MAX];
  char path[DMN_STR_MAX]; /* file it came from ("" = built-in defaults) */
  char name[DMN_STR_MAX]; /* basename without .yaml, for run directories */
} DmnConfig;

/* Enum values (indices into the choices strings above). */
enum { DMN_ODOR_EXPONENTIAL = 0, DMN_ODOR_GAUSSIAN = 1 };
enum { DMN_RECEPTOR_GAUSSIAN = 0, DMN_RECEPTOR_HILL = 1, DMN_RECEPTOR_WEBER = 2 };
enum { DMN_SPIKE_HEAVISIDE = 0, DMN_SPIKE_SIGMOID = 1 };
enum { DMN_LR_CONSTANT = 0, DMN_LR_COSINE = 1 };
enum { DMN_NAV_NORM_NONE = 0, DMN_NAV_NORM_START = 1, DMN_NAV_NORM_PROGRESS = 2 };
enum { DMN_FEEDBACK_DETACH = 0, DMN_FEEDBACK_WINDOW = 1, DMN_FEEDBACK_FULL = 2 };
enum { DMN_SPARSE_PETSC = 0, DMN_SPARSE_CSR = 1 };
enum { DMN_BODY_REDUCED = 0, DMN_BODY_NEUROMECHFLY = 1 };
enum { DMN_SOURCE_SYNTHETIC = 0, DMN_SOURCE_FLYWIRE = 1, DMN_SOURCE_CODEX = 2, DMN_SOURCE_HEMIBRAIN = 3 };
enum { DMN_HEMI_BOTH = 0, DMN_HEMI_LEFT = 1, DMN_HEMI_RIGHT = 2 };
enum { DMN_TAPE_DOUBLE = 0, DMN_TAPE_COMPACT = 1 };

/* The hyperparameters an individual carries (jobs/README.md: Evolution).  Scales are
 * relative (1 = the config's value); the rest are the values used. */
/* clang-format off */
#define DMN_HYPER(X) \
  X(lr_scale,       "multiplies every Adam learning rate of the config") \
  X(w_energy,       "loss.w_energy used for this individual's gradients") \
  X(w_sparse,       "loss.w_sparse used for this individual's gradients") \
  X(surrogate_beta, "circuit.surrogate_beta (surrogate sharpness) of this individual") \
  X(tau_scale,      "membrane tau - tau_min relative to the founder's (initial tau scale)")
/* clang-format on */
#define DMN_HYPER_ENUM(name, doc) DMN_HY_##name,
typedef enum { DMN_HYPER(DMN_HYPER_ENUM) DMN_NHYPER } DmnHyper;
#undef DMN_HYPER_ENUM
extern const char *const dmn_hyper_names[DMN_NHYPER];

typedef enum { DMN_T_DOUBLE, DMN_T_INT, DMN_T_BOOL, DMN_T_ENUM, DMN_T_STRING } DmnFieldType;

typedef struct DmnConfigField {
  const char *section, *key;
  DmnFieldType type;
  double def;
  const char *def_str; /* STRING default, or ENUM choices "a|b|c" */
  double min, max;
  const char *unit, *doc;
  size_t offset;
} DmnConfigField;

extern const DmnConfigField dmn_config_fields[];
extern const int dmn_config_n_fields;

/* All keys at their defaults. */
void config_defaults(DmnConfig *cfg);

/* Parse YAML text (already read; `path` only names it in messages) on top of
 * the current contents of cfg.  Returns 0, or nonzero with a one-line
 * message `PATH:LINE:COL: ...` in err. */
int config_parse_text(DmnConfig *cfg, const char *text, size_t len, const char *path, char err[DMN_ERR_MAX]);

/* Read and parse a file (defaults first).  Used by MPI-free tools and tests;
 * dmn_mpi reads on rank 0 and broadcasts the bytes (cli.c). */
int config_load_file(DmnConfig *cfg, const char *path, char err[DMN_ERR_MAX]);

/* Record where the config came from (path, and name = basename sans .yaml). */
void config_set_origin(DmnConfig *cfg, const char *path);

/* Apply one `--set section.key=value`, validated like a file entry. */
int config_set(DmnConfig *cfg, const char *assignment, char err[DMN_ERR_MAX]);

/* train.eval_radii as numbers: returns how many (at most max), -1 if one is
 * not a number >= 0. */
int config_eval_radii(const DmnConfig *cfg, double *radii, int max);
/* A comma-separated list of integers >= lo (sim.sweep_seeds, train.eval_at)
 * into out[0..max): how many it has (at most max), -1 if malformed. */
int config_int_list(const char *s, long lo, long *out, int max);
/* The sweep's task count: conditions x seeds (sim.sweep_seeds), 0 without a sweep. */
int config_sweep_tasks(const DmnConfig *cfg);
/* Task `task`'s name: its condition's, with _s<seed> when sim.sweep_seeds is set. */
void config_sweep_task_name(const DmnConfig *cfg, int task, char *out, size_t n);
/* The selected task's condition name ("" = none). */
const char *config_sweep_name(const DmnConfig *cfg);

/* Cross-field checks (sizes that must agree, ...). */
int config_validate(const DmnConfig *cfg, char err[DMN_ERR_MAX]);

/* The effective config as YAML, every key with its value.  Returns a
 * malloc'd string. */
char *config_to_yaml(const DmnConfig *cfg);

/* The config reference of configs/README.md (Markdown table), malloc'd. */
char *config_reference_markdown(void);

/* Name of an enum value, e.g. config_enum_name("circuit", "spike_fn", 1) -> "sigmoid". */
const char *config_enum_name(const char *section, const char *key, int value);

/* A path of the config (connectome.path, nt_from, body.nmf_dir) as seen from
 * the working directory: a relative one is relative to the config file. */
void config_relative_path(const DmnConfig *cfg, const char *p, char *out, size_t n);

#endif
