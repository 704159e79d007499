#!/usr/bin/env bash
# End-to-end proof of the container image: builds it from this checkout, starts descentd in a
# container with its ports published on loopback, waits until Docker reports it healthy (the
# image's HEALTHCHECK, i.e. the gRPC health service), submits the example jobs with the descent CLI
# from a second container, waits for each to succeed, checks /metrics from the host, stops the
# server (SIGTERM must give exit code 0) and starts a new container on the same data volume.
# Removes every container and volume it created, whatever happens. The built image stays tagged
# (default descent:dev) so the next run reuses its layers.
#
# Usage: deploy/smoke-test.sh
# Environment:
#   DESCENT_IMAGE          tag to build and test (default descent:dev)
#   DOCKER_BUILD_NETWORK   network for `docker build`'s RUN steps, e.g. host when the default
#                          bridge cannot reach the apt mirror (default: Docker's default)
#   SMOKE_EXAMPLES         example specs to run (default: the three tasks under examples/)
#   SMOKE_JOB_TIMEOUT      seconds each job may take (default 300)
#   SMOKE_IMAGE_UNIT_TESTS the image build's UNIT_TEST_LABELS (default: the Dockerfile's, all unit
#                          tests); empty when the caller has just run the suite on this tree
# Exit codes: 0 passed, 1 failed, 77 skipped because no Docker daemon can be had (it prints a line
# starting "SKIPPED: docker smoke test").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
image=${DESCENT_IMAGE:-descent:dev}
job_timeout=${SMOKE_JOB_TIMEOUT:-300}
read -r -a examples <<<"${SMOKE_EXAMPLES:-house-prices.json spam.json cat-dog-bird.json}"
run_id="descent-smoke-$$"
server="$run_id-server"
volume="$run_id-data"
examples_in_image=/usr/share/descent/examples

log() { echo "smoke-test: $*"; }
die() { echo "smoke-test: FAILED: $*" >&2; exit 1; }
skip() { echo "SKIPPED: docker smoke test ($*)"; exit 77; }

# ---- a Docker daemon and the base image, or a clear skip ----
base_tool="$repo/../shared/tools/docker-base-image.sh"
command -v docker >/dev/null || [ -f "$base_tool" ] || skip "no docker client and no $base_tool"
if [ -f "$base_tool" ]; then
  bash "$base_tool" || skip "$base_tool could not start a Docker daemon or build the base image"
fi
docker info >/dev/null 2>&1 || skip "no Docker daemon answers"
command -v curl >/dev/null || die "curl is needed (deploy/install-deps.sh test)"
command -v jq >/dev/null || die "jq is needed (deploy/install-deps.sh test)"
for example in "${examples[@]}"; do
  [ -f "$repo/examples/$example" ] || die "examples/$example does not exist"
done

cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && docker container inspect "$server" >/dev/null 2>&1; then
    echo "---- descentd log (last 40 lines) ----" >&2
    docker logs --tail 40 "$server" >&2 2>&1 || true
  fi
  docker ps -aq --filter "name=^$run_id-" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -f "/tmp/$run_id"-*
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the image ----
build_args=()
[ -n "${DOCKER_BUILD_NETWORK:-}" ] && build_args+=(--network "$DOCKER_BUILD_NETWORK")
[ -n "${SMOKE_IMAGE_UNIT_TESTS+set}" ] && build_args+=(--build-arg "UNIT_TEST_LABELS=$SMOKE_IMAGE_UNIT_TESTS")
log "building $image from $repo"
started=$SECONDS
build_failed() {  # the end of the build log; for failed unit tests, their names and output
  local log=$1 marker='==== tests that did not pass:'
  if grep -q -- "$marker" "$log"; then
    sed -n "/$marker/,\$p" "$log" | head -n 500 >&2
  else
    tail -n 60 "$log" >&2
  fi
  rm -f "$log"
  die "docker build"
}
docker build --force-rm "${build_args[@]}" -t "$image" "$repo" >"/tmp/$run_id-build.log" 2>&1 \
  || build_failed "/tmp/$run_id-build.log"
rm -f "/tmp/$run_id-build.log"
# Earlier builds' untagged layers (compiled trees, superseded images) pile up on a CI machine;
# drop those older than a day, keeping recent ones as cache for the next run.
docker image prune -f --filter label=dev.descent.image --filter until=24h >/dev/null || true
size=$(docker image inspect -f '{{.Size}}' "$image")
log "built in $((SECONDS - started)) s; image size $((size / 1000 / 1000)) MB"
[ "$(docker image inspect -f '{{.Config.User}}' "$image")" != "" ] || die "the image runs as root"

# ---- the server ----
docker volume create "$volume" >/dev/null
start_server() {
  docker run -d --name "$server" -p 127.0.0.1::50051 -p 127.0.0.1::9464 \
    -v "$volume:/var/lib/descent" "$image" --workers=2 >/dev/null
}
wait_healthy() {
  local status deadline=$((SECONDS + 90))
  while :; do
    status=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$server")
    [ "$status" = "running healthy" ] && return 0
    case "$status" in running*) ;; *) die "descentd is $status, not running" ;; esac
    [ "$SECONDS" -lt "$deadline" ] || die "descentd not healthy after 90 s ($status)"
    sleep 1
  done
}
published_port() { docker port "$server" "$1/tcp" | head -n 1 | sed 's/.*://'; }
# The CLI runs in its own container that shares the server's network namespace, as a sidecar
# would. Names are unique per call (BASHPID differs in each command substitution) so that cleanup
# finds any that are left.
cli_count=0
cli_within() {  # cli_within SECONDS ARGS...: the descent CLI, killed after SECONDS
  local limit=$1
  shift
  cli_count=$((cli_count + 1))
  timeout "$limit" docker run --rm --name "$run_id-cli-$BASHPID-$cli_count" \
    --network "container:$server" --entrypoint descent "$image" --server 127.0.0.1:50051 "$@"
}
cli() { cli_within 60 "$@"; }

start_server
wait_healthy
[ "$(docker exec "$server" id -u)" != 0 ] || die "descentd runs as root in the container"
metrics_port=$(published_port 9464)
log "descentd healthy; gRPC on 127.0.0.1:$(published_port 50051), metrics on 127.0.0.1:$metrics_port"
cli health >/dev/null || die "descent health"

# ---- the examples: submit all (they queue behind two workers), then follow each to its end ----
declare -A job_of
for example in "${examples[@]}"; do
  job=$(cli -o json submit "$examples_in_image/$example") || die "submit examples/$example"
  job_of[$example]=$(jq -er .id <<<"$job") || die "submit examples/$example printed no job id: $job"
  log "submitted examples/$example as job ${job_of[$example]}"
done
for example in "${examples[@]}"; do
  id=${job_of[$example]}
  rc=0
  cli_within "$job_timeout" watch "$id" >"/tmp/$run_id-watch.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 20 "/tmp/$run_id-watch.log" >&2; rm -f "/tmp/$run_id-watch.log"
    die "job $id (examples/$example): descent watch exited $rc"
  fi
  state=$(cli -o json get "$id" | jq -r .state)
  [ "$state" = SUCCEEDED ] || die "job $id (examples/$example) is $state after its watch ended"
  log "job $id (examples/$example) SUCCEEDED; last lines of its watch:"
  tail -n 2 "/tmp/$run_id-watch.log" | sed 's/^/    /'
  rm -f "/tmp/$run_id-watch.log"
done

# ---- /metrics from the host, through the published port ----
curl -fsS --max-time 10 "http://127.0.0.1:$metrics_port/metrics" >"/tmp/$run_id-metrics.txt" \
  || die "GET /metrics on the published port"
metric() {  # metric NAME [LABEL-MATCH]: the first sample's value, or nothing
  awk -v name="$1" -v match_="${2:-}" '
    $1 == name || (index($1, name "{") == 1 && index($1, match_) > 0) { print $2; exit }' \
    "/tmp/$run_id-metrics.txt"
}
succeeded=$(metric descent_jobs_finished_total 'state="succeeded"')
steps=$(metric descent_training_steps_total)
[ -n "$succeeded" ] || die "/metrics has no descent_jobs_finished_total{state=\"succeeded\"}"
awk -v v="$succeeded" -v n="${#examples[@]}" 'BEGIN { exit !(v + 0 >= n) }' \
  || die "/metrics counts $succeeded succeeded jobs, expected ${#examples[@]}"
awk -v v="${steps:-0}" 'BEGIN { exit !(v + 0 > 0) }' || die "/metrics counts no training steps"
log "/metrics: $succeeded jobs succeeded, $steps training steps"
rm -f "/tmp/$run_id-metrics.txt"

# ---- SIGTERM ends descentd cleanly; a new container reopens the same volume ----
docker stop -t 60 "$server" >/dev/null
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$server")
[ "$exit_code" = 0 ] || die "descentd exited $exit_code on SIGTERM, expected 0"
docker rm "$server" >/dev/null
start_server
wait_healthy
cli health >/dev/null || die "descent health after the restart"
log "descentd exited 0 on SIGTERM and a new container started healthy on the same data volume"
log "PASSED"
