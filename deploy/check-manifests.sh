#!/usr/bin/env bash
# Offline checks of the deployment descriptors; no cluster and no Docker daemon needed.
#
# Kubernetes: renders deploy/kubernetes with `kubectl kustomize`, decodes every object into
# kubectl's typed API structs (`kubectl set ... --local`, which needs no API server) and fails when a
# field is of the wrong type, a kind/version is unknown, or a field would be dropped (a misspelt or
# unknown field does not survive the typed round trip). Then checks the invariants the manifests
# promise: CPU requests and limits equal --workers, probes use gRPC on the --listen port, the data
# dir is on the persistent volume, the scrape annotations name the --metrics-listen port.
# Compose: `docker compose config` (or docker-compose) validates deploy/docker-compose.yml against
# the Compose schema, and every file it mounts from this repository must exist.
#
# Usage: deploy/check-manifests.sh     exit 0 = all checks passed; prints SKIPPED for a missing tool.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

check_kubernetes() {
  if ! command -v kubectl >/dev/null || ! command -v jq >/dev/null; then
    echo "SKIPPED: kubernetes manifest check (kubectl or jq not installed)"; return 0
  fi
  kubectl kustomize "$repo/deploy/kubernetes" >"$tmp/rendered.yaml"
  # One unstructured JSON object per line, exactly as kustomize rendered it.
  kubectl label --local -o json -f "$tmp/rendered.yaml" descent-check- | jq -c . >"$tmp/objects"
  local count=0 kind name
  while IFS= read -r object; do
    count=$((count + 1))
    printf '%s\n' "$object" >"$tmp/in.json"
    kind=$(jq -r .kind "$tmp/in.json")
    name=$(jq -r .metadata.name "$tmp/in.json")
    case "$kind" in
      StatefulSet | Deployment | DaemonSet | Job | CronJob | Pod)
        # Adds a variable (so kubectl prints the object); extra output fields are ignored below.
        kubectl set env --local -o json -f "$tmp/in.json" DESCENT_MANIFEST_CHECK=1 \
          >"$tmp/typed.json" 2>"$tmp/err" || { fail "$kind/$name: $(cat "$tmp/err")"; continue; } ;;
      Service)
        kubectl set selector --local -o json -f "$tmp/in.json" \
          "$(jq -r '.spec.selector | to_entries | map("\(.key)=\(.value)") | join(",")' \
            "$tmp/in.json")" >"$tmp/typed.json" 2>"$tmp/err" \
          || { fail "$kind/$name: $(cat "$tmp/err")"; continue; } ;;
      *) fail "$kind/$name: no typed check for this kind; add one to $0"; continue ;;
    esac
    # Every leaf of the input must come back unchanged from the typed decode.
    jq -r -n --slurpfile in "$tmp/in.json" --slurpfile out "$tmp/typed.json" '
      $in[0] | paths(scalars) as $p
      | select(($out[0] | getpath($p)) != ($in[0] | getpath($p)))
      | $p | map(tostring) | join(".")' >"$tmp/dropped"
    if [ -s "$tmp/dropped" ]; then
      fail "$kind/$name: fields unknown to Kubernetes or of the wrong shape: $(paste -sd' ' "$tmp/dropped")"
    fi
  done <"$tmp/objects"
  [ "$count" -gt 0 ] || fail "deploy/kubernetes rendered no objects"

  # The invariants, on the rendered StatefulSet's descentd container.
  jq -s '.[] | select(.kind == "StatefulSet") | . as $sts
      | .spec.template.spec.containers[] | select(.name == "descentd")
      | {sts: $sts, c: .}' "$tmp/objects" >"$tmp/descentd.json"
  [ -s "$tmp/descentd.json" ] || { fail "no StatefulSet with a descentd container"; return 0; }
  jq -r '
    def flag($n): (.c.args // [] | map(select(startswith("--\($n)=")) | ltrimstr("--\($n)="))
                  | first) // null;
    def port_of($hostport): ($hostport // "" | split(":") | last | tonumber? // null);
    flag("workers") as $workers
    | port_of(flag("listen")) as $grpc | port_of(flag("metrics-listen")) as $metrics
    | (.sts.spec.template.metadata.annotations // {}) as $ann
    | [ (if $workers == null then "descentd has no --workers flag" else empty end),
        (if .c.resources.requests.cpu != $workers then
           "cpu request \(.c.resources.requests.cpu) != --workers=\($workers)" else empty end),
        (if .c.resources.limits.cpu != $workers then
           "cpu limit \(.c.resources.limits.cpu) != --workers=\($workers)" else empty end),
        (if .c.resources.requests.memory == null or .c.resources.limits.memory == null then
           "memory request and limit must both be set" else empty end),
        (.c as $c | ["livenessProbe", "readinessProbe", "startupProbe"][]
          | . as $probe | $c[$probe]
          | if . == null or .grpc == null then "\($probe) must be a grpc probe"
            elif .grpc.port != $grpc then "\($probe) port \(.grpc.port) != --listen port \($grpc)"
            else empty end),
        (flag("data-dir") as $dir
          | if ([.c.volumeMounts[]? | select(.mountPath == $dir) | .name] | first) as $vol
               | [.sts.spec.volumeClaimTemplates[]?.metadata.name] | index($vol) | not
            then "--data-dir=\($dir) is not on a volumeClaimTemplate" else empty end),
        (if $ann["prometheus.io/scrape"] != "true" then "missing prometheus.io/scrape" else empty end),
        (if ($ann["prometheus.io/port"] // "" | tonumber? // null) != $metrics then
           "prometheus.io/port \($ann["prometheus.io/port"]) != --metrics-listen port \($metrics)"
         else empty end)
      ] | .[]' "$tmp/descentd.json" >"$tmp/violations"
  while IFS= read -r violation; do fail "deploy/kubernetes: $violation"; done <"$tmp/violations"
  [ "$failures" -eq 0 ] && echo "kubernetes: $count objects render, decode into typed API objects" \
    "and keep their invariants"
  return 0
}

check_compose() {
  local file="$repo/deploy/docker-compose.yml" compose=()
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null; then compose=(docker-compose)
  fi
  if [ ${#compose[@]} -gt 0 ]; then
    "${compose[@]}" -p descent -f "$file" config >"$tmp/compose.yaml" 2>"$tmp/compose.err" \
      || { fail "docker-compose.yml: $(cat "$tmp/compose.err")"; return 0; }
  elif /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    echo "compose: no docker compose here; checking YAML and mounts only"
    cp "$file" "$tmp/compose.yaml"
  else
    echo "SKIPPED: compose check (neither docker compose, docker-compose nor python3-yaml)"; return 0
  fi
  # Every bind-mounted file or directory of this repository must exist.
  /usr/bin/python3 - "$tmp/compose.yaml" "$repo/deploy" >"$tmp/mounts" <<'EOF' || fail "docker-compose.yml: not valid YAML"
import os, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for name, svc in (doc.get("services") or {}).items():
    for v in svc.get("volumes") or []:
        src = v.get("source") if isinstance(v, dict) else v.split(":")[0]
        if src and (src.startswith(".") or src.startswith("/")):
            print(name, os.path.normpath(os.path.join(sys.argv[2], src)))
EOF
  local service path before=$failures
  while read -r service path; do
    [ -e "$path" ] || fail "docker-compose.yml: $service mounts $path, which does not exist"
  done <"$tmp/mounts"
  [ "$failures" -eq "$before" ] && echo "compose: valid, $(wc -l <"$tmp/mounts") repository mounts present"
  return 0
}

check_kubernetes
check_compose
if [ "$failures" -gt 0 ]; then
  echo "check-manifests: $failures problem(s)" >&2
  exit 1
fi
echo "check-manifests: OK"
