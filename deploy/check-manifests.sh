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
    "${compose[@]}" -p descent -f "$file" config >/dev/null 2>"$tmp/compose.err" \
      || { fail "docker-compose.yml: $(cat "$tmp/compose.err")"; return 0; }
    echo "compose: ${compose[*]} config accepts deploy/docker-compose.yml"
  else
    echo "SKIPPED: compose schema check (neither docker compose nor docker-compose installed)"
  fi
  if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    echo "SKIPPED: compose mounts and wiring check (no python3-yaml)"; return 0
  fi
  # The files compose mounts exist, and what they say agrees with compose: Prometheus scrapes a
  # compose service on a port it serves, Grafana's datasource is a compose service, and Grafana's
  # dashboard provider reads the directory compose mounts the dashboards at.
  /usr/bin/python3 - "$file" >"$tmp/compose.problems" 2>"$tmp/python.err" <<'EOF' \
    || { fail "docker-compose.yml: $(tail -n 1 "$tmp/python.err")"; return 0; }
import os, sys, yaml
from urllib.parse import urlparse

compose_file = sys.argv[1]
base = os.path.dirname(compose_file)
doc = yaml.safe_load(open(compose_file))
services = doc.get("services") or {}
mounts = {}  # container path -> (service, host path)
problems, checked = [], 0

def container_ports(svc):
    ports = set()
    for p in (svc.get("ports") or []) + (svc.get("expose") or []):
        ports.add(str(p.get("target") if isinstance(p, dict) else str(p).split(":")[-1]).split("/")[0])
    return ports

for name, svc in services.items():
    for v in svc.get("volumes") or []:
        src, dst = (v.get("source"), v.get("target")) if isinstance(v, dict) else (v.split(":") + [""])[:2]
        if src.startswith(".") or src.startswith("/"):
            path = os.path.normpath(os.path.join(base, src))
            mounts[dst] = (name, path)
            checked += 1
            if not os.path.exists(path):
                problems.append(f"{name} mounts {path}, which does not exist")

def load(container_path):
    for dst, (name, path) in mounts.items():
        if container_path == dst or container_path.startswith(dst.rstrip("/") + "/"):
            host = os.path.join(path, os.path.relpath(container_path, dst)) if container_path != dst else path
            return yaml.safe_load(open(host)) if os.path.isfile(host) else None
    return None

for name, svc in services.items():
    command = svc.get("command") or []
    config = next((c.split("=", 1)[1] for c in command if c.startswith("--config.file=")),
                  "/etc/prometheus/prometheus.yml") if "prometheus" in str(svc.get("image")) else None
    if config and (prom := load(config)):
        for job in prom.get("scrape_configs") or []:
            for static in job.get("static_configs") or []:
                for target in static.get("targets") or []:
                    host, _, port = target.rpartition(":")
                    checked += 1
                    if host not in services:
                        problems.append(f"prometheus job {job.get('job_name')} scrapes {target}: "
                                        f"{host} is not a compose service")
                    elif port not in container_ports(services[host]):
                        problems.append(f"prometheus scrapes {target}, but {host} serves no port {port}")
    if "grafana" in str(svc.get("image")):
        for dst, (_, path) in mounts.items():
            if not dst.startswith("/etc/grafana/provisioning") or not os.path.isdir(path):
                continue
            for root, _, files in os.walk(path):
                for f in files:
                    if not f.endswith((".yml", ".yaml")):
                        continue
                    conf = yaml.safe_load(open(os.path.join(root, f))) or {}
                    for ds in conf.get("datasources") or []:
                        host = urlparse(ds.get("url", "")).hostname
                        checked += 1
                        if host not in services:
                            problems.append(f"grafana datasource {ds.get('name')} points at {host}, "
                                            "not a compose service")
                    for provider in conf.get("providers") or []:
                        want = (provider.get("options") or {}).get("path", "")
                        checked += 1
                        if not any(want == d or want.startswith(d.rstrip("/") + "/") for d in mounts):
                            problems.append(f"grafana dashboard provider {provider.get('name')} reads "
                                            f"{want}, which compose does not mount")
for p in problems:
    print(p)
print(f"CHECKED {checked}")
EOF
  local line checked=0 before=$failures
  while IFS= read -r line; do
    case "$line" in
      "CHECKED "*) checked=${line#CHECKED } ;;
      *) fail "docker-compose.yml: $line" ;;
    esac
  done <"$tmp/compose.problems"
  [ "$failures" -eq "$before" ] \
    && echo "compose: $checked mounts, scrape targets and Grafana references agree"
  return 0
}

check_kubernetes
check_compose
if [ "$failures" -gt 0 ]; then
  echo "check-manifests: $failures problem(s)" >&2
  exit 1
fi
echo "check-manifests: OK"
