#!/usr/bin/env bash
# `nasc evolve --executor ray` against a real Ray cluster (issue 14), on this machine:
#   1. a venv with ray[default] (RAY_VENV, default ~/.cache/nasc-ray-venv; made once),
#   2. a local head (`ray start --head --num-cpus 2`) in a temp dir, on ports of its own,
#   3. a reference run with the local executor,
#   4. the same run through Ray: the controller is killed (SIGKILL) mid-run and resumed, and
#      one running job is stopped (it must be submitted again),
#   5. both stores compared without their timing fields: they must be equal,
#   6. a run whose jobs outlive --trial-timeout: stopped and recorded as failed,
#   7. a second node on this machine (ports and temp dir of its own): a run with jobs on both
#      nodes, the second node's raylet SIGKILLed while it trains; the jobs it held fail, are
#      submitted again and land on the head, and the store equals the local run's,
#   8. the head stopped, and no Ray or nasc process left behind.
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
# A dead node is noticed after 5 missed health checks a second apart (Ray's default: 3 s apart).
RAY_health_check_period_ms=1000 RAY_health_check_failure_threshold=5 "$VENV/bin/ray" start --head --num-cpus 2 --port 6390 --dashboard-host 127.0.0.1 --dashboard-port "$PORT" \
  --temp-dir "$WORK/ray" --disable-usage-stats >"$WORK/head.log" 2>&1
for _ in $(seq 60); do curl -sf "$ADDR/api/version" >/dev/null && break; sleep 1; done

base=(examples/mlp_digits.nas --data digits --trials 16 --epochs 1 --window 2 --seed 7 --final-epochs 2 --quiet)
args=("${base[@]}" --jobs 2)
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
cat >"$WORK/same.py" <<'EOF'
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
"$VENV/bin/python" "$WORK/same.py" "$NASC" "$WORK/local.sqlite" "$WORK/ray.sqlite" "$stopped"
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

# A second node; its raylet is killed while it trains a candidate.
"$VENV/bin/ray" start --address 127.0.0.1:6390 --num-cpus 2 --resources '{"nasc_second_node": 1}' \
  --node-manager-port 6401 --object-manager-port 6402 --min-worker-port 20100 --max-worker-port 20199 \
  --dashboard-agent-listen-port 6403 --dashboard-agent-grpc-port 6404 --metrics-export-port 6405 \
  --runtime-env-agent-port 6406 --temp-dir "$WORK/ray2" --disable-usage-stats >"$WORK/node2.log" 2>&1
jobs_on_second_node() { # the RUNNING nasc jobs there, one per line
  curl -sf "$ADDR/nodes?view=summary" >"$WORK/nodes.json" && curl -sf "$ADDR/api/jobs/" | "$VENV/bin/python" -c '
import json, sys
nodes = json.load(open(sys.argv[1]))["data"]["summary"]
second = {n["raylet"]["nodeId"] for n in nodes if "nascSecondNode" in n["raylet"].get("resourcesTotal", {})}
jobs = json.load(sys.stdin)
jobs = jobs.values() if isinstance(jobs, dict) else jobs
for j in jobs:
    if j.get("status") == "RUNNING" and j.get("driver_node_id") in second and (j.get("submission_id") or "").startswith("nasc-"):
        print(j["submission_id"])' "$WORK/nodes.json"
}
"$NASC" evolve "${base[@]}" --jobs 3 --store "$WORK/two.sqlite" --executor ray --ray-address "$ADDR" --ray-nasc "$NASC" \
  >"$WORK/two.log" 2>&1 &
ctl=$!
victims=""
for _ in $(seq 600); do
  victims=$(jobs_on_second_node || true)
  [ -n "$victims" ] && break
  kill -0 "$ctl" 2>/dev/null || break
  sleep 0.1
done
[ -n "$victims" ] || { echo "no job ran on the second node" >&2; cat "$WORK/two.log" >&2; exit 1; }
pkill -9 -f "raylet.*$WORK/ray2/" || { echo "the second node's raylet was not found" >&2; exit 1; }
echo "killed the second node's raylet while it ran $(echo $victims)"
wait "$ctl" || { cat "$WORK/two.log" >&2; exit 1; }
# Each job the node held failed with it (and was submitted again), or finished just before:
# then its logs went with the node unless already read, and it was submitted again too.
curl -sf "$ADDR/api/jobs/" | "$VENV/bin/python" -c '
import json, sys
victims = sys.argv[1].split()
jobs = json.load(sys.stdin)
jobs = {j["submission_id"]: j for j in (jobs.values() if isinstance(jobs, dict) else jobs) if j.get("submission_id")}
for v in victims:
    j = jobs[v]
    run, attempt = v.rsplit("-", 1)
    again = f"{run}-{int(attempt) + 1}" in jobs
    assert j["status"] == "SUCCEEDED" or (j["status"] == "FAILED" and "node" in j["message"] and again), (v, j["status"], j["message"])
    print(v, j["status"].lower(), "and was submitted again" if again else "and its result was read in time")' "$victims" || exit 1
"$VENV/bin/python" "$WORK/same.py" "$NASC" "$WORK/local.sqlite" "$WORK/two.sqlite" ""
stop_head
trap 'rm -rf "$WORK"' EXIT
# The killed node's workers and their trainings end once they notice (a few seconds).
for _ in $(seq 30); do
  pgrep -f "$WORK/ray|$NASC evolve-worker" >/dev/null || break
  sleep 1
done
if pgrep -f "$WORK/ray|$NASC evolve-worker" >/dev/null; then
  echo "Ray or nasc processes were left behind:" >&2
  pgrep -af "$WORK/ray|$NASC evolve-worker" >&2
  exit 1
fi
echo "ray check passed"
