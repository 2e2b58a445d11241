#!/usr/bin/env bash
# Trigger perf_release_gate through the Airflow REST API, wait for it, print its verdict; exit 0 only on pass.
# Usage: AIRFLOW_URL=http://127.0.0.1:8080 AIRFLOW_USER=admin AIRFLOW_PASSWORD=... tools/release_gate.sh VERSION [CONF_JSON]
# The password and the token never reach an argv (ps shows those): JSON is built by Python from the environment
# and sent on curl's stdin, the token header is read from a private file. A failed poll is tried again
# (POLL_RETRIES times in a row, default 5) before the gate gives up.
set -euo pipefail
version=${1:?usage: release_gate.sh VERSION [CONF_JSON]}
conf=${2:-"{}"}
url=${AIRFLOW_URL:-http://127.0.0.1:8080}
: "${AIRFLOW_USER:?}" "${AIRFLOW_PASSWORD:?}"
json() { python3 -c "import json,sys; v=json.load(sys.stdin)$1; print(v if isinstance(v, str) else json.dumps(v))"; }

headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
token=$(AIRFLOW_USER="$AIRFLOW_USER" AIRFLOW_PASSWORD="$AIRFLOW_PASSWORD" python3 -c \
  'import json,os; print(json.dumps({"username": os.environ["AIRFLOW_USER"], "password": os.environ["AIRFLOW_PASSWORD"]}))' |
  curl -sf -X POST "$url/auth/token" -H 'Content-Type: application/json' --data @- | json "['access_token']")
printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$token" >"$headers"
unset token
auth=(-H "@$headers")
body=$(python3 -c 'import json,sys; c=json.loads(sys.argv[2]); c["version"]=sys.argv[1]; print(json.dumps({"logical_date": None, "conf": c}))' "$version" "$conf")
run_id=$(curl -sf -X POST "$url/api/v2/dags/perf_release_gate/dagRuns" "${auth[@]}" --data @- <<<"$body" | json "['dag_run_id']")
echo "triggered perf_release_gate run $run_id" >&2
run_path="$url/api/v2/dags/perf_release_gate/dagRuns/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$run_id")"
failures=0
while true; do
  if state=$(curl -sf --max-time 30 "$run_path" "${auth[@]}" | json "['state']"); then
    failures=0
    [[ $state == queued || $state == running ]] || break
  else
    failures=$((failures + 1))
    echo "poll of run $run_id failed ($failures in a row); trying again" >&2
    ((failures <= ${POLL_RETRIES:-5})) || { echo "error: the run's state could not be read" >&2; exit 3; }
  fi
  sleep "${POLL_SECONDS:-10}"
done
curl -sf "$run_path/taskInstances/release_verdict/xcomEntries/release_verdict" "${auth[@]}" | json "['value']"
[[ $state == success ]]
