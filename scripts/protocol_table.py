#!/usr/bin/env python3
"""The table of a protocol run (scripts/protocol.sh): the seed and every front member retrained
at full fidelity — mean test accuracy over the final seeds, params, MACs and their change
against the seed — and whether the protocol's goal was met.

  python3 scripts/protocol_table.py RUN.json [--goal weak|strong]

RUN.json is `nasc evolve --export json --store STORE`.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--goal", choices=["weak", "strong"])
    a = ap.parse_args()
    run = json.load(open(a.run))
    cands = run["candidates"]
    finals = run.get("finals", [])
    finish = run["settings"].get("finish") or {}
    members = sorted({f["id"] for f in finals})
    seed = cands[0]

    def mean_test(i):
        xs = [f["test_accuracy"] for f in finals if f["id"] == i and f["test_accuracy"] is not None]
        return sum(xs) / len(xs) if xs else None

    def change(x, base):
        return f"{(x / base - 1) * 100:+.1f} %" if base else "-"

    base_acc = mean_test(0)
    t = run["settings"]["train"]
    print(f"{run['settings']['file']} on {run['settings']['data']}: {len(cands)} candidates, each {t.get('train_subset') or 'all'} images × "
          f"{t['epochs']} epochs{' with inheritance' if run['settings'].get('inherit') else ''}, validation split {t.get('val_size')}; "
          f"full fidelity: {finish.get('epochs')} epochs × {finish.get('seeds')} seeds on every training image outside the validation split.\n")
    print("| id | search (val) | test, full fidelity | Δ test (points) | params | Δ params | MACs | Δ MACs | mutation |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for i in members:
        c = cands[i]
        acc = mean_test(i)
        if acc is None:
            continue
        d = (acc - base_acc) * 100 if base_acc is not None else float("nan")
        rows.append((i, acc, d, c["params"], c["macs"]))
        label = f"{i} (seed)" if i == 0 else str(i)
        print(f"| {label} | {c['accuracy'] * 100:.2f} % | {acc * 100:.2f} % | {d:+.2f} | {c['params']:,} | {change(c['params'], seed['params'])} | "
              f"{c['macs']:,} | {change(c['macs'], seed['macs'])} | {c['mutation'][:60]} |")
    if a.goal and base_acc is not None:
        # (goal text, which members qualify, points needed against the seed)
        goals = {
            "weak": ("≥ +3 points at ≤ the seed's params", lambda r: r[3] <= seed["params"], 3.0),
            "strong": ("within 0.3 points with ≥ 40 % fewer params and MACs", lambda r: r[3] <= 0.6 * seed["params"] and r[4] <= 0.6 * seed["macs"], -0.3),
        }
        text, qualifies, need = goals[a.goal]
        best = max((r for r in rows if r[0] != 0 and qualifies(r)), key=lambda r: r[1], default=None)
        print()
        if best is None:
            print(f"Goal ({text}): no front member qualifies — missed.")
        else:
            verdict = "met" if best[2] >= need else f"missed by {need - best[2]:.2f} points"
            print(f"Goal ({text}): best #{best[0]} {best[2]:+.2f} points at {best[3]:,} params, {best[4]:,} MACs — {verdict}.")


if __name__ == "__main__":
    main()
