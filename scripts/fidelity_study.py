#!/usr/bin/env python3
"""Does a search's score rank architectures the way full-fidelity training does?

From one `nasc evolve` store, a seeded sample of trained candidates (distinct architectures,
the seed included) is trained again:
  * at each low-fidelity SETTING (`SUBSETxEPOCHS`, from scratch, the run's validation split),
  * at full fidelity: every training image outside the validation split, --final-epochs epochs,
    test accuracy measured.
Each training is one `nasc evolve-worker` job (the same code path as the search's workers), so
the validation split, initialisation and data order are the search's. Results are appended to
OUT/results.jsonl as they finish: rerunning the same command resumes. At the end the Spearman
rank correlation between each setting's validation accuracy (and the store's own score, which
with `--inherit` started from the parent's weights) and the full-fidelity test accuracy is
printed with the training seconds per candidate, as a Markdown table (also OUT/table.md).

  scripts/fidelity_study.py STORE --out DIR [--sample 30] [--settings 1200x2,5000x2,15000x3]
      [--final-epochs 5] [--jobs 2] [--nasc target/debug/nasc]
"""
import argparse
import base64
import concurrent.futures as cf
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading


def read_store(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    settings = json.loads(con.execute("SELECT value FROM run WHERE key = 'settings'").fetchone()[0])
    cols = ["id", "source", "fingerprint", "status", "accuracy", "params", "macs", "seed", "train_seconds", "inherited", "reused_from"]
    rows = [dict(zip(cols, r)) for r in con.execute(f"SELECT {', '.join(cols)} FROM candidates ORDER BY id")]
    return settings, rows


def sample(rows, n, seed):
    seen, pool = set(), []
    for r in rows:
        if r["status"] == "done" and r["fingerprint"] not in seen:
            seen.add(r["fingerprint"])
            pool.append(r)
    rest = pool[1:]
    random.Random(seed).shuffle(rest)
    return sorted(([pool[0]] if pool and pool[0]["id"] == 0 else []) + rest[: max(0, n - 1)], key=lambda r: r["id"])


def job(settings, cand, subset, epochs, measure_test):
    train = dict(settings["train"])
    train.update(epochs=epochs, train_subset=subset, time_budget=None, threads=1)
    return {
        "source": cand["source"],
        "data": settings["data"],
        "data_seed": settings["seed"],
        "seed": cand["seed"] % (1 << 64),
        "train": train,
        "measure_test": measure_test,
        "rungs": [],
        "measure_latency": False,
    }


def run_job(nasc, j):
    # The job on the command line (as Ray jobs pass it): a worker reading stdin exits when it closes.
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    arg = base64.b64encode(json.dumps(j).encode()).decode()
    p = subprocess.run([nasc, "evolve-worker", "--job", arg], capture_output=True, text=True, env=env)
    lines = p.stdout.strip().splitlines()
    if not lines:
        return {"Err": f"worker died: {p.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


# A full-fidelity test accuracy at or below this is chance on 10 classes: the candidate diverged.
LEARNED = 0.2


def spearman(xs, ys):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2.0
            i = j + 1
        return r

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--settings", default="1200x2,5000x2,15000x3")
    ap.add_argument("--final-epochs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nasc", default="target/debug/nasc")
    ap.add_argument("--report-only", action="store_true", help="print the table of what is done; train nothing")
    a = ap.parse_args()
    settings, rows = read_store(a.store)
    if not settings["train"].get("val_size"):
        sys.exit("the store has no fixed validation split (--val-size): run the search with this nasc")
    cands = sample(rows, a.sample, a.seed)
    os.makedirs(a.out, exist_ok=True)
    results_path = os.path.join(a.out, "results.jsonl")
    done = {}
    if os.path.exists(results_path):
        for line in open(results_path):
            r = json.loads(line)
            if r.get("error") is None:
                done[(r["id"], r["setting"])] = r
    settings_list = [(s, int(s.split("x")[0]), int(s.split("x")[1])) for s in a.settings.split(",")]
    todo = []
    for c in cands:
        for name, subset, epochs in settings_list:
            if (c["id"], name) not in done:
                todo.append((c, name, subset, epochs, False))
        if (c["id"], "full") not in done:
            todo.append((c, "full", None, a.final_epochs, True))
    # Candidate by candidate (full fidelity first), so a study cut short has whole candidates.
    order = {c["id"]: k for k, c in enumerate(cands)}
    todo.sort(key=lambda t: (order[t[0]["id"]], t[1] != "full"))
    lock = threading.Lock()
    print(f"{len(cands)} candidates, {len(todo)} trainings to go ({len(done)} done)", file=sys.stderr)

    def one(t):
        c, name, subset, epochs, full = t
        out = run_job(a.nasc, job(settings, c, subset, epochs, full))
        ok = out.get("Ok")
        rec = {"id": c["id"], "setting": name, "error": out.get("Err")}
        if ok:
            rec.update(accuracy=ok["accuracy"], test_accuracy=ok.get("test_accuracy"), seconds=ok["train_seconds"])
        with lock:
            with open(results_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            done[(c["id"], name)] = rec
            print(f"#{c['id']:<4} {name:>9}: {rec.get('accuracy', rec['error'])}", file=sys.stderr)

    if not a.report_only:
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            list(ex.map(one, todo))
    report(a, settings, cands, done, settings_list)


def report(a, settings, cands, done, settings_list):
    ok = [c for c in cands if done.get((c["id"], "full"), {}).get("test_accuracy") is not None]
    full = [done[(c["id"], "full")]["test_accuracy"] for c in ok]
    if len(ok) < 3:
        print(f"only {len(ok)} candidates trained at full fidelity so far: nothing to correlate")
        return
    t = settings["train"]
    lines = [
        f"Fashion-MNIST ({settings['data']}), seed {os.path.basename(settings['file'])}: {len(ok)} of a {len(cands)}-candidate sample of one search done; "
        f"validation split {t['val_size']} images; full fidelity: {a.final_epochs} epochs on every training image outside it, test accuracy.",
        "",
        "| score | training images × epochs | Spearman ρ vs full-fidelity test | ρ, candidates that learned | median seconds per candidate |",
        "| --- | --- | --- | --- | --- |",
    ]
    search_subset = t.get("train_subset") or "all"
    inherit = settings.get("inherit")

    def rhos(pairs):
        # Candidates at chance after full training (diverged) tie at the bottom of every
        # setting and inflate ρ; the second figure leaves them out.
        learned = [(x, y) for x, y in pairs if y > LEARNED]
        rho = lambda ps: f"{spearman([x for x, _ in ps], [y for _, y in ps]):.3f}" if len(ps) >= 3 else "—"
        return f"{rho(pairs)} | {rho(learned)} ({len(learned)})"

    full_of = lambda c: done[(c["id"], "full")]["test_accuracy"]
    store_secs = sorted(c["train_seconds"] or 0 for c in ok)
    label = "search (with inheritance)" if inherit else "search"
    lines.append(f"| {label} | {search_subset} × {t['epochs']} | {rhos([(c['accuracy'], full_of(c)) for c in ok])} | {store_secs[len(store_secs) // 2]:.1f} |")
    for name, subset, epochs in settings_list:
        have = [c for c in ok if done.get((c["id"], name), {}).get("accuracy") is not None]
        secs = sorted(done[(c["id"], name)]["seconds"] for c in have)
        if len(have) >= 3:
            pairs = [(done[(c["id"], name)]["accuracy"], full_of(c)) for c in have]
            lines.append(f"| from scratch | {subset} × {epochs} | {rhos(pairs)} | {secs[len(secs) // 2]:.1f} |")
    secs = sorted(done[(c["id"], "full")]["seconds"] for c in ok)
    if secs:
        lines.append(f"| full fidelity | all × {a.final_epochs} | 1 | 1 | {secs[len(secs) // 2]:.1f} |")
    diverged = sum(1 for y in full if y <= LEARNED)
    lo, hi = (min(full), max(full)) if full else (0, 0)
    lines += ["", f"Full-fidelity test accuracies range {lo * 100:.2f}–{hi * 100:.2f} %; {diverged} of the {len(ok)} stay at chance (≤ {LEARNED * 100:.0f} %) at every fidelity."]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
