#!/usr/bin/python3
"""trajectory.py RUN_FILE.h5 [OUT.png] — the arena, the odor field and the
paths of the episodes in a dmn output file (simulation_data.h5: every
episode; results.h5: the stored evaluation trajectories), with the distance
to the source over time.  The same figure as report.py's trajectory.png, on
its own.  Uses Debian's python3-h5py/numpy/matplotlib."""
import os
import shutil
import sys
import tempfile

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the figure code lives there)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else path.rsplit(".", 1)[0] + "_trajectory.png"
    made = []
    with h5py.File(path, "r") as f, tempfile.TemporaryDirectory() as tmp:
        cfg = report.text(f["config"][()]) if "config" in f else ""
        report.fig_trajectory(f, cfg, tmp, made, os.path.basename(path))
        if not made:
            sys.exit(f"trajectory.py: {path}: no episodes to draw")
        shutil.move(made[0], out)
    print(out)


if __name__ == "__main__":
    main()
