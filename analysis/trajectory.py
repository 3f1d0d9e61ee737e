#!/usr/bin/python3
"""trajectory.py RUN_FILE.h5 [OUT.png] — the arena, the odor field and the
paths of the episodes in a dmn output file (simulation_data.h5: every
episode; results.h5: the stored evaluation trajectories), with the distance
to the source over time.  Uses Debian's python3-h5py/numpy/matplotlib."""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def config_value(cfg_text, section, key, default):
    sec = None
    for line in cfg_text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            sec = line[:-1]
        elif sec == section and line.strip().startswith(key + ":"):
            return line.split(":", 1)[1].strip().strip('"')
    return default


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else path.rsplit(".", 1)[0] + "_trajectory.png"
    with h5py.File(path, "r") as f:
        cfg = f["config"][()].decode() if "config" in f else ""
        root = f["evaluation/trajectories"] if "evaluation/trajectories" in f else f
        eps = sorted(k for k in root.keys() if k.startswith("episode_"))
        paths = [(k, root[k]["position"][:, :2], root[k].attrs.get("final_distance_to_goal", np.nan)) for k in eps]
        dt = float(config_value(cfg, "sim", "dt", 1.0))
    sx, sy = float(config_value(cfg, "odor", "source_x", 50)), float(config_value(cfg, "odor", "source_y", 50))
    ax_x, ax_y = float(config_value(cfg, "arena", "size_x", 100)), float(config_value(cfg, "arena", "size_y", 100))
    lam = float(config_value(cfg, "odor", "lambda", 15))
    field = config_value(cfg, "odor", "field", "exponential")
    sigma = float(config_value(cfg, "odor", "sigma", 25))
    gx, gy = np.meshgrid(np.linspace(0, ax_x, 200), np.linspace(0, ax_y, 200))
    r = np.hypot(gx - sx, gy - sy)
    conc = np.exp(-r / lam) if field == "exponential" else np.exp(-r**2 / (2 * sigma**2))

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5.5))
    a.imshow(conc, origin="lower", extent=(0, ax_x, 0, ax_y), cmap="Greens", alpha=0.6)
    for k, xy, fin in paths:
        a.plot(xy[:, 0], xy[:, 1], lw=1)
        a.plot(xy[0, 0], xy[0, 1], "o", ms=4, color="k")
        t = np.arange(len(xy)) * dt / 1000.0
        b.plot(t, np.hypot(xy[:, 0] - sx, xy[:, 1] - sy), lw=1, label=f"{k} ({fin:.1f} mm)")
    a.add_patch(plt.Circle((sx, sy), 5.0, fill=False, ls="--", color="r"))
    a.plot(sx, sy, "r*", ms=12)
    a.set(xlim=(0, ax_x), ylim=(0, ax_y), xlabel="x (mm)", ylabel="y (mm)", title=f"paths ({len(paths)} episodes; o = start)")
    a.set_aspect("equal")
    b.axhline(5.0, color="r", ls="--", lw=0.8)
    b.set(xlabel="time (s)", ylabel="distance to source (mm)", title="distance to the source (success: < 5 mm at the end)")
    if len(paths) <= 10:
        b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
