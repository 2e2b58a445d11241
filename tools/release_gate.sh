#!/usr/bin/env bash
# Trigger perf_release_gate through the Airflow REST API, wait for it, print its verdict; exit 0 only on pass.
# Usage: AIRFLOW_URL=http://127.0.0.1:8080 AIRFLOW_USER=admin AIRFLOW_PASSWORD=... tools/release_gate.sh VERSION [CONF_JSON]
set -euo pipefail
version=${1:?usage: release_gate.sh VERSION [CONF_JSON]}
conf=${2:-"{}"}
url=${AIRFLOW_URL:-http://127.0.0.1:8080}
json() { python3 -c "import json,sys; v=json.load(sys.stdin)$1; print(v if isinstance(v, str) else json.dumps(v))"; }

token=$(curl -sf -X POST "$url/auth/token" -H 'Content-Type: application/json' \
  -d "{\"username\": \"${AIRFLOW_USER:?}\", \"password\": \"${AIRFLOW_PASSWORD:?}\"}" | json "['access_token']")
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
body=$(python3 -c 'import json,sys; c=json.loads(sys.argv[2]); c["version"]=sys.argv[1]; print(json.dumps({"logical_date": None, "conf": c}))' "$version" "$conf")
run_id=$(curl -sf -X POST "$url/api/v2/dags/perf_release_gate/dagRuns" "${auth[@]}" -d "$body" | json "['dag_run_id']")
echo "triggered perf_release_gate run $run_id" >&2
run_path="$url/api/v2/dags/perf_release_gate/dagRuns/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$run_id")"
while state=$(curl -sf "$run_path" "${auth[@]}" | json "['state']"); [[ $state == queued || $state == running ]]; do
  sleep "${POLL_SECONDS:-10}"
done
curl -sf "$run_path/taskInstances/release_verdict/xcomEntries/release_verdict" "${auth[@]}" | json "['value']"
[[ $state == success ]]
