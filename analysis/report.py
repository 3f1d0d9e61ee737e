#!/usr/bin/python3
"""report.py FILE.h5 [--out DIR] — every figure a dmn output supports, in DIR
(default: FILE's folder + /report).

FILE may be a run's results.h5, a simulation_data.h5, or a sweep merged by
dmn_merge.  Per run: trajectory.png (arena, odor field, paths of the stored
evaluation episodes), neural_activity.png (spike rasters per layer, DN rates,
descending drives), odor_response.png (left/right antenna input over time),
learning_curves.png (every loss term, gradient norm, success metrics per
update), decodability.png/.csv (cross-validated R^2 of the source bearing
from each layer's activity, with 2 or more stored evaluation episodes).  For a merged sweep: lesion_effect.png (intact vs lesioned vs
retrained per condition; a sweep over sim.sweep_seeds pools its seeds: mean
over seeds, 95% CI from a bootstrap over seeds and evaluation episodes, each
seed a dot), compensation.png (held-out success after 0, every train.eval_at
point and the final episode count, per condition), summary.csv and
summary.md, and the per-run figures under runs/<NN_name>/.
A population run (evolution) adds evolution.png (fitness of every slot per
generation with the replacements drawn parent -> child, hyperparameters of the
individuals over generations) and lineage.csv.
Uses Debian's python3-h5py, python3-numpy and python3-matplotlib."""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

LAYERS = ["ORN", "PN", "KC", "MBON", "DN"]
EVALS = [("intact", "intact"), ("lesioned", "initial"), ("retrained", "trained")]
SUCCESS_MM = 5.0


def config_value(cfg_text, section, key, default):
    sec = None
    for line in cfg_text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            sec = line[:-1]
        elif sec == section and line.strip().startswith(key + ":"):
            return line.split(":", 1)[1].strip().strip('"')
    return default


def text(x):
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, np.ndarray):
        return text(x.flat[0]) if x.size else ""
    return str(x)


def odor_field(cfg, X, Y):
    sx, sy = float(config_value(cfg, "odor", "source_x", 50)), float(config_value(cfg, "odor", "source_y", 50))
    if config_value(cfg, "odor", "field", "exponential") == "gaussian":
        s = float(config_value(cfg, "odor", "sigma", 25))
        return np.exp(-((X - sx) ** 2 + (Y - sy) ** 2) / (2 * s * s)), (sx, sy)
    lam = float(config_value(cfg, "odor", "lambda", 15))
    return np.exp(-np.hypot(X - sx, Y - sy) / lam), (sx, sy)


def episodes(g):
    """The episode groups of a run: stored evaluation trajectories or simulation episodes."""
    root = g["evaluation/trajectories"] if "evaluation/trajectories" in g else g
    return [root[k] for k in sorted(root.keys()) if k.startswith("episode_")]


def save(fig, path, made):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)


def fig_trajectory(g, cfg, out, made, title):
    eps = episodes(g)
    if not eps:
        return
    ax_x, ax_y = float(config_value(cfg, "arena", "size_x", 100)), float(config_value(cfg, "arena", "size_y", 100))
    dt = float(config_value(cfg, "sim", "dt", 1.0))
    X, Y = np.meshgrid(np.linspace(0, ax_x, 200), np.linspace(0, ax_y, 200))
    C, (sx, sy) = odor_field(cfg, X, Y)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5.2))
    im = a.imshow(C, origin="lower", extent=(0, ax_x, 0, ax_y), cmap="Greens", alpha=0.8)
    fig.colorbar(im, ax=a, label="odor concentration")
    for ep in eps:
        p = ep["position"][:, :2]
        a.plot(p[:, 0], p[:, 1], lw=1.2)
        a.plot(p[0, 0], p[0, 1], "o", ms=4, color="k")
        d = np.hypot(p[:, 0] - sx, p[:, 1] - sy)
        b.plot(np.arange(len(d)) * dt / 1000.0, d, lw=1)
    a.add_patch(plt.Circle((sx, sy), SUCCESS_MM, fill=False, ls="--", color="r"))
    a.plot(sx, sy, "r*", ms=12)
    a.set(xlabel="x (mm)", ylabel="y (mm)", title=f"{title}: paths ({len(eps)} episodes)", xlim=(0, ax_x), ylim=(0, ax_y))
    a.set_aspect("equal")
    b.axhline(SUCCESS_MM, color="r", ls="--", lw=0.8, label="success radius")
    b.set(xlabel="time (s)", ylabel="distance to source (mm)", title="distance over time")
    b.legend()
    save(fig, os.path.join(out, "trajectory.png"), made)


def fig_neural(g, cfg, out, made, title):
    eps = episodes(g)
    if not eps or "spikes" not in eps[0]:
        return
    ep = eps[0]
    dt = float(config_value(cfg, "sim", "dt", 1.0))
    T = ep["position"].shape[0]
    fig, axes = plt.subplots(len(LAYERS) + 2, 1, figsize=(11, 13), sharex=True)
    for ax, layer in zip(axes, LAYERS):
        s = ep["spikes"][layer]
        n = int(s.attrs.get("n_neurons", 0))
        step, neuron = s["step"][:], s["neuron"][:]
        ax.plot(step * dt / 1000.0, neuron, "|", ms=2, color="k", alpha=0.6)
        rate = len(step) / max(n, 1) / (T * dt / 1000.0)
        ax.set(ylabel=f"{layer}\n(n={n})", ylim=(-0.5, max(n, 1) - 0.5), title=f"{layer}: {rate:.1f} Hz mean" if layer == "ORN" else None)
        ax.text(1.0, 0.5, f"{rate:.1f} Hz", transform=ax.transAxes, ha="left", va="center", fontsize=8)
    # DN rates: spikes binned at 50 ms
    s = ep["spikes"]["DN"]
    n_dn = int(s.attrs.get("n_neurons", 1))
    bins = np.arange(0, T + 50, 50)
    ax = axes[len(LAYERS)]
    for i in range(n_dn):
        h, _ = np.histogram(s["step"][:][s["neuron"][:] == i], bins=bins)
        ax.plot(bins[:-1] * dt / 1000.0, h / (50 * dt / 1000.0), lw=0.8)
    ax.set(ylabel="DN rate (Hz)")
    ax = axes[-1]
    d = ep["dn_drive"][:]
    t = np.arange(T) * dt / 1000.0
    ax.plot(t, d[:, 0], label="left drive")
    ax.plot(t, d[:, 1], label="right drive")
    ax.set(ylabel="drive d", xlabel="time (s)")
    ax.legend(loc="upper right")
    axes[0].set_title(f"{title}: spikes per layer, DN rates and descending drives ({ep.name.split('/')[-1]})")
    save(fig, os.path.join(out, "neural_activity.png"), made)


def fig_odor(g, cfg, out, made, title):
    eps = episodes(g)
    if not eps:
        return
    dt = float(config_value(cfg, "sim", "dt", 1.0))
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ep in eps[:4]:
        o = ep["odor_input"][:]
        t = np.arange(len(o)) * dt / 1000.0
        name = ep.name.split("/")[-1]
        axes[0].plot(t, o[:, 0], lw=0.8, label=f"{name} left")
        axes[0].plot(t, o[:, 1], lw=0.8, ls="--", label=f"{name} right")
        axes[1].plot(t, (o[:, 0] - o[:, 1]) / np.maximum(o[:, 0] + o[:, 1], 1e-12), lw=0.8, label=name)
    axes[0].set(ylabel="concentration at antenna", title=f"{title}: odor input (left solid, right dashed)")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].set(ylabel="(L - R) / (L + R)", xlabel="time (s)", title="left-right contrast")
    save(fig, os.path.join(out, "odor_response.png"), made)


def fig_learning(g, out, made, title):
    if "history" not in g or "loss_total" not in g["history"]:
        return
    h = g["history"]
    ep = h["episodes"][:] if "episodes" in h else np.arange(len(h["loss_total"]))
    if len(ep) == 0:
        return
    terms = [k for k in ["loss_total", "loss_nav", "loss_energy", "loss_sparse", "loss_rate", "loss_silent"] if k in h]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for k in terms:
        v = h[k][:]
        axes[0, 0].plot(ep, v, label=k.replace("loss_", ""), lw=1)
    axes[0, 0].set(xlabel="episodes", ylabel="loss (batch mean)", yscale="symlog", title=f"{title}: loss terms")
    axes[0, 0].legend(fontsize=8)
    for k in ["final_distance", "mean_distance"]:
        if k in h:
            axes[0, 1].plot(ep, h[k][:], label=k, lw=1)
    axes[0, 1].axhline(SUCCESS_MM, color="r", ls="--", lw=0.8)
    axes[0, 1].set(xlabel="episodes", ylabel="mm", title="distance to source (training batches)")
    axes[0, 1].legend(fontsize=8, loc="upper left")
    if "val_success" in h and np.isfinite(h["val_success"][:]).any():  # train.validate_every
        vs = h["val_success"][:]
        ok = np.isfinite(vs)
        ax2 = axes[0, 1].twinx()
        ax2.plot(ep[ok], 100 * vs[ok], "k.-", lw=1, label="validation success")
        bu = int(g.attrs.get("best_update", 0))
        if 0 < bu <= len(ep):
            ax2.plot([ep[bu - 1]], [100 * vs[bu - 1]], "r*", ms=12, label=f"best.h5 (update {bu})")
        ax2.set(ylabel="validation success (%)", ylim=(0, 100))
        ax2.legend(fontsize=8, loc="upper right")
    if "grad_norm" in h:
        axes[1, 0].plot(ep, h["grad_norm"][:], lw=1)
        axes[1, 0].set(xlabel="episodes", ylabel="|g| before clipping", yscale="log", title="gradient norm")
    for k in ["rate_orn", "rate_pn", "rate_kc", "rate_mbon", "rate_dn"]:
        if k in h:
            axes[1, 1].plot(ep, h[k][:], label=k[5:].upper(), lw=1)
    axes[1, 1].set(xlabel="episodes", ylabel="Hz", yscale="log", title="layer rates")
    axes[1, 1].legend(fontsize=8)
    save(fig, os.path.join(out, "learning_curves.png"), made)


def bearing_decodability(g, cfg, bin_ms=50.0):
    """Cross-validated R^2 with which each layer's activity predicts the
    bearing of the source (sin and cos of source direction minus heading):
    ridge regression on per-neuron spike counts in bin_ms bins, leave one
    evaluation episode out (TRAINING-NOTES: if the DNs carry no direction, no
    optimiser will find steering).  None when fewer than 2 episodes."""
    eps = [ep for ep in episodes(g) if "spikes" in ep]
    if len(eps) < 2:
        return None
    dt = float(config_value(cfg, "sim", "dt", 1.0))
    sx, sy = float(config_value(cfg, "odor", "source_x", 50)), float(config_value(cfg, "odor", "source_y", 50))
    w = max(1, int(round(bin_ms / dt)))
    Y, X, E = [], {l: [] for l in LAYERS}, []
    for k, ep in enumerate(eps):
        p, psi = ep["position"][:, :2], ep["heading"][:]
        T = len(psi) // w * w
        b = np.arctan2(sy - p[:T, 1], sx - p[:T, 0]) - psi[:T]
        Y.append(np.stack([np.sin(b), np.cos(b)], 1).reshape(-1, w, 2).mean(1))
        E.append(np.full(T // w, k))
        for l in LAYERS:
            s = ep["spikes"][l]
            n = int(s.attrs.get("n_neurons", 0))
            step, neuron = s["step"][:], s["neuron"][:]
            keep = step < T
            c = np.zeros((T // w, max(n, 1)))
            np.add.at(c, (step[keep] // w, neuron[keep]), 1.0)
            X[l].append(c)
    Y, E = np.concatenate(Y), np.concatenate(E)
    r2 = {}
    for l in LAYERS:
        A = np.concatenate(X[l])
        A = (A - A.mean(0)) / np.maximum(A.std(0), 1e-9)
        pred = np.zeros_like(Y)
        for k in np.unique(E):
            tr, te = E != k, E == k
            K = A[tr] @ A[tr].T
            lam = max(np.trace(K) / len(K), 1e-9)  # ridge in units of the mean feature power
            alpha = np.linalg.solve(K + lam * np.eye(len(K)), Y[tr] - Y[tr].mean(0))
            pred[te] = A[te] @ (A[tr].T @ alpha) + Y[tr].mean(0)
        ss = ((Y - Y.mean(0)) ** 2).sum(0)
        r2[l] = 1 - ((Y - pred) ** 2).sum(0) / np.maximum(ss, 1e-12)
    return r2


def fig_decodability(g, cfg, out, made, title):
    r2 = bearing_decodability(g, cfg)
    if r2 is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(LAYERS))
    ax.bar(x - 0.2, [r2[l][0] for l in LAYERS], 0.4, label="sin(bearing): left/right")
    ax.bar(x + 0.2, [r2[l][1] for l in LAYERS], 0.4, label="cos(bearing): ahead/behind")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels(LAYERS)
    ax.set(ylabel="cross-validated R²", ylim=(min(-0.2, min(min(v) for v in r2.values()) - 0.05), 1),
           title=f"{title}: bearing to the source decodable from each layer")
    ax.legend(fontsize=8)
    save(fig, os.path.join(out, "decodability.png"), made)
    with open(os.path.join(out, "decodability.csv"), "w") as fp:
        fp.write("layer,r2_sin_bearing,r2_cos_bearing\n")
        for l in LAYERS:
            fp.write(f"{l},{r2[l][0]:.4f},{r2[l][1]:.4f}\n")
    made.append(os.path.join(out, "decodability.csv"))


def fig_evolution(g, out, made, title):
    """Fitness per generation and slot, replacements as arrows, hyperparameters."""
    if "evolution" not in g or "lineage/fitness" not in g["evolution"]:
        return
    lin = g["evolution/lineage"]
    fit, rep, ids = lin["fitness"][()], lin["replaced_by"][()], lin["id"][()]
    ng, P = fit.shape
    if ng == 0:
        return
    hyper = ["lr_scale", "w_energy", "w_sparse", "surrogate_beta", "tau_scale"]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    gen = np.arange(1, ng + 1)
    for k in range(P):
        ax[0].plot(gen, fit[:, k], "o-", ms=3, lw=1, label=f"slot {k}")
    for t in range(ng - 1):
        for k in range(P):
            w = int(rep[t, k])
            if w >= 0:  # slot k restarts from a copy of slot w
                ax[0].annotate("", xy=(t + 2, fit[t + 1, k]), xytext=(t + 1, fit[t, w]),
                               arrowprops=dict(arrowstyle="->", color="0.5", lw=0.8))
    best = int(g["evolution"].attrs.get("best_slot", -1))
    ax[0].set(xlabel="generation", ylabel="fitness (higher is better)", title=f"{title}: population of {P}" + (f", best slot {best}" if best >= 0 else ""))
    ax[0].legend(fontsize=7, ncol=2)
    for h in hyper:
        if h in lin:
            x = lin[h][()]
            base = x[0, 0] if x[0, 0] != 0 else 1.0
            ax[1].plot(gen, np.median(x / base, axis=1), lw=1.5, label=h)
            ax[1].fill_between(gen, (x / base).min(axis=1), (x / base).max(axis=1), alpha=0.15)
    ax[1].set(xlabel="generation", ylabel="relative to founder 0 (median, range)", yscale="log", title="hyperparameters")
    ax[1].legend(fontsize=7)
    save(fig, os.path.join(out, "evolution.png"), made)
    path = os.path.join(out, "lineage.csv")
    cols = [c for c in lin.keys() if lin[c].ndim == 2]
    with open(path, "w") as fp:
        fp.write("generation,slot," + ",".join(cols) + "\n")
        for t in range(ng):
            for k in range(P):
                fp.write(f"{t + 1},{k}," + ",".join(f"{lin[c][t, k]:.6g}" if lin[c].dtype.kind == "f" else str(lin[c][t, k]) for c in cols) + "\n")
    made.append(path)


def run_figures(g, out, made, title):
    os.makedirs(out, exist_ok=True)
    cfg = text(g["config"][()]) if "config" in g else ""
    fig_trajectory(g, cfg, out, made, title)
    fig_neural(g, cfg, out, made, title)
    fig_odor(g, cfg, out, made, title)
    fig_learning(g, out, made, title)
    fig_decodability(g, cfg, out, made, title)
    fig_evolution(g, out, made, title)
    metrics_table(g, out, made)


def metrics_table(g, out, made):
    """metrics.md: every per-episode metric the file lists (the `metrics`
    attribute of each /evaluation/<set>, written from src/metrics.h), mean
    and 95 % CI per evaluation set -- a metric added to the table appears
    here without touching this script."""
    if "evaluation" not in g:
        return
    rows = []
    for name, s in g["evaluation"].items():
        if not isinstance(s, h5py.Group) or "metrics" not in s.attrs:
            continue
        for m in text(s.attrs["metrics"]).split(","):
            if m in s:
                mean, hw = ci95(s[m][:])
                unit = text(s[m].attrs.get("unit", ""))
                rows.append(f"| {name} | {m} | {mean:.4g} ± {hw:.2g} {unit} | {text(s[m].attrs.get('doc', ''))} |")
    if not rows:
        return
    path = os.path.join(out, "metrics.md")
    with open(path, "w") as fh:
        fh.write("| evaluation | metric | mean ± 95 % CI | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    made.append(path)


def ci95(x):
    """Mean and the half-width of its 95% confidence interval (normal approximation)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan
    return x.mean(), (1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else 0.0)


def boot_ci(counts, n_boot=4000, seed=0):
    """Success rate over seeds and episodes: counts = [(successes, episodes)] per
    seed.  Mean of the per-seed rates and a 95% interval from a two-level
    bootstrap (seeds with replacement, then each seed's episodes binomially),
    so the interval holds both the seed-to-seed spread and the finite number of
    evaluation episodes."""
    counts = [(k, n) for k, n in counts if n > 0]
    if not counts:
        return np.nan, np.nan, np.nan
    k = np.array([c[0] for c in counts], float)
    n = np.array([c[1] for c in counts], float)
    rates = k / n
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(k), size=(n_boot, len(k)))
    draws = rng.binomial(n[pick].astype(int), rates[pick]) / n[pick]
    m = draws.mean(axis=1)
    return rates.mean(), np.percentile(m, 2.5), np.percentile(m, 97.5)


def seed_runs(f):
    """Runs of a merged sweep grouped by condition (sweep_name), in sweep order:
    [(condition, [run group, ...])]; a sweep over sim.sweep_seeds has one run
    per seed in each condition."""
    s = f["summary"]
    cond = [text(c) for c in s["condition"][:]]
    idx = s["index"][:]
    runs = f["runs"]
    keys = sorted(runs.keys())
    groups, used = {}, set()
    for i, c in enumerate(cond):
        # dmn_merge names each run NN_<condition>, and NN_<condition>_<k> when
        # that name is taken: sweeps merged together can share an index, so
        # match the condition too, and take each run once
        name = f"{idx[i]:02d}_{c}"
        key = [k for k in keys if k not in used and (k == name or (k.startswith(name + "_") and k[len(name) + 1:].isdigit()))]
        if key:
            used.add(key[0])
            groups.setdefault(c, []).append(runs[key[0]])
    return list(groups.items())


def eval_counts(g, grp):
    """(successes, episodes, per-episode final distances) of one evaluation of a run."""
    if "evaluation" not in g or grp not in g["evaluation"]:
        return None
    fd = g["evaluation"][grp]["final_distance"][:]
    return int((fd < SUCCESS_MM).sum()), len(fd), fd


def curve_points(g):
    """The held-out curve of one run: [(episodes, successes, n)] from the
    starting parameters (0), every train.eval_at point, and the final evaluation."""
    pts = []
    c0 = eval_counts(g, "initial")
    if c0:
        pts.append((0, c0[0], c0[1]))
    ct = eval_counts(g, "trained")
    n = ct[1] if ct else (c0[1] if c0 else 0)
    h = g["history"] if "history" in g else None
    if h is not None and "eval_success" in h:
        es, ep = h["eval_success"][:], h["episodes"][:]
        for e, r in zip(ep, es):
            if np.isfinite(r):
                pts.append((int(e), int(round(r * n)), n))
    if ct and h is not None and len(h["episodes"]):
        last = int(h["episodes"][-1])
        if not pts or pts[-1][0] != last:
            pts.append((last, ct[0], ct[1]))
        else:
            pts[-1] = (last, ct[0], ct[1])
    return pts


def sweep_report(f, out, made):
    groups = seed_runs(f)
    rows = []
    for c, gs in groups:
        row = {"condition": c, "seeds": len(gs), "index": min(int(g.attrs.get("sweep_index", -1)) for g in gs)}
        for col, grp in EVALS:
            cs = [eval_counts(g, grp) for g in gs]
            cs = [x for x in cs if x]
            if cs:
                fd = np.concatenate([x[2] for x in cs])
                row[col] = {"success": boot_ci([(x[0], x[1]) for x in cs]), "final": ci95(fd), "median": float(np.median(fd)),
                            "per_seed": [x[0] / x[1] for x in cs], "n": sum(x[1] for x in cs)}
            else:
                row[col] = None
        # curve: the points every seed has (same episode counts at a given rank count)
        per = [curve_points(g) for g in gs]
        xs = sorted(set.intersection(*[set(p[0] for p in pts) for pts in per])) if per and all(per) else []
        row["curve"] = [(x, boot_ci([next((k, n) for e, k, n in pts if e == x) for pts in per])) for x in xs]
        if per and all(max(e for e, _, _ in pts) == 0 for pts in per if pts):
            row["retrained"] = None  # evaluated lesioned only (train.episodes 0): nothing was retrained
        rows.append(row)
    # figure 1: success and final distance per condition, intact / lesioned / retrained
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(rows) + 4), 5))
    x = np.arange(len(rows))
    w = 0.27
    colors = {"intact": "#4c72b0", "lesioned": "#dd8452", "retrained": "#55a868"}
    for j, (col, _) in enumerate(EVALS):
        m = [100 * r[col]["success"][0] if r[col] else np.nan for r in rows]
        lo = [100 * (r[col]["success"][0] - r[col]["success"][1]) if r[col] else 0 for r in rows]
        hi = [100 * (r[col]["success"][2] - r[col]["success"][0]) if r[col] else 0 for r in rows]
        axes[0].bar(x + (j - 1) * w, m, w, yerr=[lo, hi], capsize=3, label=col, color=colors[col])
        for i, r in enumerate(rows):  # each seed as a dot
            if r[col] and r["seeds"] > 1:
                axes[0].plot(np.full(len(r[col]["per_seed"]), x[i] + (j - 1) * w), 100 * np.array(r[col]["per_seed"]), "k.", ms=3)
        m = [r[col]["final"][0] if r[col] else np.nan for r in rows]
        e = [r[col]["final"][1] if r[col] else 0 for r in rows]
        axes[1].bar(x + (j - 1) * w, m, w, yerr=e, capsize=3, label=col, color=colors[col])
    nseeds = max(r["seeds"] for r in rows) if rows else 1
    axes[0].set(ylabel="success rate (%)", title=f"success (final distance < 5 mm); dots: seeds")
    axes[1].set(ylabel="final distance (mm)", title="final distance to source")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels([r["condition"] for r in rows], rotation=30, ha="right")
        ax.legend()
    fig.suptitle(f"Lesion effect and compensation ({nseeds} seed{'s' if nseeds > 1 else ''} per condition; "
                 "95% CI: bootstrap over seeds and episodes)")
    save(fig, os.path.join(out, "lesion_effect.png"), made)
    # figure 2: held-out success over (re)training episodes per condition
    if any(len(r["curve"]) > 1 for r in rows):
        fig, ax = plt.subplots(figsize=(9, 5.5))
        drawn = [r for r in rows if len(r["curve"]) > 1]
        # one colour per drawn curve (not per condition index: two of 12 conditions would share one)
        cmap = plt.get_cmap("tab10" if len(drawn) <= 10 else "tab20")
        for i, r in enumerate(drawn):
            ex = np.array([p[0] for p in r["curve"]], float)
            m = np.array([100 * p[1][0] for p in r["curve"]])
            lo = np.array([100 * p[1][1] for p in r["curve"]])
            hi = np.array([100 * p[1][2] for p in r["curve"]])
            ax.plot(ex, m, "o-", color=cmap(i), label=r["condition"])
            ax.fill_between(ex, lo, hi, color=cmap(i), alpha=0.15)
            if r["intact"]:
                ax.axhline(100 * r["intact"]["success"][0], color=cmap(i), ls=":", lw=0.8)
        ax.set_xscale("symlog", linthresh=100)
        ax.set(xlabel="(re)training episodes (0 = starting parameters on the condition's circuit)", ylabel="held-out success (%)",
               ylim=(-2, 102), xlim=(-5, None), title=f"Held-out success over (re)training: mean, 95% CI over {nseeds} seeds and the "
                                                     "episodes\n(dotted: the starting parameters on the intact circuit)")
        ax.legend(fontsize=8, ncol=2)
        save(fig, os.path.join(out, "compensation.png"), made)
    # tables
    hdr = ["index", "condition", "seeds"]
    for col, _ in EVALS:
        hdr += [f"{col}_success", f"{col}_success_lo95", f"{col}_success_hi95", f"{col}_final_mm", f"{col}_final_ci95",
                f"{col}_median_final_mm", f"{col}_episodes"]
    hdr += ["curve_episodes", "curve_success"]
    lines = [",".join(hdr)]
    # one column per (re)training point any condition has; "-" where a condition was not evaluated there
    points = sorted({p[0] for r in rows for p in r["curve"]} - {0})
    md = ["| " + " | ".join(["condition", "seeds", "intact", "lesioned (0 episodes)"] + [f"after {x}" for x in points]) + " |", ""]
    md[1] = "|" + "---|" * (md[0].count("|") - 1)
    for r in rows:
        vals = [str(r["index"]), r["condition"], str(r["seeds"])]
        for col, _ in EVALS:
            v = r[col]
            if v is None:
                vals += [""] * 7
                continue
            vals += [f"{v['success'][0]:.4f}", f"{v['success'][1]:.4f}", f"{v['success'][2]:.4f}", f"{v['final'][0]:.3f}",
                     f"{v['final'][1]:.3f}", f"{v['median']:.3f}", str(v["n"])]
        vals += [" ".join(str(p[0]) for p in r["curve"]), " ".join(f"{p[1][0]:.4f}" for p in r["curve"])]
        lines.append(",".join(vals))
        fmt = lambda b: f"{100 * b[0]:.1f}% [{100 * b[1]:.1f}, {100 * b[2]:.1f}]"
        cells = [fmt(r["intact"]["success"]) if r["intact"] else "-"]
        if r["curve"]:
            at = dict(r["curve"])
            cells += [fmt(at[0]) if 0 in at else (fmt(r["lesioned"]["success"]) if r["lesioned"] else "-")]
            cells += [fmt(at[x]) if x in at else "-" for x in points]
        else:
            cells += [fmt(r["lesioned"]["success"]) if r["lesioned"] else "-"]
            cells += [fmt(r["retrained"]["success"]) if r["retrained"] and x == points[-1] else "-" for x in points] if points else []
        md.append(f"| {r['condition']} | {r['seeds']} | " + " | ".join(cells) + " |")
    md.append("")
    md.append(f"Held-out success (final distance < 5 mm), mean over seeds [95% CI: bootstrap over seeds and evaluation episodes].")
    for name, body in [("summary.csv", "\n".join(lines) + "\n"), ("summary.md", "\n".join(md) + "\n")]:
        p = os.path.join(out, name)
        with open(p, "w") as fp:
            fp.write(body)
        made.append(p)
    for k in sorted(f["runs"].keys()):
        run_figures(f["runs"][k], os.path.join(out, "runs", k), made, k)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--out", help="output folder (default: <file's folder>/report)")
    a = ap.parse_args()
    if not os.path.exists(a.file):
        sys.exit(f"report.py: {a.file}: no such file")
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.file)), "report")
    os.makedirs(out, exist_ok=True)
    made = []
    try:
        f = h5py.File(a.file, "r")
    except OSError as e:
        sys.exit(f"report.py: {a.file}: not a readable HDF5 file ({e})")
    with f:
        if "summary" in f and "runs" in f:
            sweep_report(f, out, made)
        else:
            run_figures(f, out, made, os.path.basename(os.path.dirname(os.path.abspath(a.file))) or a.file)
    if not made:
        sys.exit(f"report.py: {a.file}: nothing to draw (no episodes, history or sweep summary)")
    for p in made:
        print(p)


if __name__ == "__main__":
    main()
