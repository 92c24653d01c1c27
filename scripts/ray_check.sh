#!/usr/bin/env bash
# `nasc evolve --executor ray` against a real Ray cluster (issue 14), on this machine:
#   1. a venv with ray[default] (RAY_VENV, default ~/.cache/nasc-ray-venv; made once),
#   2. a local head (`ray start --head --num-cpus 2`) in a temp dir, on ports of its own,
#   3. a reference run with the local executor,
#   4. the same run through Ray: the controller is killed (SIGKILL) mid-run and resumed, and
#      one running job is stopped (it must be submitted again),
#   5. both stores compared without their timing fields: they must be equal,
#   6. a run whose jobs outlive --trial-timeout: stopped and recorded as failed,
#   7. the head stopped, and no Ray process left behind.
#
#   scripts/ray_check.sh [NASC]        (default target/debug/nasc)
set -euo pipefail
cd "$(dirname "$0")/.."
NASC=$(realpath "${1:-target/debug/nasc}")
VENV=${RAY_VENV:-$HOME/.cache/nasc-ray-venv}
RAY_VERSION=${RAY_VERSION:-2.60.0}
if [ ! -x "$VENV/bin/ray" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "ray[default]==$RAY_VERSION"
fi
WORK=$(mktemp -d /tmp/nasc-ray-check.XXXXXX)
PORT=${RAY_DASHBOARD_PORT:-8275}
ADDR="http://127.0.0.1:$PORT"
stop_head() {
  "$VENV/bin/ray" stop --force >/dev/null 2>&1 || true
}
trap 'stop_head; rm -rf "$WORK"' EXIT
"$VENV/bin/ray" start --head --num-cpus 2 --port 6390 --dashboard-host 127.0.0.1 --dashboard-port "$PORT" \
  --temp-dir "$WORK/ray" --disable-usage-stats >"$WORK/head.log" 2>&1
for _ in $(seq 60); do curl -sf "$ADDR/api/version" >/dev/null && break; sleep 1; done

args=(examples/mlp_digits.nas --data digits --trials 16 --epochs 1 --window 2 --seed 7 --jobs 2 --final-epochs 2 --quiet)
"$NASC" evolve "${args[@]}" --store "$WORK/local.sqlite" >/dev/null 2>&1

# Through Ray; the controller is killed once while trainings are in flight.
"$NASC" evolve "${args[@]}" --store "$WORK/ray.sqlite" --executor ray --ray-address "$ADDR" --ray-nasc "$NASC" >"$WORK/ray1.log" 2>&1 &
ctl=$!
for _ in $(seq 200); do
  done_now=$("$NASC" evolve --export csv --store "$WORK/ray.sqlite" 2>/dev/null | grep -c ',done,' || true)
  [ "$done_now" -ge 3 ] && break
  sleep 0.2
done
kill -9 "$ctl" 2>/dev/null || true
wait "$ctl" 2>/dev/null || true
echo "controller killed after $done_now trained candidates"

# Resume; stop one running job once while it trains.
"$NASC" evolve --resume "$WORK/ray.sqlite" --quiet >"$WORK/ray2.log" 2>&1 &
ctl=$!
stopped=""
for _ in $(seq 300); do
  running=$(curl -sf "$ADDR/api/jobs/" | "$VENV/bin/python" -c '
import json, sys
jobs = json.load(sys.stdin)
jobs = jobs.values() if isinstance(jobs, dict) else jobs
ids = [j.get("submission_id") for j in jobs if j.get("status") == "RUNNING" and (j.get("submission_id") or "").endswith("-0")]
print(ids[0] if ids else "")') || true
  if [ -n "$running" ]; then
    curl -sf -X POST "$ADDR/api/jobs/$running/stop" >/dev/null && stopped=$running && break
  fi
  kill -0 "$ctl" 2>/dev/null || break
  sleep 0.1
done
wait "$ctl"
echo "stopped job: ${stopped:-none caught running}"

# The stores hold the same candidates, apart from timing fields.
"$VENV/bin/python" - "$NASC" "$WORK/local.sqlite" "$WORK/ray.sqlite" "$stopped" <<'EOF'
import json, subprocess, sys
nasc, local, ray, stopped = sys.argv[1:5]
def cands(store):
    out = subprocess.run([nasc, "evolve", "--export", "json", "--store", store], check=True, capture_output=True, text=True).stdout
    run = json.loads(out)
    cs = run["candidates"]
    for c in cs:
        for k in ("throughput", "train_seconds", "controller_ms", "created_at", "finished_at", "started_at", "eval_seconds", "latency_ms"):
            c.pop(k, None)
    for f in run["finals"]:
        f.pop("train_seconds", None)
        f.pop("finished_at", None)
    return cs + run["finals"]
a, b = cands(local), cands(ray)
assert len(a) == len(b) > 16, (len(a), len(b))
for x, y in zip(a, b):
    assert x == y, f"candidate {x['id']} differs:\n{x}\n{y}"
assert any(c.get("status") == "done" and c.get("parent") is not None for c in b)
print(f"ray and local stores equal: {len(b)} candidates and full-fidelity trainings" + (f"; {stopped} was stopped and submitted again" if stopped else ""))
EOF
"$NASC" evolve --status "$WORK/ray.sqlite" | grep -E '^(candidates|ray)'

# A job over --trial-timeout is stopped and its candidate recorded as failed (the seed here, so
# the run ends with that message).
if "$NASC" evolve "${args[@]}" --store "$WORK/timeout.sqlite" --executor ray --ray-address "$ADDR" --ray-nasc "$NASC" \
    --trial-timeout 0.2 >"$WORK/timeout.log" 2>&1; then
  echo "a run whose every job times out succeeded" >&2
  exit 1
fi
grep -q "the seed architecture failed to train: stopped after" "$WORK/timeout.log" || { cat "$WORK/timeout.log" >&2; exit 1; }
echo "a job over --trial-timeout was stopped and recorded"
stop_head
trap 'rm -rf "$WORK"' EXIT
if pgrep -f "$WORK/ray" >/dev/null; then
  echo "Ray processes were left behind" >&2
  exit 1
fi
echo "ray check passed"
