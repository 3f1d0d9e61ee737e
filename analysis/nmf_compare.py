#!/usr/bin/env python3
"""The sim-to-sim gap in one figure: a circuit evaluated in both bodies from
the same held-out starts (dmn_mpi CONFIG --evaluate CKPT --body neuromechfly).

    /usr/bin/python3 analysis/nmf_compare.py RUN/evaluation.h5 [OUT.png] [--label TEXT]

Left: the recorded trajectories, reduced body (dashed) and NeuroMechFly
(solid) from the same start, around the source.  Right: final distance to
the source per start, NeuroMechFly against the reduced body.  Prints the
table (success, median final distance, the physics' health) as Markdown.
Reads /neuromechfly of the evaluation file (analysis/README.md).
"""
import re
import sys

import h5py
import numpy as np


def source_of(f):
    """The odor source (x, y) from the run's config text."""
    cfg = f["config"][()]
    cfg = cfg.decode() if isinstance(cfg, bytes) else str(cfg)
    odor = cfg.split("\nodor:", 1)[1] if "\nodor:" in cfg else cfg
    x = re.search(r"\n  source_x: ([-0-9.e+]+)", odor)
    y = re.search(r"\n  source_y: ([-0-9.e+]+)", odor)
    return (float(x.group(1)) if x else 50.0, float(y.group(1)) if y else 50.0)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    label = ""
    if "--label" in argv:
        label = argv[argv.index("--label") + 1]
        args = [a for a in args if a != label]
    if not args:
        print(__doc__)
        return 2
    path = args[0]
    out = args[1] if len(args) > 1 else path.rsplit("/", 1)[0] + "/nmf_compare.png"
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        print(f"nmf_compare: cannot open {path}: {e}", file=sys.stderr)
        return 2
    if "neuromechfly" not in f:
        print(f"nmf_compare: {path} has no /neuromechfly (run --evaluate CKPT --body neuromechfly)", file=sys.stderr)
        return 2
    g = f["neuromechfly"]
    src = source_of(f)
    red, nmf = g["reduced"], g["neuromechfly"]
    n = g["start_pose"].shape[0]
    print(f"| body | starts | success | median final distance | mean path |")
    print(f"|---|---|---|---|---|")
    for name, s in (("reduced (MODEL §5)", red), ("NeuroMechFly (MuJoCo)", nmf)):
        fd = s["final_distance"][:]
        print(f"| {name} | {n} | {100 * s.attrs['success_rate']:.1f} % | {np.nanmedian(fd):.2f} mm | {np.nanmean(s['path_length'][:]):.1f} mm |")
    h = nmf["health"][:]
    print(f"\nNeuroMechFly: {int(nmf.attrs['unhealthy_episodes'])} of {n} episodes unhealthy; "
          f"lowest up-axis z {np.min(h[:, 6]):.3f}, lowest tarsus {np.min(h[:, 7]):.3f} mm, at most {int(np.max(h[:, 4]))} contacts; "
          f"{nmf.attrs['physics_steps_per_s']:.0f} physics steps/s per core")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 5))
    colors = plt.cm.tab10.colors
    tr_r = red["trajectories"] if "trajectories" in red else {}
    tr_n = nmf["trajectories"] if "trajectories" in nmf else {}
    for k, name in enumerate(sorted(tr_n.keys())):
        c = colors[k % len(colors)]
        p = tr_n[name]["position"][:]
        ax[0].plot(p[:, 0], p[:, 1], "-", color=c, lw=1.2, label="NeuroMechFly" if k == 0 else None)
        if name in tr_r:
            q = tr_r[name]["position"][:]
            ax[0].plot(q[:, 0], q[:, 1], "--", color=c, lw=1.0, alpha=0.8, label="reduced body" if k == 0 else None)
        ax[0].plot(p[0, 0], p[0, 1], "o", color=c, ms=5)
    ax[0].add_patch(plt.Circle(src, 5.0, fill=False, ls=":", color="k"))
    ax[0].plot(*src, "k*", ms=12, label="odor source (5 mm: success)")
    ax[0].set_aspect("equal")
    ax[0].set_xlabel("x (mm)")
    ax[0].set_ylabel("y (mm)")
    ax[0].set_title("same starts, both bodies")
    ax[0].legend(loc="best", fontsize=8)
    fr, fn = red["final_distance"][:], nmf["final_distance"][:]
    m = max(np.nanmax(fr), np.nanmax(fn), 6.0) * 1.05
    ax[1].plot([0, m], [0, m], "k-", lw=0.5)
    ax[1].axhline(5, color="gray", ls=":")
    ax[1].axvline(5, color="gray", ls=":")
    ax[1].plot(fr, fn, "o", ms=5)
    ax[1].set_xlim(0, m)
    ax[1].set_ylim(0, m)
    ax[1].set_xlabel("final distance, reduced body (mm)")
    ax[1].set_ylabel("final distance, NeuroMechFly (mm)")
    ax[1].set_title(f"{n} held-out starts: reduced {100 * red.attrs['success_rate']:.0f} %, NeuroMechFly {100 * nmf.attrs['success_rate']:.0f} %")
    if label:
        fig.suptitle(label)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"\nfigure: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
