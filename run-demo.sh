#!/usr/bin/env bash
# Demo: builds a small InvenioRDM 14 site on real parts (PostgreSQL, Redis, an embedded
# OpenSearch-compatible engine) and runs the product's whole job with its own commands.
#
#   ./run-demo.sh          build (or rebuild) the demo site, run the job, serve its pages
#   ./run-demo.sh stop     stop the demo's web server and search engine (the site lives in
#                          the engine's memory)
#   ./run-demo.sh clean    stop, drop the demo database and remove ./demo/
#
# Settings (environment):
#   DEMO_SEED            seed of every random draw of the demo data (default 20261123): two
#                        runs on the same day with the same seed print the same numbers
#   DEMO_RECORDS         records to build (default 200)
#   DEMO_REDIS_DB_BASE   first of the four Redis databases the demo uses (default 8: 8-11)
#   DEMO_SEARCH_PORT, DEMO_WEB_PORT   ports of the embedded engine and of the web app
#   DEMO_DIR, DEMO_DATABASE   its folder (default ./demo) and PostgreSQL database
#                        (default invenio_stats_demo)
#   INVENIO_SEARCH_HOSTS (e.g. "[{'host': 'localhost', 'port': 9200}]") to use a real
#                        OpenSearch instead of the embedded engine. WARNING: the demo then
#                        destroys and recreates the Invenio indices on that cluster.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
DEMO=${DEMO_DIR:-$ROOT/demo}
# PID files of the engine and web app the demo starts, apart from the background processes'
# folder (STATS_DASHBOARD_PID_DIR), which `invenio community-stats processes` reads
RUN=$DEMO/run
DEMO_DB=${DEMO_DATABASE:-invenio_stats_demo}
OSMEM_PORT=${DEMO_SEARCH_PORT:-19211}
WEB_PORT=${DEMO_WEB_PORT:-5000}
RECORDS=${DEMO_RECORDS:-200}
SEED=${DEMO_SEED:-20261123}
REDIS_DB_BASE=${DEMO_REDIS_DB_BASE:-8}

stop_pid() {  # $1 = pid file, $2 = text its process's command line must hold
  local pidfile=$1 expected=$2 pid written elapsed
  [ -f "$pidfile" ] || return 0
  pid=$(head -c 20 "$pidfile" | tr -dc '0-9')
  written=$(stat -c %Y "$pidfile")
  rm -f "$pidfile"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  # A PID file can outlive its process and the PID be reused: stop only a process that
  # runs the expected program and started before its PID file was written (ours started
  # just before; a reused PID starts after our process ended).
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$expected"; then
    echo "not stopping PID $pid: it is not $expected any more" >&2
    return 0
  fi
  elapsed=$(ps -o etimes= -p "$pid" | tr -d ' ')
  if [ -z "$elapsed" ] || [ $(($(date +%s) - elapsed)) -gt $((written + 2)) ]; then
    echo "not stopping PID $pid: it started after $pidfile was written (a reused PID)" >&2
    return 0
  fi
  kill "$pid" 2>/dev/null || true
}

stop_engine() {
  # ($DEMO/*.pid: where demos before the run/ folder kept them)
  stop_pid "$RUN/web.pid" "invenio_stats_dashboard.demo.serve"
  stop_pid "$DEMO/web.pid" "invenio_stats_dashboard.demo.serve"
  stop_pid "$RUN/osmem.pid" "osmem-server"
  stop_pid "$DEMO/osmem.pid" "osmem-server"
}

drop_demo_db() {
  "$VENV/bin/python" - "$SQLALCHEMY_DATABASE_URI_BASE/$DEMO_DB" <<'PY'
import sys
from sqlalchemy_utils import database_exists, drop_database
if database_exists(sys.argv[1]):
    drop_database(sys.argv[1])
PY
}

case "${1:-run}" in
  stop) stop_engine; echo "demo web server and search engine stopped"; exit 0 ;;
  clean)
    stop_engine
    ensure_venv >/dev/null; ensure_services
    drop_demo_db
    rm -rf "$DEMO"; echo "demo removed (database $DEMO_DB dropped, ./demo deleted)"; exit 0 ;;
  run) ;;
  *) echo "usage: $0 [run|stop|clean]" >&2; exit 2 ;;
esac

case $SEED in '' | *[!0-9]*) echo "error: DEMO_SEED must be a whole number, not '$SEED'" >&2; exit 2 ;; esac
case $REDIS_DB_BASE in
  '' | *[!0-9]*) echo "error: DEMO_REDIS_DB_BASE must be a number from 0 to 12, not '$REDIS_DB_BASE'" >&2; exit 2 ;;
esac
if [ "$REDIS_DB_BASE" -gt 12 ]; then
  echo "error: DEMO_REDIS_DB_BASE must be a number from 0 to 12 (it uses four databases of Redis' 16), not '$REDIS_DB_BASE'" >&2
  exit 2
fi

SECONDS=0
ensure_venv
ensure_services
mkdir -p "$DEMO/files" "$RUN" "$DEMO/processes"
INVENIO="$VENV/bin/invenio"
export PATH="$VENV/bin:$PATH"

# --- search engine --------------------------------------------------------------------
stop_engine
if [ -n "${INVENIO_SEARCH_HOSTS:-}" ]; then
  SEARCH_HOSTS_PY=$INVENIO_SEARCH_HOSTS
  log "using the search engine at $SEARCH_HOSTS_PY"
else
  OSMEM_BIN=$("$VENV/bin/python" -c 'import osmem_server, pathlib; print(pathlib.Path(osmem_server.__file__).parent / "bin" / "osmem-server")')
  nohup "$OSMEM_BIN" --addr "127.0.0.1:$OSMEM_PORT" --no-stdin-watch --no-ja >"$DEMO/osmem.log" 2>&1 &
  echo $! >"$RUN/osmem.pid"
  for _ in $(seq 100); do
    "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$OSMEM_PORT/', timeout=1)" 2>/dev/null && break
    sleep 0.1
  done
  SEARCH_HOSTS_PY="[{'host': '127.0.0.1', 'port': $OSMEM_PORT}]"
  log "embedded search engine (osmem-server) running on 127.0.0.1:$OSMEM_PORT, pid $(cat "$RUN/osmem.pid")"
fi

# --- instance configuration -------------------------------------------------------------
cat >"$DEMO/invenio.cfg" <<CFG
# Demo instance written by run-demo.sh (git-ignored). Real PostgreSQL, Redis, search engine.
SQLALCHEMY_DATABASE_URI = "$SQLALCHEMY_DATABASE_URI_BASE/$DEMO_DB"
SEARCH_HOSTS = $SEARCH_HOSTS_PY
_REDIS = "$REDIS_URL_BASE"
# Redis databases $REDIS_DB_BASE to $((REDIS_DB_BASE + 3)) (DEMO_REDIS_DB_BASE)
CACHE_REDIS_URL = _REDIS + "/$REDIS_DB_BASE"
ACCOUNTS_SESSION_REDIS_URL = _REDIS + "/$REDIS_DB_BASE"
COMMUNITIES_IDENTITIES_CACHE_REDIS_URL = _REDIS + "/$REDIS_DB_BASE"
IIIF_CACHE_REDIS_URL = _REDIS + "/$REDIS_DB_BASE"
RATELIMIT_STORAGE_URI = _REDIS + "/$((REDIS_DB_BASE + 1))"
BROKER_URL = CELERY_BROKER_URL = QUEUES_BROKER_URL = _REDIS + "/$((REDIS_DB_BASE + 2))"
CELERY_RESULT_BACKEND = _REDIS + "/$((REDIS_DB_BASE + 3))"
# No Celery worker in the demo: queued tasks run inline.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
SECRET_KEY = "demo-not-secret"
DATACITE_ENABLED = False
TRUSTED_HOSTS = ["localhost", "127.0.0.1"]
SITE_UI_URL = "https://127.0.0.1:5000"
SITE_API_URL = "https://127.0.0.1:5000/api"
MAIL_SUPPRESS_SEND = True
# The embedded engine has no data streams.
AUDIT_LOGS_ENABLED = False
JOBS_LOGGING = False
# The importer's pauses are for busy production clusters.
RECORD_IMPORTER_BATCH_DELAY = 0
STATS_DASHBOARD_PID_DIR = "$DEMO/processes"
# The same synthetic views and downloads for the same seed (DEMO_SEED).
STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED = $SEED
# Warnings and errors on the console (InvenioRDM logs at DEBUG otherwise).
LOGGING_CONSOLE_LEVEL = "WARNING"

# Knowledge Commons custom fields, as the live site registers them.
from invenio_record_importer_kcworks.custom_fields import kc_custom_fields_config
globals().update(kc_custom_fields_config())

# The embedded engine rejects one of InvenioRDM's facets; drop it (harmless elsewhere).
from invenio_stats_dashboard.demo.config import embedded_engine_config
globals().update(embedded_engine_config())
CFG
export INVENIO_INSTANCE_PATH=$DEMO

quiet() { "$@" >"$DEMO/setup.log" 2>&1 || { tail -30 "$DEMO/setup.log" >&2; echo "error: $* failed (log: $DEMO/setup.log)" >&2; exit 1; }; }
log "database and indices (fresh)"
drop_demo_db
quiet "$INVENIO" db init create
"$INVENIO" index destroy --force --yes-i-know >/dev/null 2>&1 || true
quiet "$INVENIO" index init
quiet "$INVENIO" files location create --default demo "file://$DEMO/files"

log "building the demo site through the real services ($RECORDS records, seed $SEED)"
"$VENV/bin/python" -m invenio_stats_dashboard.demo --records "$RECORDS" --seed "$SEED"

TODAY=$(date -u +%F)
EVENTS_FROM=$(date -u -d "-150 days" +%F)
YESTERDAY=$(date -u -d "-1 day" +%F)
MONTH_AGO=$(date -u -d "-30 days" +%F)
WEEK_AGO=$(date -u -d "-6 days" +%F)

run() {
  printf '\n\033[1;36m$ %s\033[0m\n' "$*"
  "$@"
}
# Exit code 3 means "finished, some items could not be handled (listed)": the demo's
# migrated records include one with a malformed legacy date on purpose.
run_listing_items() {
  local rc=0
  run "$@" || rc=$?
  if [ "$rc" -eq 3 ]; then
    printf '(exit code 3: finished; the item listed above cannot be repaired, as the demo intends)\n'
  elif [ "$rc" -ne 0 ]; then
    exit "$rc"
  fi
}
log "synthetic traffic: several months of views and downloads (raw invenio-stats events)"
run invenio community-stats usage-events generate --event-start-date "$EVENTS_FROM" \
  --event-end-date "$YESTERDAY" --events-per-record 12 --yes-i-know

log "the job: repair migrated dates, build the membership history, migrate events, aggregate"
run_listing_items invenio importer update_created_dates --dry-run
run_listing_items invenio importer update_created_dates
run invenio community-stats community-events generate
run invenio community-stats usage-events migrate
run invenio community-stats aggregate --eager
run invenio community-stats status
run invenio community-stats read --community-id urban-studies \
  --start-date "$MONTH_AGO" --end-date "$TODAY"
run invenio community-stats read --start-date "$MONTH_AGO" --end-date "$TODAY"

log "serving the dashboard pages and the API on http://127.0.0.1:$WEB_PORT"
nohup "$VENV/bin/python" -m invenio_stats_dashboard.demo.serve --port "$WEB_PORT" >"$DEMO/web.log" 2>&1 &
echo $! >"$RUN/web.pid"
for _ in $(seq 150); do
  "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$WEB_PORT/stats', timeout=2)" 2>/dev/null && break
  sleep 0.2
done

cat <<NEXT

Done in ${SECONDS}s. The demo instance keeps running (its search engine lives in memory).

Dashboard pages (the web app runs in the background, log: $DEMO/web.log):
  http://127.0.0.1:$WEB_PORT/stats
  http://127.0.0.1:$WEB_PORT/communities/urban-studies/stats
  http://127.0.0.1:$WEB_PORT/api/stats-dashboard/urban-studies/usage-delta-category

Try next (in this shell, or after these two lines in a new one):
  export INVENIO_INSTANCE_PATH=$DEMO
  export PATH=$VENV/bin:\$PATH
  invenio community-stats status --verbose
  invenio community-stats read --community-id digital-humanities --query-type community-record-snapshot-created --start-date $WEEK_AGO
  invenio community-stats read --community-id urban-studies --query-type community-usage-delta --start-date $WEEK_AGO --format json
  invenio community-stats community-events status --community-details
  invenio community-stats usage-events status
  invenio importer update_created_dates --dry-run --verbose

Stop the demo (web and engine): ./run-demo.sh stop
Remove everything it created: ./run-demo.sh clean
NEXT
