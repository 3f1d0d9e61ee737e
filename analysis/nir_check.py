#!/usr/bin/python3
"""Validate a NIR file (dmn_mpi --export-nir) the way nir.read(..., type_check=True)
would, without the nir package (not installable here): written from NIR's
published layout (nir/serialization.py, nir/ir/*.py of neuromorphs/NIR).

  /usr/bin/python3 analysis/nir_check.py circuit.nir

Checks: /version; /node/type == "NIRGraph"; /node/edges an (E, 2) array of
strings naming existing nodes; every node group has a known `type`, every
dataset that type requires, no dataset the type does not define (NIR readers
reject them; anything else belongs in a metadata/ group), parameter arrays of
one shape within a node, and along every edge the source's output shape equal
to the target's input shape.  Exit 0 when valid, 1 with one line per problem.
"""
import sys

import h5py
import numpy as np

# type -> (required datasets, optional datasets)
SPEC = {
    "Input": ({"shape"}, set()),
    "Output": ({"shape"}, set()),
    "Affine": ({"weight", "bias"}, set()),
    "Linear": ({"weight"}, set()),
    "Scale": ({"scale"}, set()),
    "Delay": ({"delay"}, set()),
    "LI": ({"tau", "r", "v_leak"}, set()),
    "LIF": ({"tau", "r", "v_leak", "v_threshold"}, {"v_reset"}),
    "CubaLI": ({"tau_syn", "tau_mem", "r", "v_leak", "w_in"}, set()),
    "CubaLIF": ({"tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in"}, {"v_reset"}),
    "I": ({"r"}, set()),
    "IF": ({"r", "v_threshold"}, {"v_reset"}),
    "Threshold": ({"threshold"}, set()),
}
ELEMENTWISE = {"LI": "tau", "LIF": "tau", "CubaLI": "tau_mem", "CubaLIF": "tau_mem", "I": "r", "IF": "r", "Scale": "scale",
               "Delay": "delay", "Threshold": "threshold"}


def text(x):
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def io_shapes(kind, g):
    """(input shape, output shape) of a node, as NIR's type inference sets them."""
    if kind in ("Input", "Output"):
        s = tuple(int(v) for v in np.atleast_1d(g["shape"][()]))
        return s, s
    if kind in ("Affine", "Linear"):
        w = g["weight"].shape
        return (w[-1],), (w[-2],)
    s = g[ELEMENTWISE[kind]].shape
    return s, s


def check(path):
    problems = []
    f = h5py.File(path, "r")
    if "version" not in f:
        problems.append("/version missing")
    if "node" not in f or "type" not in f["node"] or text(f["node/type"][()]) != "NIRGraph":
        return problems + ["/node/type is not 'NIRGraph'"]
    top = f["node"]
    for k in top:
        if k not in ("type", "nodes", "edges", "metadata"):
            problems.append(f"/node/{k}: not part of a NIRGraph (put it in /node/metadata)")
    nodes = top["nodes"]
    shapes = {}
    for name, g in nodes.items():
        if not isinstance(g, h5py.Group) or "type" not in g:
            problems.append(f"node {name}: no type")
            continue
        kind = text(g["type"][()])
        if kind not in SPEC:
            problems.append(f"node {name}: unknown type {kind}")
            continue
        need, opt = SPEC[kind]
        have = {k for k, v in g.items() if isinstance(v, h5py.Dataset)} - {"type"}
        for k in sorted(need - have):
            problems.append(f"node {name} ({kind}): dataset '{k}' missing")
        for k in sorted(have - need - opt):
            problems.append(f"node {name} ({kind}): dataset '{k}' is not a {kind} parameter (NIR readers reject it; use metadata/)")
        for k, v in g.items():
            if isinstance(v, h5py.Group) and k != "metadata":
                problems.append(f"node {name}: group '{k}' (only metadata/ is allowed)")
        if need - have:
            continue
        params = [k for k in (need | opt) & have if k not in ("weight", "bias", "shape")]
        if len({g[k].shape for k in params}) > 1:
            problems.append(f"node {name} ({kind}): parameters of different shapes {[(k, g[k].shape) for k in params]}")
        if kind in ("Affine", "Linear") and g["weight"].ndim != 2:
            problems.append(f"node {name}: weight must be 2-D, is {g['weight'].shape}")
        if kind == "Affine" and g["bias"].shape != (g["weight"].shape[0],):
            problems.append(f"node {name}: bias {g['bias'].shape} does not match weight {g['weight'].shape}")
        for k in params + [k for k in ("weight", "bias") if k in have]:
            if g[k].dtype.kind not in "fi":
                problems.append(f"node {name}: dataset '{k}' is not numeric ({g[k].dtype})")
        shapes[name] = (kind, io_shapes(kind, g))
    edges = top["edges"][()] if "edges" in top else None
    if edges is None or edges.ndim != 2 or edges.shape[1] != 2:
        return problems + ["/node/edges must be an (E, 2) array of node names"]
    connected = set()
    for a, b in edges:
        a, b = text(a), text(b)
        connected |= {a, b}
        for n in (a, b):
            if n not in nodes:
                problems.append(f"edge {a} -> {b}: no node '{n}'")
        if a in shapes and b in shapes:
            out_a, in_b = shapes[a][1][1], shapes[b][1][0]
            if shapes[a][0] == "Output":
                problems.append(f"edge {a} -> {b}: an Output has no successors")
            if shapes[b][0] == "Input":
                problems.append(f"edge {a} -> {b}: an Input has no predecessors")
            if tuple(out_a) != tuple(in_b):
                problems.append(f"type mismatch: {a}.output {tuple(out_a)} -> {b}.input {tuple(in_b)}")
    for n in nodes:
        if n not in connected:
            problems.append(f"node {n}: on no edge")
    if not any(k == "Input" for k, _ in shapes.values()) or not any(k == "Output" for k, _ in shapes.values()):
        problems.append("the graph needs an Input and an Output node")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    found = check(sys.argv[1])
    for p in found:
        print(f"{sys.argv[1]}: {p}")
    if not found:
        with h5py.File(sys.argv[1], "r") as f:
            print(f"{sys.argv[1]}: valid NIR graph, {len(f['node/nodes'])} nodes, {len(f['node/edges'])} edges, version {text(f['version'][()])}")
    sys.exit(1 if found else 0)
