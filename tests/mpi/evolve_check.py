#!/usr/bin/python3
"""Checks on a population checkpoint (and results.h5) of dmn evolution.

usage: evolve_check.py CHECKPOINT.h5 [--lesioned N] [--results RESULTS.h5]
Prints one line per check; exit status 1 if any fails."""
import sys

import h5py
import numpy as np

FNV_OFF, FNV_PRIME, MASK = 1469598103934665603, 1099511628211, (1 << 64) - 1


def fnv(a):
    h = FNV_OFF
    for b in np.ascontiguousarray(a, dtype="<f8").tobytes():
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def main():
    path = sys.argv[1]
    lesioned = int(sys.argv[sys.argv.index("--lesioned") + 1]) if "--lesioned" in sys.argv else 0
    results = sys.argv[sys.argv.index("--results") + 1] if "--results" in sys.argv else None
    fails = 0

    def check(ok, what):
        nonlocal fails
        print(("ok   " if ok else "FAIL ") + what)
        fails += 0 if ok else 1

    f = h5py.File(path, "r")
    P = int(f.attrs["population"])
    params = f["population/params"][()]
    rank_sum = f["population/rank_checksum"][()].ravel()
    rank_slot = f["population/rank_slot"][()].ravel()
    row_sum = [fnv(params[k]) for k in range(P)]
    same = all(int(rank_sum[r]) == row_sum[rank_slot[r]] for r in range(len(rank_sum)))
    check(same, f"every rank of a group holds its individual's parameters bitwise ({len(rank_sum)} ranks, {P} groups)")
    distinct = len({row_sum[k] for k in range(P)}) == P
    check(distinct, f"the {P} individuals' parameters all differ")

    lin = f["lineage"]
    ng = lin["id"].shape[0]
    ids, par, rep = lin["id"][()], lin["parent"][()], lin["replaced_by"][()]
    cs, inh = lin["checksum"][()], lin["inherited_checksum"][()]
    edits = lin["edits"][()]
    made = lin["made_pn_kc"][()] + lin["made_kc_mbon"][()]
    n_copies, ok_inh, ok_lin = 0, True, True
    for g in range(ng):
        for k in range(P):
            w = int(rep[g, k])
            if w < 0:
                if g + 1 < ng and ids[g + 1, k] != ids[g, k]:
                    ok_lin = False
                continue
            n_copies += 1
            ok_inh &= int(inh[g, k]) == int(cs[g, w]) and int(cs[g, w]) != 0
            if g + 1 < ng:
                ok_lin &= ids[g + 1, k] not in ids[: g + 1] and par[g + 1, k] == ids[g, w]
                ok_lin &= edits[g + 1, k] == edits[g, w] + made[g + 1, k]
    check(n_copies > 0 and ok_inh, f"{n_copies} replacements: each one's parameters right after the copy equal its parent's (checksums)")
    check(ok_lin, f"lineage consistent over {ng} generations: new ids, parent ids, edit counts = parent's + new")
    fit = lin["fitness"][()]
    ok_sel = all(fit[g, k] <= np.sort(fit[g])[P - int((rep[g] >= 0).sum())] for g in range(ng) for k in range(P) if rep[g, k] >= 0)
    check(ok_sel, "only the worst individuals of a generation are replaced")

    # structure: every KC keeps its claw count (rows keep their length), claws distinct and of the KC's side
    rp = f["connectome/pn_to_kc/row_ptr"][()]
    base = f["connectome/pn_to_kc/col"][()]
    kc_side, pn_side = f["connectome/KC/side"][()], f["connectome/PN/side"][()]
    cols = f["population/pn_to_kc_col"][()]
    gen = f["population/genome"]
    ok_rows, changed = True, 0
    for k in range(P):
        c = cols[k]
        for i in range(len(rp) - 1):
            r = c[rp[i]: rp[i + 1]]
            if len(r) != rp[i + 1] - rp[i] or np.any(np.diff(r) <= 0) or np.any(pn_side[r] != kc_side[i]):
                ok_rows = False
        changed += int(np.any(c != base))
    n_ed = gen["n_edits"][()].astype(int)
    ed = gen["edits"][()]
    ok_match = True
    for k in range(P):
        e = ed[k][: 4 * n_ed[k]].reshape(-1, 4)
        n_pk = int((e[:, 0] == 1).sum()) if len(e) else 0  # projection 1 = pn_to_kc
        ok_match &= bool(np.any(cols[k] != base)) == (n_pk > 0)
    check(ok_rows, f"rewired PN->KC: every KC keeps its claw count ({len(base)} synapses), distinct PNs of its own side, in all {P} individuals")
    check(ok_match and changed > 0, f"{changed} of {P} individuals carry a rewired PN->KC matrix, exactly those whose genome has PN->KC edits")
    if lesioned:
        les0 = lin["lesioned"][0]
        ok_c = all(rep[0, k] >= 0 for k in range(P) if les0[k] == 1)
        check(int(les0.sum()) == lesioned and ok_c, f"the {lesioned} crippled individual(s) (no KC->MBON synapses) ranked last and were replaced after generation 1")
        check(int(gen["lesioned"][()].sum()) == 0, "no crippled individual survives to the end")
    if results:
        r = h5py.File(results, "r")
        e = r["evolution"]
        check(int(e.attrs["population"]) == P and e["lineage/fitness"].shape == (ng, P) and e["final/success_rate"].shape == (P,),
              "results.h5 has /evolution (lineage, final population evaluation)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
