#!/usr/bin/env bash
# Trigger perf_release_gate through the Airflow REST API, wait for it, print its verdict.
# Usage: AIRFLOW_URL=http://127.0.0.1:8080 AIRFLOW_USER=admin AIRFLOW_PASSWORD=... tools/release_gate.sh VERSION [CONF_JSON]
#
# Exit codes, as the perfpipe CLI's: 0 pass; 1 fail (or the run failed after its gates passed, e.g. a regression);
# 2 invalid; 3 error or could not tell: bad arguments, a transport or API error (any answer but 2xx), an answer
# without the expected field, or no end within the deadline.
#
# Bounds: each call gives up after CALL_TIMEOUT_SECONDS (default 30); the whole gate after GATE_TIMEOUT_SECONDS
# (default 7200: the default smoke, load and stress profiles load for 11.5 minutes, 72 with their DB stages at
# their full budgets; raise it for longer profiles). A failed poll is tried again (POLL_RETRIES times in a row, default 5) every
# POLL_SECONDS (default 10) before the gate gives up. At the deadline the DAG run is left running in Airflow.
#
# The password and the token never reach an argv (ps shows those): JSON is built by Python from the environment
# and sent on curl's stdin, the token header is read from a private file.
set -euo pipefail
usage="usage: release_gate.sh VERSION [CONF_JSON]"
version=${1:?$usage}
conf=${2:-"{}"}
url=${AIRFLOW_URL:-http://127.0.0.1:8080}
: "${AIRFLOW_USER:?}" "${AIRFLOW_PASSWORD:?}"
call_timeout=${CALL_TIMEOUT_SECONDS:-30}
deadline=$((SECONDS + ${GATE_TIMEOUT_SECONDS:-7200}))

die() {
  echo "error: $*" >&2
  exit 3
}

# field KEY: one field of the JSON object on stdin (a string as is, anything else as JSON); fails quietly
field() {
  python3 -I -S -c '
import json, sys
try:
    value = json.load(sys.stdin)[sys.argv[1]]
except (ValueError, KeyError, TypeError, IndexError):
    sys.exit(1)
print(value if isinstance(value, str) else json.dumps(value))' "$1"
}

# api WHAT METHOD PATH [CURL ARGS...]: the answer's body; a transport error, a status other than 2xx or the
# deadline is one line on stderr (naming WHAT) and a non-zero return
api() {
  local what=$1 method=$2 path=$3 max_time=$((deadline - SECONDS)) body status code=0
  shift 3
  ((max_time > 0)) || {
    echo "$what: the gate's deadline (GATE_TIMEOUT_SECONDS=${GATE_TIMEOUT_SECONDS:-7200}) has passed" >&2
    return 1
  }
  ((max_time < call_timeout)) || max_time=$call_timeout
  body=$(mktemp)
  status=$(curl -sS -o "$body" -w '%{http_code}' --max-time "$max_time" -X "$method" "$url$path" "$@" 2>"$body.err") ||
    code=$?
  if ((code != 0)); then
    echo "$what: $(head -n 1 "$body.err" | sed 's/^curl: //')" >&2
  elif [[ $status != 2?? ]]; then
    echo "$what: HTTP $status: $(head -c 300 "$body" | tr -d '\n')" >&2
    code=1
  else
    cat "$body"
  fi
  rm -f "$body" "$body.err"
  return "$code"
}

headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
body=$(python3 -I -S -c '
import json, sys
try:
    conf = json.loads(sys.argv[2])
except ValueError as exc:
    sys.exit(f"CONF_JSON is not JSON: {exc}")
if not isinstance(conf, dict):
    sys.exit(f"CONF_JSON must be a JSON object, got {type(conf).__name__}")
print(json.dumps({"logical_date": None, "conf": {**conf, "version": sys.argv[1]}}))' "$version" "$conf") || exit 3

login=$(AIRFLOW_USER="$AIRFLOW_USER" AIRFLOW_PASSWORD="$AIRFLOW_PASSWORD" python3 -I -S -c \
  'import json,os; print(json.dumps({"username": os.environ["AIRFLOW_USER"], "password": os.environ["AIRFLOW_PASSWORD"]}))')
answer=$(api "login (POST /auth/token)" POST /auth/token -H 'Content-Type: application/json' --data @- <<<"$login") ||
  exit 3
unset login
token=$(field access_token <<<"$answer") || die "login (POST /auth/token) answered without a token"
printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$token" >"$headers"
unset token answer
auth=(-H "@$headers")

answer=$(api "trigger (POST perf_release_gate dagRuns)" POST /api/v2/dags/perf_release_gate/dagRuns "${auth[@]}" \
  --data @- <<<"$body") || exit 3
run_id=$(field dag_run_id <<<"$answer") || die "the trigger answered without a run id"
echo "triggered perf_release_gate run $run_id" >&2
run_path="/api/v2/dags/perf_release_gate/dagRuns/$(python3 -I -S -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$run_id")"

failures=0 state=unknown
while true; do
  if answer=$(api "poll of run $run_id" GET "$run_path" "${auth[@]}") && state=$(field state <<<"$answer"); then
    failures=0
    [[ $state == queued || $state == running ]] || break
  else
    failures=$((failures + 1))
    ((failures <= ${POLL_RETRIES:-5})) || die "the state of run $run_id could not be read ($failures polls in a row)"
    echo "poll of run $run_id failed ($failures in a row); trying again" >&2
  fi
  ((SECONDS < deadline)) ||
    die "run $run_id did not end within GATE_TIMEOUT_SECONDS=${GATE_TIMEOUT_SECONDS:-7200} (last state: $state)"
  wait_s=${POLL_SECONDS:-10}
  ((SECONDS + wait_s <= deadline)) || wait_s=$((deadline - SECONDS))
  sleep "$wait_s"
done
answer=$(api "release verdict of run $run_id" GET "$run_path/taskInstances/release_verdict/xcomEntries/release_verdict" \
  "${auth[@]}") || die "run $run_id ended $state without a readable release verdict"
outcome=$(field value <<<"$answer") || die "run $run_id ended $state without a release verdict"
echo "$outcome"
verdict=$(field verdict <<<"$outcome") || die "the release verdict of run $run_id has no verdict"
case $verdict in
  pass) [[ $state == success ]] || {
    echo "run $run_id ended $state although its gates passed (see its failed task)" >&2
    exit 1
  } ;;
  fail) exit 1 ;;
  invalid) exit 2 ;;
  *) exit 3 ;;
esac
