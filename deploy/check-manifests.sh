#!/usr/bin/env bash
# Offline checks of the deployment descriptors; no cluster and no Docker daemon needed.
#
# Kubernetes: renders each kustomization (deploy/kubernetes, the single box; and
# deploy/kubernetes/replicas, replicas on PostgreSQL, with a stand-in for its untracked password
# file) with `kubectl kustomize`, decodes every object into kubectl's typed API structs
# (`kubectl set ... --local`, which needs no API server) and fails when a field is of the wrong
# type, a kind/version is unknown, or a field would be dropped (a misspelt or unknown field does
# not survive the typed round trip). Then checks the invariants the manifests promise: CPU
# requests and limits equal --workers, probes use gRPC on the --listen port, the scrape
# annotations name the --metrics-listen port; for the single box, the data dir is on the
# persistent volume; for the replicas, --store names the PostgreSQL Service's port without a
# password, PGPASSWORD comes from the generated Secret, --advertise is the pod's IP on the
# --listen port, and PostgreSQL keeps its data on a volumeClaimTemplate behind pg_isready probes.
# Compose: `docker compose config` (or docker-compose) validates deploy/docker-compose.yml and
# deploy/docker-compose.replicas.yml against the Compose schema, and every file they mount from
# this repository must exist.
#
# Usage: deploy/check-manifests.sh     exit 0 = all checks passed; prints SKIPPED for a missing tool.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Renders the kustomization in $1 into $2 (one JSON object a line) and decodes every object
# into its typed API struct; fails naming the object and the fields that do not survive.
# Adds the objects it read to $rendered.
rendered=0
render_and_decode() {
  local dir=$1 objects=$2 count=0 kind name
  kubectl kustomize "$dir" >"$tmp/rendered.yaml" 2>"$tmp/err" \
    || { fail "$dir: $(cat "$tmp/err")"; return 0; }
  # One unstructured JSON object per line, exactly as kustomize rendered it.
  kubectl label --local -o json -f "$tmp/rendered.yaml" descent-check- | jq -c . >"$objects"
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
      Secret)
        # No `kubectl set` takes a Secret: its few fields are checked here instead.
        jq -r '(keys - ["apiVersion", "kind", "metadata", "data", "stringData", "type",
                        "immutable"])[] as $k | "unknown field \($k)",
               (.data // {} | to_entries[] | select((.value | try @base64d catch null) == null)
                | "data.\(.key) is not base64"),
               (if .apiVersion != "v1" then "apiVersion \(.apiVersion) is not v1" else empty end)' \
          "$tmp/in.json" >"$tmp/err"
        [ -s "$tmp/err" ] && fail "$kind/$name: $(paste -sd' ' "$tmp/err")"
        continue ;;
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
  done <"$objects"
  [ "$count" -gt 0 ] || fail "$dir rendered no objects"
  rendered=$((rendered + count))
}

# jq definitions the invariants share; the input is {w: workload, c: descentd container,
# all: every rendered object}.
readonly JQ_DESCENTD='
  def flag($n): (.c.args // [] | map(select(startswith("--\($n)=")) | ltrimstr("--\($n)="))
                | first) // null;
  def port_of($hostport): ($hostport // "" | split(":") | last | tonumber? // null);
  def common:
    flag("workers") as $workers
    | port_of(flag("listen")) as $grpc | port_of(flag("metrics-listen")) as $metrics
    | (.w.spec.template.metadata.annotations // {}) as $ann
    | (if $workers == null then "descentd has no --workers flag" else empty end),
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
      (if $ann["prometheus.io/scrape"] != "true" then "missing prometheus.io/scrape" else empty end),
      (if ($ann["prometheus.io/port"] // "" | tonumber? // null) != $metrics then
         "prometheus.io/port \($ann["prometheus.io/port"]) != --metrics-listen port \($metrics)"
       else empty end);
  def env($n): [.c.env[]? | select(.name == $n)] | first;
  def selects($svc; $w): ($svc.spec.selector // {}) as $sel
    | ($w.spec.template.metadata.labels // {}) as $labels
    | ($sel | length) > 0 and all($sel | to_entries[]; $labels[.key] == .value);
'

# The descentd container of the workload of kind $2 among the objects in $1, as JQ_DESCENTD's
# input, into $tmp/descentd.json; a violation line when there is none.
find_descentd() {
  jq -s -c --arg kind "$2" '. as $all | .[] | select(.kind == $kind) | . as $w
      | .spec.template.spec.containers[] | select(.name == "descentd")
      | {w: $w, c: ., all: $all}' "$1" >"$tmp/descentd.json"
  [ -s "$tmp/descentd.json" ] || echo "no $2 with a descentd container"
}

# Invariants of the single box: a StatefulSet whose descentd keeps --data-dir on its volume.
single_box_invariants() {
  find_descentd "$1" StatefulSet
  [ -s "$tmp/descentd.json" ] || return 0
  jq -r "$JQ_DESCENTD"'
    common,
    (flag("data-dir") as $dir
      | if ([.c.volumeMounts[]? | select(.mountPath == $dir) | .name] | first) as $vol
           | [.w.spec.volumeClaimTemplates[]?.metadata.name] | index($vol) | not
        then "--data-dir=\($dir) is not on a volumeClaimTemplate" else empty end)' \
    "$tmp/descentd.json"
}

# Invariants of the replicas: a Deployment of several descentd on --store=postgresql://USER@HOST:PORT/DB,
# HOST a Service over a PostgreSQL StatefulSet that keeps its data on a volumeClaimTemplate.
replicas_invariants() {
  find_descentd "$1" Deployment
  [ -s "$tmp/descentd.json" ] || return 0
  jq -r "$JQ_DESCENTD"'
    common,
    (if (.w.spec.replicas // 1) < 2 then "the Deployment runs \(.w.spec.replicas // 1) replica" else empty end),
    (flag("store") // "") as $store
    | ($store | capture("^postgres(ql)?://(?<user>[^@:/]+)(?<password>:[^@]*)?@(?<host>[^:/]+):(?<port>[0-9]+)/(?<db>[^?]+)")
       // null) as $url
    | (if $url == null then "--store=\($store) is not postgresql://USER@HOST:PORT/DB"
       elif $url.password != null then "--store carries a password; give it through PGPASSWORD"
       else empty end),
      (env("PGPASSWORD") as $pw | .all as $all
        | if $pw.valueFrom.secretKeyRef == null then "PGPASSWORD must come from a secretKeyRef"
          elif ([$all[] | select(.kind == "Secret" and .metadata.name == $pw.valueFrom.secretKeyRef.name)
                 | (.data // {}) | has($pw.valueFrom.secretKeyRef.key)] | any | not)
          then "PGPASSWORD names secret \($pw.valueFrom.secretKeyRef.name) key \($pw.valueFrom.secretKeyRef.key), which is not rendered"
          else empty end),
      (flag("advertise") as $adv
        | if $adv == null then "no --advertise (replicas must name themselves to each other)"
          elif ($adv | startswith("$(POD_IP):") | not) then "--advertise=\($adv) is not $(POD_IP):PORT"
          elif port_of($adv) != port_of(flag("listen")) then "--advertise port != --listen port"
          elif env("POD_IP").valueFrom.fieldRef.fieldPath != "status.podIP" then
            "POD_IP must come from the downward API (fieldRef status.podIP)"
          else empty end),
      (if $url == null then empty else
        . as $in
        | [.all[] | select(.kind == "Service" and .metadata.name == $url.host)] | first as $svc
        | if $svc == null then "--store host \($url.host) is not a rendered Service" else
          ([$in.all[] | select(.kind == "StatefulSet") | select(selects($svc; .))] | first) as $db
          | if $db == null then "Service \($url.host) selects no StatefulSet" else
            ($db.spec.template.spec.containers[0]) as $pg
            | ([$svc.spec.ports[] | select(.port == ($url.port | tonumber))] | first) as $port
            | (if $port == null then "Service \($url.host) has no port \($url.port)"
               elif ([$pg.ports[]? | select(.name == $port.targetPort or .containerPort == $port.targetPort)]
                     | length) == 0
               then "Service \($url.host) port \($url.port) targets \($port.targetPort), which \($db.metadata.name) does not serve"
               else empty end),
              (([$pg.env[]? | select(.name == "PGDATA") | .value] | first) // "/var/lib/postgresql/data") as $pgdata
              | ([$pg.volumeMounts[]? | select(. as $m | $pgdata == $m.mountPath or ($pgdata | startswith($m.mountPath + "/"))) | .name] | first) as $vol
              | (if ([$db.spec.volumeClaimTemplates[]?.metadata.name] | index($vol)) == null
                 then "PostgreSQL data \($pgdata) is not on a volumeClaimTemplate" else empty end),
              ($pg as $c | ["livenessProbe", "readinessProbe", "startupProbe"][] | . as $probe
                | if ($c[$probe].exec.command // [] | first) != "pg_isready"
                  then "PostgreSQL \($probe) must run pg_isready" else empty end)
          end
        end
      end)' "$tmp/descentd.json"
}

check_kubernetes() {
  if ! command -v kubectl >/dev/null || ! command -v jq >/dev/null; then
    echo "SKIPPED: kubernetes manifest check (kubectl or jq not installed)"; return 0
  fi
  local before=$failures violation
  render_and_decode "$repo/deploy/kubernetes" "$tmp/single.objects"
  single_box_invariants "$tmp/single.objects" >"$tmp/violations"
  while IFS= read -r violation; do fail "deploy/kubernetes: $violation"; done <"$tmp/violations"
  # The replicas' Secret is generated from a file each install writes (never committed).
  mkdir -p "$tmp/replicas"
  cp -r "$repo/deploy/kubernetes/replicas/." "$tmp/replicas/"
  [ -e "$tmp/replicas/postgres-password" ] || printf 'manifest-check' >"$tmp/replicas/postgres-password"
  render_and_decode "$tmp/replicas" "$tmp/replicas.objects"
  replicas_invariants "$tmp/replicas.objects" >"$tmp/violations"
  while IFS= read -r violation; do fail "deploy/kubernetes/replicas: $violation"; done <"$tmp/violations"
  [ "$failures" -eq "$before" ] && echo "kubernetes: $rendered objects of the single box and the" \
    "replicas render, decode into typed API objects and keep their invariants"
  return 0
}

# Checks one compose file ($1).
check_compose() {
  local file=$1 compose=() shown
  shown=${file#"$repo/"}
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null; then compose=(docker-compose)
  fi
  if [ ${#compose[@]} -gt 0 ]; then
    # The replicas' file requires the database password in the environment.
    DESCENT_POSTGRES_PASSWORD=manifest-check "${compose[@]}" -p descent -f "$file" config \
      >/dev/null 2>"$tmp/compose.err" || { fail "$shown: $(cat "$tmp/compose.err")"; return 0; }
    echo "compose: ${compose[*]} config accepts $shown"
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
    || { fail "$shown: $(tail -n 1 "$tmp/python.err")"; return 0; }
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
      *) fail "$shown: $line" ;;
    esac
  done <"$tmp/compose.problems"
  [ "$failures" -eq "$before" ] \
    && echo "compose: $shown: $checked mounts, scrape targets and Grafana references agree"
  return 0
}

check_kubernetes
check_compose "$repo/deploy/docker-compose.yml"
check_compose "$repo/deploy/docker-compose.replicas.yml"
if [ "$failures" -gt 0 ]; then
  echo "check-manifests: $failures problem(s)" >&2
  exit 1
fi
echo "check-manifests: OK"
