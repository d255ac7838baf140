#!/usr/bin/env bash
# Start the platform on embedded defaults: SQLite, dagster dev, the ingest sensor, a demo corpus.
# Ctrl-C stops everything this script started.
set -euo pipefail
set -m  # job control: background jobs get their own process group, so a kill reaches their children

here=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$here/.venv}
sgm="$venv/bin/sgm"
export SGM_HOME=${SGM_HOME:-$here/.sgm}
export DAGSTER_HOME=${DAGSTER_HOME:-$SGM_HOME/dagster}
dagster_port=${SGM_DAGSTER_PORT:-3000}
demo_dir="$SGM_HOME/demo"
mkdir -p "$SGM_HOME" "$DAGSTER_HOME" "$SGM_HOME/incoming"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping the platform..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
trap stop_all EXIT
trap 'exit 0' INT TERM  # Ctrl-C is how a user stops the platform: not an error

"$sgm" db upgrade
"$sgm" demo-data --patients "${SGM_DEMO_PATIENTS:-12}" --seed 7 --out "$demo_dir"
"$sgm" patients import "$demo_dir/registry.csv"
if [ ! -e "$SGM_HOME/.demo-fed" ]; then
  # Copy (not move) the demo corpus in once; the sensor picks it up from the incoming folder.
  cp -r "$demo_dir/dicom/." "$SGM_HOME/incoming/"
  touch "$SGM_HOME/.demo-fed"
  echo "demo corpus copied into $SGM_HOME/incoming; the ingest sensor will pick it up"
fi

(cd "$here" && exec "$venv/bin/dagster" dev -w workspace.yaml -h 127.0.0.1 -p "$dagster_port") &
pids+=($!)

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$dagster_port/server_info" >/dev/null 2>&1 && break
  sleep 1
done

cat <<MSG

  The platform is running (data folder $SGM_HOME):
    Dagster UI        http://127.0.0.1:$dagster_port
    incoming folder   $SGM_HOME/incoming   (drop DICOM files here; the sensor ingests them)
    EMR database      ${SGM_DATABASE_URL:-sqlite:///$SGM_HOME/emr.db}
    status            $sgm status
  Press Ctrl-C to stop.

MSG
wait
