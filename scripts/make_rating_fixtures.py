#!/usr/bin/env python3
"""Writes Tests/AlignRatingsTests/Fixtures: comparison files and the log-strengths an independent fit
gives for them.

The independent fit is scipy's BFGS on the negative log-likelihood written directly from the model's
probabilities (P(i beats j) = pi_i / (pi_i + pi_j), Davidson's P(tie) = nu sqrt(pi_i pi_j) / (...)),
per comparison, with gradients from torch autograd in float64. It shares no code and no derivation
with the Swift Newton solver. Whether the prior applies is decided with scipy's strongly connected
components. Run from the repository root: python3 scripts/make_rating_fixtures.py
"""
import json
import math
import os

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.csgraph
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AlignRatingsTests", "Fixtures")
PRIOR_SD = 2.0


def to_records(rows):
    """rows: (a, b, outcome, weight) with outcome in {'a', 'b', 'tie'}; returns flat comparisons."""
    return rows


def fit(items, comps, ties, prior_sd):
    """comps: list of (i, j, outcome, weight) with outcome 'a' (i won), 'b' (j won) or 'tie'."""
    n = len(items)
    i_idx = torch.tensor([c[0] for c in comps])
    j_idx = torch.tensor([c[1] for c in comps])
    w = torch.tensor([c[3] for c in comps], dtype=torch.float64)
    win_a = torch.tensor([1.0 if c[2] == "a" else 0.0 for c in comps], dtype=torch.float64)
    win_b = torch.tensor([1.0 if c[2] == "b" else 0.0 for c in comps], dtype=torch.float64)
    tie = torch.tensor([1.0 if c[2] == "tie" else 0.0 for c in comps], dtype=torch.float64)
    davidson = ties == "davidson"

    def unpack(x):
        # n - 1 free strengths; the last is minus their sum, so the mean is zero by construction.
        free = x[: n - 1]
        s = torch.cat([free, -free.sum().reshape(1)])
        return s, (x[n - 1] if davidson else None)

    def loglik(x):
        s, log_nu = unpack(x)
        si, sj = s[i_idx], s[j_idx]
        if davidson:
            denom = torch.logsumexp(torch.stack([si, sj, log_nu + 0.5 * (si + sj)]), dim=0)
            lp_a, lp_b, lp_t = si - denom, sj - denom, log_nu + 0.5 * (si + sj) - denom
            return (w * (win_a * lp_a + win_b * lp_b + tie * lp_t)).sum()
        # Ties as half a win for each side.
        lp_a = si - torch.logaddexp(si, sj)
        lp_b = sj - torch.logaddexp(si, sj)
        return (w * ((win_a + 0.5 * tie) * lp_a + (win_b + 0.5 * tie) * lp_b)).sum()

    def objective(xnp):
        x = torch.tensor(xnp, dtype=torch.float64, requires_grad=True)
        s, _ = unpack(x)
        f = -loglik(x)
        if prior_sd is not None:
            f = f + (s * s).sum() / (2 * prior_sd**2)
        f.backward()
        return f.item(), x.grad.numpy().copy()

    def hessian(xnp):
        def f(x):
            s, _ = unpack(x)
            v = -loglik(x)
            return v + (s * s).sum() / (2 * prior_sd**2) if prior_sd is not None else v
        return torch.autograd.functional.hessian(f, torch.tensor(xnp, dtype=torch.float64)).numpy()

    x0 = np.zeros(n - 1 + (1 if davidson else 0))
    if davidson:
        t = sum(c[3] for c in comps if c[2] == "tie") / sum(c[3] for c in comps)
        x0[-1] = math.log(2 * t / (1 - t))
    # BFGS finds the basin; a trust-region polish with the autograd Hessian drives the gradient to
    # rounding level, which BFGS alone stops short of.
    res = scipy.optimize.minimize(objective, x0, jac=True, method="BFGS",
                                  options={"gtol": 1e-9, "maxiter": 10000})
    best = scipy.optimize.minimize(objective, res.x, jac=True, hess=hessian, method="trust-exact",
                                   options={"gtol": 1e-12, "maxiter": 200})
    x = best.x
    for _ in range(5):  # trust-exact may stop early on its step-size test; finish with plain Newton
        x = x - np.linalg.solve(hessian(x), objective(x)[1])
    best.x = x
    gnorm = np.linalg.norm(objective(best.x)[1])
    assert gnorm < 1e-9, gnorm
    x = torch.tensor(best.x, dtype=torch.float64)
    s, log_nu = unpack(x)
    return s.numpy(), (math.exp(log_nu.item()) if davidson else None), loglik(x).item(), gnorm


def strongly_connected(n, comps):
    rows, cols = [], []
    for i, j, o, _ in comps:
        if o in ("a", "tie"):
            rows.append(i); cols.append(j)
        if o in ("b", "tie"):
            rows.append(j); cols.append(i)
    g = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    k, _ = scipy.sparse.csgraph.connected_components(g, directed=True, connection="strong")
    return k == 1


def write_case(name, records, ties, array=False, file_stem=None):
    """records: list of dicts exactly as written to the file (named file_stem, default name)."""
    ext = "json" if array else "jsonl"
    path = os.path.join(OUT, f"{file_stem or name}.{ext}")
    with open(path, "w") as f:
        if array:
            f.write("[\n" + ",\n".join("  " + json.dumps(r) for r in records) + "\n]\n")
        else:
            for r in records:
                f.write(json.dumps(r) + "\n")
    items, index, comps = [], {}, []

    def idx(v):
        key = (isinstance(v, str), str(v))
        if key not in index:
            index[key] = len(items)
            items.append(v)
        return index[key]

    for r in records:
        weight = r.get("weight", r.get("count", 1))
        if "loser" in r:
            comps.append((idx(r["winner"]), idx(r["loser"]), "a", weight))
        else:
            comps.append((idx(r["a"]), idx(r["b"]), r["winner"], weight))
    prior = not strongly_connected(len(items), comps)
    s, nu, ll, gnorm = fit(items, comps, ties, PRIOR_SD if prior else None)
    return {
        "name": name, "file": os.path.basename(path), "ties": ties, "prior": prior,
        "prior_sd": PRIOR_SD if prior else None, "nu": nu, "log_likelihood": ll,
        "strengths": [{"id": str(v), "numeric": not isinstance(v, str), "strength": float(x)}
                      for v, x in zip(items, s)],
        "reference_gradient_norm": gnorm,
    }


def simulate(rng, names, true_s, count, tie_nu, mixed_forms=True):
    records = []
    for _ in range(count):
        i, j = rng.choice(len(names), size=2, replace=False)
        pi, pj = math.exp(true_s[i]), math.exp(true_s[j])
        t = tie_nu * math.sqrt(pi * pj)
        u = rng.random() * (pi + pj + t)
        a, b = names[i], names[j]
        if u < pi:
            records.append({"winner": a, "loser": b} if mixed_forms and rng.random() < 0.5
                           else {"a": a, "b": b, "winner": "a"})
        elif u < pi + pj:
            records.append({"winner": b, "loser": a} if mixed_forms and rng.random() < 0.5
                           else {"a": a, "b": b, "winner": "b"})
        else:
            records.append({"a": a, "b": b, "winner": "tie"})
    return records


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261122)
    cases = []

    # The three-item example of docs/ratings.md.
    abc = [{"winner": "A", "loser": "B"}] * 3 + [{"winner": "B", "loser": "A"}] \
        + [{"winner": "B", "loser": "C"}] * 2 + [{"winner": "C", "loser": "B"}] \
        + [{"a": "A", "b": "C", "winner": "a"}] * 2 + [{"a": "C", "b": "A", "winner": "a"}] \
        + [{"a": "A", "b": "C", "winner": "tie"}, {"a": "B", "b": "C", "winner": "tie"}]
    cases.append(write_case("abc", abc, "half"))
    cases.append(write_case("abc_davidson", abc, "davidson", file_stem="abc"))

    names = [f"model-{k}" for k in range(8)]
    true_s = rng.normal(0, 1, size=8)
    random8 = simulate(rng, names, true_s, 300, tie_nu=0.6)
    cases.append(write_case("random8", random8, "half"))
    cases.append(write_case("random8_davidson", random8, "davidson", file_stem="random8"))

    # E never loses: the MLE diverges, so the prior applies.
    five = ["A", "B", "C", "D"]
    never_loses = simulate(rng, five, [0.5, 0.0, -0.3, -0.8], 40, tie_nu=0.3)
    never_loses += [{"winner": "E", "loser": x} for x in five] + [{"winner": "E", "loser": "B"}]
    cases.append(write_case("never_loses", never_loses, "half"))

    # Two groups never compared with each other.
    disconnected = simulate(rng, ["A", "B", "C"], [0.4, 0.0, -0.4], 30, tie_nu=0.3) \
        + simulate(rng, ["D", "E"], [0.5, -0.5], 12, tie_nu=0.0) + [{"winner": "D", "loser": "E"}] * 2
    cases.append(write_case("disconnected", disconnected, "half"))

    # Davidson with an item that never wins (and never ties).
    never_wins = simulate(rng, ["A", "B", "C"], [0.6, 0.0, -0.6], 40, tie_nu=0.8)
    never_wins += [{"winner": x, "loser": "Z"} for x in ["A", "B", "C", "A"]]
    cases.append(write_case("davidson_never_wins", never_wins, "davidson"))

    # Two cycles, {A, B} and {C, D}; C and D never beat A or B, though every item wins and loses.
    groups = [{"winner": "A", "loser": "B"}, {"winner": "B", "loser": "A"}, {"winner": "C", "loser": "D"},
              {"winner": "D", "loser": "C"}, {"winner": "A", "loser": "C"}, {"winner": "B", "loser": "D"},
              {"winner": "A", "loser": "D"}, {"a": "C", "b": "D", "winner": "a"}]
    cases.append(write_case("ordered_groups", groups, "half"))

    # Numeric ids, weights and counts, in a JSON array file.
    weighted = []
    for _ in range(25):
        i, j = (int(x) for x in rng.choice(5, size=2, replace=False))
        rec = {"a": i + 1, "b": j + 1, "winner": ["a", "b", "tie"][int(rng.integers(3))]}
        r = rng.random()
        if r < 0.4:
            rec["weight"] = round(float(rng.uniform(0.5, 3.0)), 3)
        elif r < 0.7:
            rec["count"] = int(rng.integers(1, 5))
        weighted.append(rec)
    weighted += [{"winner": 1, "loser": 5}, {"winner": 5, "loser": 1}]
    cases.append(write_case("weighted_numeric", weighted, "half", array=True))
    cases.append(write_case("weighted_numeric_davidson", weighted, "davidson", array=True,
                            file_stem="weighted_numeric"))

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generator": "scripts/make_rating_fixtures.py (scipy BFGS + torch autograd)",
                   "cases": cases}, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["name"], c["ties"], "prior" if c["prior"] else "mle", c["nu"],
              " ".join(f"{e['id']}={e['strength']:.4f}" for e in c["strengths"]))


if __name__ == "__main__":
    main()
