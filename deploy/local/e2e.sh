#!/usr/bin/env bash
# The Fashion-MNIST federation end to end from its images, on this machine, through podman:
# builds the base and the images, renders deploy/kubernetes/overlays/local, plays it with
# `podman kube play`, waits for the aggregator to exit 0 after 3 rounds and every learner to exit
# 0, checks the MLflow file store and the lifecycle events POSTed to a receiver on the host, then
# takes everything down and checks that no container, pod or volume is left.
#
#   deploy/local/e2e.sh            exit 0: passed; 77: cannot run here (the reason on stderr);
#                                  anything else: failed
#
# Environment: FLOPS_E2E_KEEP=1 keeps the work directory (logs, events, mlruns) and names it;
# MAVEN_ARGS is passed to the image build (e.g. -o). Needs root, podman, buildah, runc,
# mmdebstrap, kubectl, yq, jq, openssl, python3 and the dataset-fashion-mnist package; .ci/run
# installs them. Prints the measured figures as `measure: NAME VALUE` lines on standard output.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
skip() { echo "e2e skipped: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip "podman kube play with host networking and runc here needs root"
for tool in podman buildah runc mmdebstrap kubectl yq jq openssl python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (.ci/run installs it)"
done
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || skip "$data is missing: apt-get install -y dataset-fashion-mnist"
export CONTAINERS_CONF="$repo/deploy/local/containers.conf"
podman info >/dev/null 2>&1 || skip "podman cannot start here: $(podman info 2>&1 | tail -n 1)"
# The local plan's two ports (below the kernel's ephemeral range, see its aggregator.args): free
# means no socket holds them, listening or not (a connect() probe would miss one that is bound
# without listening). SO_REUSEADDR, as the servers bind: a previous run's TIME-WAIT is no obstacle.
plan="$repo/deploy/kubernetes/overlays/local/plan"
grpc_port="$(sed -n 's/^--port=//p' "$plan/aggregator.args")"
notify_port="$(sed -n 's|^--notify-url=http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$plan/aggregator.args")"
[ -n "$grpc_port" ] && [ -n "$notify_port" ] || { echo "e2e FAILED: no --port or --notify-url port in $plan/aggregator.args" >&2; exit 1; }
read -r ephemeral_low ephemeral_high < /proc/sys/net/ipv4/ip_local_port_range || true
for port in "$grpc_port" "$notify_port"; do
  if ! python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
    holder="$(ss -Htanp state listening state established "( sport = :$port )" 2>/dev/null | head -n 3)"
    skip "port $port is taken on 127.0.0.1 (the local plan's aggregator and notify receiver need $grpc_port and $notify_port): ${holder:-no socket listens or is connected there, so one is bound without listening; 'fuser $port/tcp' names its process}"
  fi
  if [ -n "${ephemeral_low:-}" ] && [ "$port" -ge "$ephemeral_low" ] && [ "$port" -le "$ephemeral_high" ]; then
    echo "e2e: port $port lies in this machine's ephemeral range ($ephemeral_low-$ephemeral_high): an outgoing connection can take it while the federation starts" >&2
  fi
done

base=localhost/flops-base:debian-jre17
work="$(mktemp -d /tmp/flops-e2e.XXXXXX)"
yaml="$work/federation.yaml"
receiver_pid=
played=false
teardown() {
  if $played; then
    podman kube down "$yaml" >/dev/null 2>&1 || true
  fi
  # podman 4.3's kube down leaves the volumes of ConfigMaps and PersistentVolumeClaims behind.
  for volume in flops-plan flops-checkpoints; do
    podman volume rm --force "$volume" >/dev/null 2>&1 || true
  done
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
  if [ "${FLOPS_E2E_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap teardown EXIT
fail() {
  echo "e2e FAILED: $*" >&2
  for container in $(podman ps -a --format '{{.Names}}' | grep '^flops-' || true); do
    echo "--- last lines of $container" >&2
    podman logs "$container" 2>&1 | tail -n 25 >&2 || true
  done
  exit 1
}

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if ! podman image exists "$base"; then
  echo "building the base image $base..." >&2
  t0=$(seconds)
  "$repo/deploy/images/build-debian-base" --tag "$base" >/dev/null
  echo "measure: base_build_s $(elapsed "$t0" "$(seconds)")"
fi
t0=$(seconds)
"$repo/bin/build-images" --base "$base" >/dev/null
echo "measure: images_build_s $(elapsed "$t0" "$(seconds)")"
for role in aggregator learner; do
  echo "measure: image_${role}_bytes $(podman image inspect --format '{{.Size}}' "localhost/flops/fashion-$role:dev")"
done

# ND4J starts from the natives the image build unpacked: on a read-only root nothing can be
# unpacked at start, and it still works.
t0=$(seconds)
podman run --rm --read-only --network none --entrypoint java localhost/flops/fashion-learner:dev \
  -Dorg.bytedeco.javacpp.cachedir=/opt/flops/javacpp -cp '/opt/flops/tools:/opt/flops/lib/*' \
  NativeCache > "$work/native-cache.log" 2>&1 \
  || fail "ND4J does not start on a read-only root: $(tail -n 5 "$work/native-cache.log")"
echo "measure: nd4j_start_read_only_s $(elapsed "$t0" "$(seconds)")"

# The test federation's secrets, readable by the images' user (uid 10001).
"$repo/bin/make-test-certs" "$work/certs" >/dev/null
mkdir -p "$work/tls" "$work/tokens" "$work/mlruns"
cp "$work/certs/aggregator.pem" "$work/tls/tls.crt"
cp "$work/certs/aggregator.key" "$work/tls/tls.key"
cp "$work/certs/ca.pem" "$work/tls/ca.crt"
head -c 24 /dev/urandom | base64 | tr -d '\n' > "$work/tokens/token"
chown -R 10001:10001 "$work/tls" "$work/tokens" "$work/mlruns"
chmod 0750 "$work/tls" "$work/tokens"
chmod 0440 "$work/tls"/* "$work/tokens/token"
chmod 0755 "$work"

# The operator's service: records every POSTed event with the time it arrived. It says when it
# listens (or why it cannot) before anything is played.
python3 - "$work/events.jsonl" "$notify_port" "$work/receiver.ready" 2>"$work/receiver.log" <<'PY' &
import http.server, json, sys, time
out, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        event["received_at"] = time.time()
        with open(out, "a") as f:
            f.write(json.dumps(event) + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", port), Receiver)
open(ready, "w").close()
server.serve_forever()
PY
receiver_pid=$!
for _ in $(seq 100); do
  [ -f "$work/receiver.ready" ] && break
  kill -0 "$receiver_pid" 2>/dev/null \
    || fail "the notify receiver did not start on 127.0.0.1:$notify_port: $(tail -n 1 "$work/receiver.log")"
  sleep 0.1
done
[ -f "$work/receiver.ready" ] || fail "the notify receiver is not listening on 127.0.0.1:$notify_port after 10 s"

"$repo/deploy/local/render" --root "$work" > "$yaml"
t_play=$(date +%s.%N)
played=true
podman kube play "$yaml" >/dev/null || fail "podman kube play refused the rendering ($yaml)"

state() { podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$1" 2>/dev/null || echo "missing -"; }
containers=(flops-aggregator-aggregator flops-learners-0-learner flops-learners-1-learner flops-learners-2-learner)
deadline=$(( $(date +%s) + 900 ))
for container in "${containers[@]}"; do
  while :; do
    read -r status code < <(state "$container")
    case "$status" in
      exited|stopped) break ;;
      missing) fail "container $container does not exist" ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || fail "$container still $status after 15 minutes"
    sleep 2
  done
  [ "$code" = 0 ] || fail "$container exited with $code"
done
t_done=$(seconds)
echo "measure: play_to_exit_s $(elapsed "$t_play" "$t_done")"
mkdir -p "$work/logs"
for container in "${containers[@]}"; do
  podman logs "$container" > "$work/logs/$container.log" 2>&1
done

# The events: started, 3 rounds, succeeded, in order, each with all learners.
events="$work/events.jsonl"
[ -f "$events" ] || fail "no lifecycle event reached the receiver"
order="$(jq -r .event "$events" | paste -sd' ')"
[ "$order" = "training_started round_finished round_finished round_finished training_succeeded" ] \
  || fail "events arrived as: $order"
[ "$(jq -r .sequence "$events" | paste -sd' ')" = "0 1 2 3 4" ] || fail "sequence numbers out of order"
jq -s -e 'map(select(.event == "round_finished"))
  | all(.fit_succeeded == 3 and .evaluate_succeeded == 3)' "$events" >/dev/null || fail "a round did not have all 3 learners"
first_round="$(jq -r 'select(.event == "round_finished" and .round == 1) | .received_at' "$events")"
echo "measure: play_to_first_round_s $(elapsed "$t_play" "$first_round")"
jq -r 'select(.event == "round_finished") | "measure: round_\(.round)_accuracy \(.accuracy)"' "$events"

# The MLflow file store on the host: the experiment and parent run the succeeded event names,
# finished, with three round runs that logged an accuracy.
read -r experiment parent < <(jq -r 'select(.event == "training_succeeded")
  | "\(.tracking.experiment_id) \(.tracking.parent_run_id)"' "$events")
run="$work/mlruns/$experiment/$parent"
[ -f "$run/meta.yaml" ] || fail "the parent run $run is not in the MLflow store"
grep -q '^status: 3' "$run/meta.yaml" || fail "the parent run is not FINISHED: $(grep status "$run/meta.yaml")"
grep -q 'name: fashion-mnist' "$work/mlruns/$experiment/meta.yaml" || fail "experiment $experiment is not fashion-mnist"
children="$(grep -l "^$parent\$" "$work/mlruns/$experiment"/*/tags/mlflow.parentRunId 2>/dev/null | wc -l)"
[ "$children" = 3 ] || fail "the parent run has $children round runs, not 3"
for tag in "$work/mlruns/$experiment"/*/tags/mlflow.parentRunId; do
  [ "$(cat "$tag")" = "$parent" ] || continue
  [ -s "$(dirname "$(dirname "$tag")")/metrics/accuracy" ] || fail "a round run has no accuracy"
done

# Down, and nothing of the federation left.
podman kube down "$yaml" >/dev/null || fail "podman kube down failed"
played=false
for volume in flops-plan flops-checkpoints; do
  podman volume rm "$volume" >/dev/null || fail "cannot remove volume $volume"
done
left="$(podman ps -a --format '{{.Names}}' | grep '^flops-' || true)$(podman pod ps --format '{{.Name}}' | grep '^flops-' || true)$(podman volume ls --format '{{.Name}}' | grep '^flops-' || true)"
[ -z "$left" ] || fail "left behind: $left"
echo "e2e passed: 3 rounds from the images, $(jq -r 'select(.event == "training_succeeded") | "final accuracy \(.final.accuracy)"' "$events")" >&2
