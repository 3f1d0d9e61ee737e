#!/usr/bin/python3
"""Which KC classes carry a trained circuit's read-out.

    kc_classes.py SIMULATION.h5 CHECKPOINT.h5

SIMULATION.h5 is a `dmn_mpi CONFIG --simulate --init CHECKPOINT` run (its
circuit, lesions included, and its KC spikes); CHECKPOINT.h5 gives the
trained KC->MBON parameters (its /average when it has one, as --init reads
it).  Per KC class (alpha/beta, gamma, alpha'/beta' by FlyWire and
hemibrain cell-type names; any other type as itself) it prints the number of
KCs, their mean PN and MBON partners (alive synapses), their spikes per KC
per second, their share of all KC spikes, and their share of the read-out
drive: spikes times the summed |w| = softplus(u) of each KC's KC->MBON
synapses (src/MODEL.md section 1) -- what an ablation of that class takes
away from the MBONs.
"""
import sys

import h5py
import numpy as np


def kc_class(name):
    for prefix, label in (("KCab", "alpha/beta"), ("KCapbp", "alpha'/beta'"), ("KCa'b'", "alpha'/beta'"), ("KCg", "gamma")):
        if name.startswith(prefix):
            return label
    return name


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def fail(msg):
    sys.exit("kc_classes.py: error: " + msg)


def dataset(f, path, name):
    if path not in f:
        fail("%s has no dataset %s" % (name, path))
    return f[path][()]


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    sim_path, ckpt_path = argv[1], argv[2]
    try:
        sim, ckpt = h5py.File(sim_path, "r"), h5py.File(ckpt_path, "r")
    except OSError as e:
        fail(str(e))
    names = dataset(sim, "connectome/type_names", sim_path)
    names = (names[0] if names.shape else names)
    names = (names.decode() if isinstance(names, bytes) else str(names)).split("\n")
    kc_type = dataset(sim, "connectome/KC/type", sim_path)
    label = np.array([kc_class(names[t]) for t in kc_type])
    n_kc = len(kc_type)

    # structure from the simulated circuit (its lesions), weights from the checkpoint
    group = "average" if "average" in ckpt else "params"
    u = dataset(ckpt, group + "/kc_to_mbon", ckpt_path)
    col = dataset(sim, "connectome/kc_to_mbon/col", sim_path)
    alive = dataset(sim, "connectome/kc_to_mbon/alive", sim_path).astype(bool)
    if len(u) != len(col):
        fail("%s has %d KC->MBON parameters, the circuit of %s %d synapses: not the same circuit" % (ckpt_path, len(u), sim_path, len(col)))
    weight_out = np.bincount(col, weights=softplus(u) * alive, minlength=n_kc)
    mbon_partners = np.bincount(col[alive], minlength=n_kc)
    pk = "connectome/pn_to_kc/"
    row_ptr, pk_alive = dataset(sim, pk + "row_ptr", sim_path), dataset(sim, pk + "alive", sim_path).astype(bool)
    kc_of_synapse = np.repeat(np.arange(len(row_ptr) - 1), np.diff(row_ptr))  # CSR rows are KCs (empty rows too)
    pn_partners = np.bincount(kc_of_synapse[pk_alive], minlength=n_kc)

    spikes, seconds = np.zeros(n_kc), 0.0
    dt_s = float(sim.attrs.get("dt_ms", 1.0)) * 1e-3
    episodes = sorted(k for k in sim if k.startswith("episode_"))
    if not episodes:
        fail("%s has no episodes (is it a --simulate output?)" % sim_path)
    for e in episodes:
        spikes += np.bincount(dataset(sim, e + "/spikes/KC/neuron", sim_path), minlength=n_kc)
        seconds += dataset(sim, e + "/heading", sim_path).shape[0] * dt_s
    drive = spikes * weight_out

    print("%s (%d episodes, %.1f s) with the KC->MBON weights of %s (/%s)" % (sim_path, len(episodes), seconds, ckpt_path, group))
    print("| KC class | KCs | PN partners | MBON partners | spikes / KC / s | share of KC spikes | share of read-out drive |")
    print("|---|---|---|---|---|---|---|")
    for c in sorted(set(label), key=lambda c: -np.sum(label == c)):
        m = label == c
        print("| %s | %d | %.2f | %.2f | %.2f | %.0f %% | %.0f %% |" % (
            c, m.sum(), pn_partners[m].mean(), mbon_partners[m].mean(), spikes[m].sum() / m.sum() / seconds,
            100 * spikes[m].sum() / max(spikes.sum(), 1), 100 * drive[m].sum() / max(drive.sum(), 1e-300)))


if __name__ == "__main__":
    main(sys.argv)
