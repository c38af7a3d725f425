#!/usr/bin/env bash
# The project's one test command: virtualenv + install, PostgreSQL and Redis (started
# if missing), Chromium and the frontend's dependencies (installed if missing), ruff, the
# docs build, then pytest. Extra arguments go to pytest.
# Search: an embedded osmem-server is started by the test session; set
# INVENIO_SEARCH_HOSTS (e.g. "[{'host': 'localhost', 'port': 9200}]") to use a real OpenSearch.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"

ensure_venv
ensure_services
ensure_browser
ensure_frontend
export SQLALCHEMY_DATABASE_URI=${SQLALCHEMY_DATABASE_URI:-$SQLALCHEMY_DATABASE_URI_BASE/invenio_stats_test}
export CACHE_REDIS_URL=${CACHE_REDIS_URL:-$REDIS_URL_BASE/2}

log "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check . >/dev/null || { "$VENV/bin/ruff" format --diff . | head -50; exit 1; }
log "docs (mkdocs build --strict)"
"$VENV/bin/mkdocs" build --strict --quiet -d "$STACK/site"
# Two pytest-xdist workers by default, one test file at a time each (a file shares its
# app, database and site; each worker has its own database, Redis dbs and embedded
# engine); TEST_WORKERS=1 runs everything in one process, as does a search engine named
# by INVENIO_SEARCH_HOSTS / SEARCH_HOSTS (the workers would share its indices).
default_workers=2
if [ -n "${INVENIO_SEARCH_HOSTS:-}${SEARCH_HOSTS:-}" ]; then default_workers=1; fi
workers=${TEST_WORKERS:-$default_workers}
parallel=()
if [ "$workers" != 1 ]; then parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder); fi
log "pytest ($workers worker(s))"
exec "$VENV/bin/pytest" "${parallel[@]}" "$@"
