#!/usr/bin/env bash
# ops_deploy_test.sh SOURCE_ROOT
#
# The monitoring and deployment files of deploy/:
#   1. Prometheus alerting rules: `promtool check rules`, and their unit tests
#      (`promtool test rules portscand-rules.test.yml`: each alert fires on its failure and
#      stays quiet on the look-alike that is normal operation);
#   2. the Grafana dashboard: valid JSON, every panel query is valid PromQL (checked by
#      promtool as recording rules, Grafana's $__rate_interval and $instance filled in), and
#      the panels the operator needs are there;
#   3. every metric the rules and the dashboard query is one the daemon registers (a renamed
#      metric must not leave a silent panel or an alert that can never fire);
#   4. the Kubernetes example: the files kustomization.yaml names exist, probes on /healthz
#      and /readyz, a PVC for state_dir, the ports agree with metrics.listen.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 SOURCE_ROOT" >&2; exit 2; }
src=$(realpath "$1")
die() { echo "FAIL: $*" >&2; exit 1; }
for c in promtool node; do command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs it)"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_deploy.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
rules=$src/deploy/prometheus/portscand-rules.yml
dashboard=$src/deploy/grafana/portscand-dashboard.json

# 1. Alerting rules.
promtool check rules "$rules" >"$work/check.txt" 2>&1 || failed "promtool check rules: $(cat "$work/check.txt")"
(cd "$src/deploy/prometheus" && promtool test rules portscand-rules.test.yml) >"$work/test.txt" 2>&1 ||
  failed "promtool test rules: $(cat "$work/test.txt")"
for alert in PortscandWatermarkStalled PortscandRejectsRising PortscandAlertDeliveryFailing \
  PortscandCheckpointStale PortscandNotReady; do
  grep -q "alert: $alert\$" "$rules" || failed "the rules lack $alert"
  grep -q "alertname: $alert\$" "$src/deploy/prometheus/portscand-rules.test.yml" || failed "no unit test for $alert"
done

# 2. Dashboard queries as PromQL.
node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const exprs = [];
  const walk = (panels) => { for (const p of panels || []) { for (const t of p.targets || []) exprs.push([p.title, t.expr]); walk(p.panels); } };
  walk(d.panels);
  if (exprs.length < 10) { console.error(`only ${exprs.length} queries`); process.exit(1); }
  const lines = ["groups:", "  - name: dashboard", "    rules:"];
  exprs.forEach(([title, e], i) => {
    const q = e.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*");
    lines.push(`      - record: dashboard:q${i}`, `        expr: ${JSON.stringify(q)}`);
  });
  require("fs").writeFileSync(process.argv[2], lines.join("\n") + "\n");
  require("fs").writeFileSync(process.argv[3], d.panels.map((p) => p.title).join("\n") + "\n");
' "$dashboard" "$work/dashboard-rules.yml" "$work/titles.txt" || failed "the dashboard is not valid JSON with panel queries"
promtool check rules "$work/dashboard-rules.yml" >"$work/dash-check.txt" 2>&1 ||
  failed "dashboard queries are not valid PromQL: $(cat "$work/dash-check.txt")"
for panel in 'Throughput' 'Rejected records' 'Tracked keys per shard' 'Kafka consumer lag' \
  'watermark lag' 'Alerts per hour' 'Checkpoint age' 'Delivery failures'; do
  grep -qi "$panel" "$work/titles.txt" || failed "the dashboard has no '$panel' panel"
done

# 3. Metric names.
registered=$(grep -rhoE '"portscand_[a-z_]+"' "$src/lib" | tr -d '"' | sort -u)
[ "$(wc -l <<<"$registered")" -gt 20 ] || failed "found only $(wc -l <<<"$registered") metric names in lib/"
used=$( (grep -oE 'portscand_[a-z_]+' "$rules"; grep -oE 'portscand_[a-z_]+' "$dashboard") |
  sed -E 's/_(bucket|sum|count)$//' | sort -u)
for m in $used; do
  grep -qxF "$m" <<<"$registered" || failed "'$m' is queried by deploy/ but no metric of lib/ has that name"
done

# 4. Kubernetes.
k8s=$src/deploy/kubernetes
for f in $(sed -n 's/^ *- \([a-z.-]*\.yaml\)$/\1/p' "$k8s/kustomization.yaml"); do
  [ -f "$k8s/$f" ] || failed "kustomization.yaml names $f, which does not exist"
done
grep -q 'kind: StatefulSet' "$k8s/statefulset.yaml" || failed "no StatefulSet"
grep -A2 'livenessProbe:' "$k8s/statefulset.yaml" | grep -q 'path: /healthz' || failed "liveness probe is not /healthz"
grep -A2 'readinessProbe:' "$k8s/statefulset.yaml" | grep -q 'path: /readyz' || failed "readiness probe is not /readyz"
grep -q 'volumeClaimTemplates:' "$k8s/statefulset.yaml" || failed "no PersistentVolumeClaim template"
state_dir=$(sed -n 's/^state_dir: *\([^ ]*\).*/\1/p' "$k8s/portscand.yaml")
grep -q "name: state, mountPath: $state_dir}" "$k8s/statefulset.yaml" || failed "the PVC is not mounted at state_dir ($state_dir)"
port=$(sed -n 's/^ *listen: *[0-9.]*:\([0-9]*\).*/\1/p' "$k8s/portscand.yaml" | tail -1)
grep -q "containerPort: $port}" "$k8s/statefulset.yaml" || failed "containerPort is not metrics.listen's port $port"
grep -q '^  - name: portscand-config' "$k8s/kustomization.yaml" && grep -q 'configMap: {name: portscand-config}' "$k8s/statefulset.yaml" ||
  failed "the StatefulSet does not mount the generated ConfigMap"

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "rules checked and unit-tested; $(grep -c 'record:' "$work/dashboard-rules.yml") dashboard queries valid; $(wc -w <<<"$used") metric names real; Kubernetes example consistent"
rm -rf "$work"
echo "PASS"
