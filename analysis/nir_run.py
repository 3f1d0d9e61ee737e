#!/usr/bin/python3
"""Run an exported NIR graph (dmn_mpi --export-nir) on recorded odor and
compare it with dmn's own run: the round trip of the NIR export.

  /usr/bin/python3 analysis/nir_run.py circuit.nir simulation_data.h5 [--episode N]

Reads nothing but the NIR file and the concentrations the fly sensed at its
antennae (/episode_N/odor_input of `dmn_mpi --simulate --init CKPT`), rebuilds
the receptor responses from the Input node's metadata and steps the graph with
the discrete update written in /node/metadata (exponential Euler at dt).  It
then compares every layer's spike train and the descending drive with the ones
dmn recorded.  In the same closed loop the body's path depends only on the
drive, so equal spikes and drive mean the NIR file reproduces the episode.

The arithmetic follows dmn's order (inputs summed in edge order, presynaptic
neurons in index order, CubaLIF as v_rest + e (v - v_rest) + (1 - e)(I + bias)
with the bias in the node's metadata) and uses the C library's exp, log and
tanh, so a faithful file gives bitwise-identical spike trains.  A reader that
uses v_leak instead gets the same dynamics up to rounding.
Exit 0 when every spike and drive value match, 1 otherwise.
"""
import math
import sys

import h5py
import numpy as np


def text(x):
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def load(path):
    f = h5py.File(path, "r")
    top = f["node"]
    nodes = {}
    for name, g in top["nodes"].items():
        n = {"type": text(g["type"][()])}
        for k, v in g.items():
            if isinstance(v, h5py.Dataset) and k != "type":
                n[k] = v[()]
        if "metadata" in g:
            n["metadata"] = {k: v[()] for k, v in g["metadata"].items()}
        nodes[name] = n
    edges = [(text(a), text(b)) for a, b in top["edges"][()]]
    meta = {k: v[()] for k, v in top["metadata"].items()}
    return nodes, edges, meta


def receptor(meta, odor_t):
    """r_i from the two antennae's concentrations (Input node metadata)."""
    kind = text(meta["receptor"])
    mu, ant = meta["mu"], meta["antenna"]
    eps, rng = float(meta["eps"]), float(meta["log_range"])
    lc = [math.log(float(c) + eps) for c in odor_t]
    r = np.zeros(len(mu))
    for i in range(len(mu)):
        m, l = float(mu[i]), lc[int(ant[i])]
        if math.isinf(m):
            continue
        if kind == "weber":
            r[i] = (l - m) / rng if l > m else 0.0
        else:
            z = (l - m) / float(meta["tuning_width"])
            r[i] = 1.0 / (1.0 + math.exp(-z)) if kind == "hill" else math.exp(-0.5 * z * z)
    return r


def run(nodes, edges, meta, odor):
    dt = float(meta["dt"])
    preds = {n: [a for a, b in edges if b == n] for n in nodes}
    decay = lambda tau: np.array([math.exp(-dt / float(t)) for t in np.atleast_1d(tau)])
    # order of evaluation: Delay outputs are last step's values; everything
    # else after its predecessors (the edges are a DAG once Delays are cut)
    order, done = [], {n for n, v in nodes.items() if v["type"] in ("Input", "Delay")}
    while len(done) < len(nodes):
        ready = [n for n in nodes if n not in done and all(p in done for p in preds[n])]
        if not ready:
            sys.exit("nir_run: the graph has a cycle without a Delay node")
        for n in sorted(ready, key=lambda n: list(nodes).index(n)):
            order.append(n)
            done.add(n)
    state, out = {}, {}
    for n, v in nodes.items():
        if v["type"] == "CubaLIF":
            md = v["metadata"]
            state[n] = {"I": np.zeros(len(v["tau_mem"])), "vp": np.full(len(v["tau_mem"]), float(md["v_rest"])),
                        "e_syn": decay(v["tau_syn"]), "e": decay(v["tau_mem"])}
        elif v["type"] == "LI":
            state[n] = {"v": np.zeros(len(v["tau"])), "e": decay(v["tau"]), "first": True}
        elif v["type"] == "Delay":
            out[n] = np.zeros(len(v["delay"]))
            assert np.all(np.asarray(v["delay"]) == dt), "dmn's delays are one step"
    spikes = {n: [] for n, v in nodes.items() if v["type"] == "CubaLIF"}
    drive = np.zeros((len(odor), 2))
    T = len(odor)
    for t in range(T):
        inp = [n for n, v in nodes.items() if v["type"] == "Input"][0]
        out[inp] = receptor(nodes[inp]["metadata"], odor[t])
        if t == 0:  # the adaptation low-pass starts at r[0] (its metadata), so its Delay emits r[0] first
            for n, v in nodes.items():
                if v["type"] == "Delay" and preds[n] and nodes[preds[n][0]]["type"] == "LI" and inp in preds[preds[n][0]]:
                    out[n] = out[inp].copy()
                    state[preds[n][0]]["v"] = out[inp].copy()
        for n in order:
            v = nodes[n]
            kind = v["type"]
            if kind in ("Scale", "LI", "Output", "Affine"):
                x = None
                for p in preds[n]:
                    x = out[p].copy() if x is None else x + out[p]
            if kind == "Scale":
                out[n] = v["scale"] * x
            elif kind == "Linear":
                W, x = v["weight"], out[preds[n][0]]
                y = np.zeros(W.shape[0])
                for j in np.nonzero(x)[0]:  # dmn: presynaptic neurons in index order
                    y += W[:, j] * x[j]
                out[n] = y
            elif kind == "LI":
                s = state[n]
                s["v"] = s["e"] * s["v"] + (1.0 - s["e"]) * (v["r"] * x)
                out[n] = s["v"].copy()
            elif kind == "Affine":
                W, b = v["weight"], v["bias"]
                y = np.array(b, dtype=float)
                for k in range(W.shape[0]):
                    for j in range(W.shape[1]):
                        y[k] += W[k, j] * x[j]
                out[n] = y
            elif kind == "CubaLIF":
                s, md = state[n], v["metadata"]
                I = s["e_syn"] * s["I"]
                for p in preds[n]:  # in edge order, each input's terms one by one
                    src = nodes[p]
                    if src["type"] == "Linear":
                        W, x = src["weight"], out[preds[p][0]]
                        for j in np.nonzero(x)[0]:
                            I += W[:, j] * x[j]
                    else:
                        I += v["w_in"] * out[p]
                e, vr, b = s["e"], float(md["v_rest"]), md["bias"]
                V = vr + e * (s["vp"] - vr) + (1.0 - e) * (I + b)
                z = (V >= v["v_threshold"]).astype(float)
                s["vp"] = V - z * (V - v["v_reset"])
                s["I"] = I
                out[n] = z
                spikes[n] += [(t, i) for i in np.nonzero(z)[0]]
            elif kind == "Output":
                drive[t] = [math.tanh(float(u)) for u in x]
        for n, v in nodes.items():  # the Delays take this step's input for the next
            if v["type"] == "Delay":
                out[n] = out[preds[n][0]].copy()
    return spikes, drive


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    ep = int(args[args.index("--episode") + 1]) if "--episode" in args else 0
    nodes, edges, meta = load(args[0])
    sim = h5py.File(args[1], "r")[f"episode_{ep:04d}"]
    spikes, drive = run(nodes, edges, meta, sim["odor_input"][()])
    ok = True
    for layer in ("ORN", "PN", "KC", "MBON", "DN"):
        want = sorted(zip(sim[f"spikes/{layer}/step"][()].tolist(), sim[f"spikes/{layer}/neuron"][()].tolist()))
        got = sorted((int(t), int(i)) for t, i in spikes[layer.lower()])
        same = got == want
        ok &= same
        print(f"  {layer:5s} dmn {len(want):7d} spikes, NIR replay {len(got):7d}: {'identical' if same else 'DIFFERENT'}")
    dd = np.max(np.abs(drive - sim["dn_drive"][()]))
    ok &= dd == 0.0
    print(f"  drive: max |difference| {dd:.3g} over {len(drive)} steps")
    print("NIR round trip: " + ("identical spike trains and drive" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
