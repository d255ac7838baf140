#!/usr/bin/env bash
# Start the platform on embedded defaults: SQLite, dagster dev with the ingest sensor, the EMR API,
# Label Studio, the DICOM receiver, and a demo corpus fed through the incoming folder.
# Ctrl-C stops everything this script started.
set -euo pipefail
set -m  # job control: background jobs get their own process group, so a kill reaches their children

here=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$here/.venv}
sgm="$venv/bin/sgm"
export SGM_HOME=${SGM_HOME:-$here/.sgm}
export DAGSTER_HOME=${DAGSTER_HOME:-$SGM_HOME/dagster}
export SGM_API_PORT=${SGM_API_PORT:-8000}
export SGM_LABEL_STUDIO_PORT=${SGM_LABEL_STUDIO_PORT:-8080}
export SGM_GATEWAY_PORT=${SGM_GATEWAY_PORT:-8081}
export SGM_GATEWAY_AUTH_PORT=${SGM_GATEWAY_AUTH_PORT:-8082}
export SGM_DICOM_PORT=${SGM_DICOM_PORT:-11112}
export SGM_MLFLOW_PORT=${SGM_MLFLOW_PORT:-5000}
export MLFLOW_DISABLE_TELEMETRY=true
dagster_port=${SGM_DAGSTER_PORT:-3000}
demo_dir="$SGM_HOME/demo"
demo_users="$SGM_HOME/demo-users.txt"
demo_tokens="$SGM_HOME/demo-reader-tokens.txt"  # the demo readers' own Label Studio tokens (mode 0600)
mkdir -p "$SGM_HOME" "$DAGSTER_HOME" "$SGM_HOME/incoming" "$SGM_HOME/mlflow/artifacts"
# A busy machine can take minutes to load the code location: Dagster's default of 180 s then leaves the UI
# and the sensors without it.
[ -f "$DAGSTER_HOME/dagster.yaml" ] ||
  printf 'telemetry:\n  enabled: false\ncode_servers:\n  local_startup_timeout: 600\n' > "$DAGSTER_HOME/dagster.yaml"

pids=()
# Every process this script starts inherits this marker, so stopping finds them all, including Dagster's code
# servers, which run in sessions of their own, and the children of anything that ignored its signal.
# Only the services carry it, not this shell, whose own subshells must not count as left over.
run_id="run-$$-$RANDOM$RANDOM"
stop_grace_s=${SGM_STOP_GRACE_SECONDS:-20}

marked_pids() {  # processes whose environment carries our marker
  grep -lsa "SGM_RUN_ID=$run_id" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}

stop_all() {
  trap - EXIT
  trap '' INT TERM  # a second Ctrl-C or TERM must not cut the clean-up short; it is bounded below
  echo; echo "stopping the platform..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  marked_pids | xargs -r kill -TERM 2>/dev/null || true
  for _ in $(seq 1 $((stop_grace_s * 4))); do
    [ -z "$(marked_pids)" ] && break
    sleep 0.25
  done
  left=$(marked_pids)
  if [ -n "$left" ]; then
    echo "still running after ${stop_grace_s} s, killing: $(echo $left | tr '\n' ' ')"
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    echo "$left" | xargs -r kill -KILL 2>/dev/null || true
  fi
  echo "stopped."
}
trap stop_all EXIT
trap 'exit 0' INT TERM HUP  # Ctrl-C, a closing terminal or a service manager stopping us: not an error

start() {  # start a long-running command in its own process group, marked, and remember it
  SGM_RUN_ID=$run_id "$@" &
  pids+=($!)
}

wait_for() {  # wait_for NAME URL SECONDS
  for _ in $(seq 1 "$3"); do curl -fsS -o /dev/null "$2" 2>/dev/null && return 0; sleep 1; done
  echo "warning: $1 did not answer at $2 within $3 s" >&2
}

"$sgm" db upgrade
# Three demo exams in four have findings (real screening: under 1 %) and the demo campaign reads 21 of the 26: the
# model loop below needs lesions in the held-out test split, and splits are by patient, stratified by findings.
# 21 exams give about 14 patients with findings, two of them in the test split. The splits depend on each data
# folder's de-identification key; over 50 draws the baseline beat the trivial one 49 times (12 patients at 50 %:
# 18 of 20). The other 5 exams are the AI-assisted campaign's, unseen in training.
"$sgm" demo-data --patients "${SGM_DEMO_PATIENTS:-20}" --seed 7 --finding-fraction 0.75 --out "$demo_dir"
"$sgm" patients import "$demo_dir/registry.csv"

# Web app demo accounts, one per role, each with a fresh random password written to the demo accounts file.
if [ ! -e "$SGM_HOME/.demo-web-users" ]; then
  umask 077
  pwfile=$(mktemp)
  {
    echo "# Demo accounts created by make run (keep private). Sign in at http://127.0.0.1:$SGM_API_PORT/"
    for pair in demo.clinician:clinician demo.radiologist:radiologist demo.steward:data_steward \
                demo.engineer:data_engineer \
                demo.auditor:admin demo.researcher:researcher; do
      name=${pair%%:*} role=${pair#*:}
      secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
      printf '%s\n' "$secret" > "$pwfile"
      if "$sgm" users add "$name" --role "$role" --password-file "$pwfile" >/dev/null; then
        echo "web user $name ($role) password: $secret"
      fi
    done
  } >> "$demo_users"
  rm -f "$pwfile"
  touch "$SGM_HOME/.demo-web-users"
  umask 022
fi

start bash -c "cd '$here' && exec '$venv/bin/dagster' dev -w workspace.yaml -h 127.0.0.1 -p $dagster_port"
start "$sgm" api serve
start "$sgm" dicom serve
start "$sgm" labelstudio start --foreground
# MLflow tracking for dataset versions and training runs: SQLite and artifacts in the data folder.
start "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$SGM_HOME/mlflow/mlflow.db" \
  --artifacts-destination "$SGM_HOME/mlflow/artifacts" --host 127.0.0.1 --port "$SGM_MLFLOW_PORT" --workers 1

if [ ! -e "$SGM_HOME/.demo-fed" ]; then
  # The demo corpus goes in like any delivery: the incoming-folder sensor ingests and links it.
  cp -r "$demo_dir/dicom/." "$SGM_HOME/incoming/"
  touch "$SGM_HOME/.demo-fed"
  echo "demo corpus copied into $SGM_HOME/incoming; waiting for the ingest sensor..."
fi
wait_for "Dagster UI" "http://127.0.0.1:$dagster_port/server_info" 120
wait_for "EMR API" "http://127.0.0.1:$SGM_API_PORT/health" 60
wait_for "MLflow" "http://127.0.0.1:$SGM_MLFLOW_PORT/health" 120
"$sgm" labelstudio status --wait 600 >/dev/null || echo "warning: Label Studio is not up yet" >&2
# Radiologists reach Label Studio only through the reading gateway (nginx + our access endpoint).
start "$sgm" gateway serve
wait_for "reading gateway" "http://127.0.0.1:$SGM_GATEWAY_PORT/_gateway/health" 60

if ! "$sgm" campaign status demo >/dev/null 2>&1; then
  for _ in $(seq 1 600); do  # the campaign needs the demo studies indexed (minutes on a busy machine)
    [ -z "$(find "$SGM_HOME/incoming" -type f -not -name '.*' -print -quit)" ] && break
    sleep 1
  done
  umask 077
  {
    echo "EMR API bearer token of demo.clinician:"; "$sgm" users token demo.clinician
    echo "EMR API bearer token of demo.auditor:"; "$sgm" users token demo.auditor
    echo "EMR API bearer token of demo.researcher (researcher: /research/datasets):"; "$sgm" users token demo.researcher
    for who in reader1 reader2 adjudicator; do
      "$sgm" readers add "$who@demo.local" --token-file "$demo_tokens"
    done
  } >> "$demo_users" 2>&1 || true
  "$sgm" campaign create demo --reader reader1@demo.local --reader reader2@demo.local \
    --adjudicator adjudicator@demo.local --limit 21 || echo "warning: demo campaign not created" >&2
fi

# The demo's training data, one step per stage; once a version exists (the stamp) a restart skips it all.
demo_reads() {  # SIMULATED reads of the synthetic ground truth by the demo readers, with their own tokens
  "$sgm" demo reads demo --ground-truth "$demo_dir/ground_truth" --tokens "$demo_tokens"
}
demo_consolidate() {  # pull and decide the reads, queue disagreements; once more if the sensor's run overlapped
  "$sgm" campaign consolidate demo >/dev/null || { sleep 5; "$sgm" campaign consolidate demo >/dev/null; }
}
demo_job() {  # demo_job JOB [CONFIG.yaml]: run a Dagster job in this instance (shown in its UI), in one process
  local config=(-c deployments/local/dagster/in_process.yaml ${2:+-c "$2"})
  (cd "$here" && "$venv/bin/dagster" job execute -f orchestration/definitions.py -d . -j "$1" "${config[@]}" \
    >"$SGM_HOME/dagster-$1.log" 2>&1) || { echo "warning: Dagster job $1 failed (log: $SGM_HOME/dagster-$1.log)" >&2; return 1; }
}
demo_dataset() {  # reads, adjudication, consolidation, quality gates, then a first dataset version
  demo_reads && demo_consolidate && demo_reads && demo_consolidate \
    && demo_job check_quality_gates_job \
    && demo_job export_training_dataset_job deployments/local/dagster/demo_export.yaml \
    && touch "$SGM_HOME/.demo-dataset" && "$sgm" dataset list demo
}
if [ ! -e "$SGM_HOME/.demo-dataset" ] && [ -s "$demo_tokens" ]; then
  echo "simulating the demo readers and exporting a first dataset version..."
  started=$SECONDS
  demo_dataset && echo "demo dataset ready in $((SECONDS - started)) s" \
    || echo "warning: the demo dataset was not exported; see the messages above" >&2
fi

# The model loop on the demo, one step per stage; once feedback is logged (the stamp) a restart skips it all.
model="${SGM_DETECTOR_MODEL_NAME:-sgm-baseline-detector}"
demo_model() {  # train and register the baseline, predict every demo study, read with AI assistance, measure
  "$sgm" model train demo \
    && "$sgm" predict --all \
    && { "$sgm" campaign status demo-ai >/dev/null 2>&1 \
         || "$sgm" campaign create demo-ai --scheme ai_assisted --reader reader1@demo.local --not-in demo --limit 5; } \
    && "$sgm" campaign predict demo-ai --model "$model" --version champion \
    && "$sgm" demo reads demo-ai --ground-truth "$demo_dir/ground_truth" --tokens "$demo_tokens" \
    && { "$sgm" campaign consolidate demo-ai >/dev/null || true; } \
    && "$sgm" model feedback "$model@champion"
}
if [ -e "$SGM_HOME/.demo-dataset" ] && [ ! -e "$SGM_HOME/.demo-model" ]; then
  echo "training the baseline detector on the demo dataset, predicting, and measuring it against the reads..."
  started=$SECONDS
  demo_model && echo "demo model loop done in $((SECONDS - started)) s" \
    || echo "warning: the demo model loop did not finish (a demo dataset without findings has nothing to learn);" \
            "see the messages above, and rerun its steps by hand (function demo_model in $0)" >&2
  touch "$SGM_HOME/.demo-model"  # tried once per data folder: a restart does not repeat a long failure
fi

cat <<MSG

  Clinical web application: http://127.0.0.1:$SGM_API_PORT/   <- clinicians start here
    (demo accounts and passwords: $demo_users)

  The platform is running (data folder $SGM_HOME):
    Dagster UI        http://127.0.0.1:$dagster_port
    EMR API           http://127.0.0.1:$SGM_API_PORT/docs   (REST API for integration; ReDoc at /redoc)
    Radiologists      http://127.0.0.1:$SGM_GATEWAY_PORT   (reading gateway: the radiologists' entry point to Label Studio)
    Label Studio      http://127.0.0.1:$SGM_LABEL_STUDIO_PORT   (administration only; admin login in $SGM_HOME/labelstudio/credentials.json)
    DICOM receiver    AE ${SGM_DICOM_AE_TITLE:-SGM} at 127.0.0.1:$SGM_DICOM_PORT   (try: storescu -aec SGM 127.0.0.1 $SGM_DICOM_PORT FILE.dcm)
    MLflow UI         http://127.0.0.1:$SGM_MLFLOW_PORT   (dataset versions, training runs, the model registry, feedback)
    incoming folder   $SGM_HOME/incoming   (drop DICOM files here; the sensor ingests them)
    EMR database      ${SGM_DATABASE_URL:-sqlite:///$SGM_HOME/emr.db}
    demo accounts     $demo_users
    status            $sgm status
  Researchers (demo dataset from SIMULATED reads of the synthetic ground truth):
    $sgm dataset list
    $sgm dataset show demo@VERSION
    $sgm dataset pull demo@VERSION ./demo-dataset
    $sgm dataset export demo     (a new version after new reads; the same state gives the same id)
  Models (the baseline detector trained on the demo dataset; MLflow UI -> Models):
    $sgm model list
    $sgm predict --all           (predictions per study, also GET /studies/ID/predictions on the EMR API)
    $sgm model feedback $model@champion   (FROC, AUC, accept/edit/reject; logged to MLflow)
    AI-assisted reading: campaign demo-ai through the reading gateway (reader1@demo.local sees the model's boxes)
  Press Ctrl-C to stop.

MSG
wait
