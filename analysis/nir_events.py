#!/usr/bin/python3
"""Recorded spikes of dmn episodes in NIR's data layout (NIRGraphData, what
nir.read_data() loads), to go with a graph from dmn_mpi --export-nir.

  /usr/bin/python3 analysis/nir_events.py simulation_data.h5 OUT.h5 [--episodes 0,1,...]

One sample per episode (every episode of the file by default).  Per layer
node (orn, pn, kc, mbon, dn): observable `spikes`, EventData — idx and time
(n_samples x n_events; -1 and inf pad), attributes n_neurons and t_max (ms);
for `output`: observable `drive`, TimeGriddedData (n_samples x T x 2, dt in
ms), the descending drive after tanh.  An event's time is the start of its
step (step x dt).
"""
import sys

import h5py
import numpy as np

LAYERS = ("ORN", "PN", "KC", "MBON", "DN")


def convert(sim_path, out_path, episodes=None):
    sim = h5py.File(sim_path, "r")
    dt = float(sim.attrs["dt_ms"])
    names = sorted(k for k in sim if k.startswith("episode_"))
    if episodes is not None:
        names = [f"episode_{e:04d}" for e in episodes]
    eps = [sim[n] for n in names]
    T = eps[0]["odor_input"].shape[0]
    sizes = {}
    cfg = sim["config"][()].decode() if "config" in sim else ""
    with h5py.File(out_path, "w") as f:
        f.attrs["__type__"] = "NIRGraphData"
        nodes = f.create_group("nodes")
        for layer in LAYERS:
            n_neurons = int(sim[f"/connectome/{layer}/id"].shape[0])
            sizes[layer] = n_neurons
            steps = [e[f"spikes/{layer}/step"][()] for e in eps]
            ids = [e[f"spikes/{layer}/neuron"][()] for e in eps]
            n_ev = max([len(s) for s in steps] + [1])
            idx = np.full((len(eps), n_ev), -1, dtype=np.int64)
            time = np.full((len(eps), n_ev), np.inf)
            for k, (s, i) in enumerate(zip(steps, ids)):
                order = np.lexsort((i, s))  # by time, then neuron
                idx[k, : len(s)] = i[order]
                time[k, : len(s)] = s[order] * dt
            g = nodes.create_group(layer.lower())
            g.attrs["__type__"] = "NIRNodeData"
            o = g.create_group("observables").create_group("spikes")
            o.attrs["__type__"] = "EventData"
            o.create_dataset("idx", data=idx, compression="gzip")
            o.create_dataset("time", data=time, compression="gzip")
            o.attrs["n_neurons"] = n_neurons
            o.attrs["t_max"] = T * dt
        g = nodes.create_group("output")
        g.attrs["__type__"] = "NIRNodeData"
        o = g.create_group("observables").create_group("drive")
        o.attrs["__type__"] = "TimeGriddedData"
        o.create_dataset("data", data=np.stack([e["dn_drive"][()] for e in eps]), compression="gzip")
        o.attrs["dt"] = dt
    return len(eps), T, sizes, cfg


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 2:
        sys.exit(__doc__)
    sel = [int(x) for x in a[a.index("--episodes") + 1].split(",")] if "--episodes" in a else None
    n, T, sizes, _ = convert(a[0], a[1], sel)
    print(f"{a[1]}: NIRGraphData, {n} episode(s) of {T} steps; spikes of " + ", ".join(f"{k} ({v})" for k, v in sizes.items())
          + "; drive as TimeGriddedData")
