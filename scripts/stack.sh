# shellcheck shell=bash
# Shared by run-tests.sh, run-demo.sh and benchmarks/run.sh (source it, don't run it).
# Makes sure a virtualenv with the project installed exists and that PostgreSQL and
# Redis answer: it uses the servers already running on 127.0.0.1:5432 / :6379, or
# installs them with apt and starts private ones under .stack/ (a fresh machine).
# Exports SQLALCHEMY_DATABASE_URI_BASE (server URI without database) and REDIS_URL_BASE.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
STACK=${STACK:-$ROOT/.stack}
VENV=${VENV:-$ROOT/.venv}
SYSTEM_PGPORT=${SYSTEM_PGPORT:-5432}
SYSTEM_REDISPORT=${SYSTEM_REDISPORT:-6379}
PRIVATE_PGPORT=${PRIVATE_PGPORT:-5433}
PRIVATE_REDISPORT=${PRIVATE_REDISPORT:-6390}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$STACK"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

_apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "error: need to install $* but apt-get is not available; install it by hand" >&2
    return 1
  fi
  [ -n "$_apt_updated" ] || { apt-get update -qq >/dev/null; _apt_updated=1; }
  apt-get install -y -qq "$@" >/dev/null
}

PY_VERSION=3.12

_is_py312() {  # $1 = interpreter; true when it runs and is a CPython 3.12 with venv
  [ -n "$1" ] && "$1" -c 'import sys, venv; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1
}

find_python() {
  # python3.12 on the PATH may be a pyenv shim for a version that is not active (it
  # fails when run): every candidate is run, and pyenv's own install dirs are looked at
  local c root
  root=${PYENV_ROOT:-$HOME/.pyenv}
  for c in "${PYTHON:-}" python3.12 "$root"/versions/3.12*/bin/python3.12 \
           /usr/local/bin/python3.12 /usr/bin/python3.12 /opt/python*/bin/python3.12 python3; do
    [ -n "$c" ] || continue
    c=$(command -v "$c" 2>/dev/null) || continue
    if _is_py312 "$c"; then echo "$c"; return 0; fi
  done
  if command -v uv >/dev/null 2>&1; then
    c=$(uv python find "$PY_VERSION" 2>/dev/null) && _is_py312 "$c" && { echo "$c"; return 0; }
  fi
  return 1
}

ensure_venv() {
  local py stamp want
  if [ -x "$VENV/bin/python" ] && ! _is_py312 "$VENV/bin/python"; then
    log "the virtualenv in $VENV is not Python $PY_VERSION: recreating it"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    py=$(find_python) || {
      log "no Python $PY_VERSION found: trying the system packages (python3.12, python3.12-venv)"
      apt_install python3.12 python3.12-venv python3.12-dev >/dev/null 2>&1 || true
      py=$(find_python)
    } || {
      echo "error: Python $PY_VERSION (with venv) is required and none was found." >&2
      echo "       Install it (e.g. 'pyenv install 3.12' or your system's python3.12 package)," >&2
      echo "       or point PYTHON at it: PYTHON=/path/to/python3.12 $0" >&2
      return 1
    }
    log "creating virtualenv with $py"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip "setuptools<81" wheel
  fi
  want=$(cat "$ROOT/setup.cfg" "$ROOT/constraints.txt" "$ROOT/tests/requirements-harvester.txt" |
    sha1sum | cut -c1-40)
  stamp="$VENV/.installed-$want"
  if [ ! -f "$stamp" ]; then
    log "installing the project and its pinned dependencies (about 2 minutes the first time)"
    "$VENV/bin/pip" install -q -c "$ROOT/constraints.txt" -e "$ROOT[tests]" >"$STACK/pip.log" 2>&1 ||
      { tail -30 "$STACK/pip.log" >&2; echo "error: pip install failed (log: $STACK/pip.log)" >&2; return 1; }
    "$VENV/bin/pip" install -q --no-deps -r "$ROOT/tests/requirements-harvester.txt" >>"$STACK/pip.log" 2>&1 ||
      { tail -30 "$STACK/pip.log" >&2; echo "error: pip install failed (log: $STACK/pip.log)" >&2; return 1; }
    rm -f "$VENV"/.installed-*; touch "$stamp"
  fi
}

_py_check() { "$VENV/bin/python" - "$@" >/dev/null 2>&1; }

pg_answers() {  # $1 = URI
  _py_check "$1" <<'PY'
import sys, sqlalchemy
sqlalchemy.create_engine(sys.argv[1]).connect().close()
PY
}

ensure_postgres() {
  if [ -n "${SQLALCHEMY_DATABASE_URI_BASE:-}" ]; then return 0; fi
  local uri="postgresql+psycopg2://postgres@127.0.0.1:$SYSTEM_PGPORT"
  if pg_answers "$uri/postgres"; then export SQLALCHEMY_DATABASE_URI_BASE=$uri; return 0; fi
  uri="postgresql+psycopg2://postgres@127.0.0.1:$PRIVATE_PGPORT"
  if ! pg_answers "$uri/postgres"; then
    log "no PostgreSQL answers on 127.0.0.1:$SYSTEM_PGPORT: starting a private cluster on :$PRIVATE_PGPORT"
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
      apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    mkdir -p "$STACK/pgdata" "$STACK/pgsock"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$STACK/pgdata" "$STACK/pgsock" "$STACK"
    if [ ! -f "$STACK/pgdata/PG_VERSION" ]; then
      "${as[@]}" "$bin/initdb" -D "$STACK/pgdata" -A trust -U postgres >/dev/null
    fi
    "${as[@]}" "$bin/pg_ctl" -D "$STACK/pgdata" -l "$STACK/pgdata/server.log" -w -o \
      "-p $PRIVATE_PGPORT -k $STACK/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
  fi
  pg_answers "$uri/postgres" || { echo "error: PostgreSQL did not start" >&2; return 1; }
  export SQLALCHEMY_DATABASE_URI_BASE=$uri
}

redis_answers() {  # $1 = URL
  _py_check "$1" <<'PY'
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

ensure_redis() {
  if [ -n "${REDIS_URL_BASE:-}" ]; then return 0; fi
  if redis_answers "redis://127.0.0.1:$SYSTEM_REDISPORT/0"; then
    export REDIS_URL_BASE="redis://127.0.0.1:$SYSTEM_REDISPORT"; return 0
  fi
  local url="redis://127.0.0.1:$PRIVATE_REDISPORT"
  if ! redis_answers "$url/0"; then
    log "no Redis answers on 127.0.0.1:$SYSTEM_REDISPORT: starting a private one on :$PRIVATE_REDISPORT"
    command -v redis-server >/dev/null || apt_install redis-server
    redis-server --daemonize yes --bind 127.0.0.1 --port "$PRIVATE_REDISPORT" --save "" \
      --appendonly no --pidfile "$STACK/redis.pid" --logfile "$STACK/redis.log" --dir "$STACK"
    for _ in $(seq 50); do redis_answers "$url/0" && break; sleep 0.1; done
  fi
  redis_answers "$url/0" || { echo "error: Redis did not start" >&2; return 1; }
  export REDIS_URL_BASE=$url
}

ensure_services() { ensure_postgres && ensure_redis; }

ensure_browser() {  # headless Chromium and its driver, for the dashboard pages' tests
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return 0; fi
  log "installing Chromium and ChromeDriver (Debian's chromium, chromium-driver) for the browser tests"
  apt_install chromium chromium-driver
}

ensure_frontend() {  # the frontend's locked dependencies (esbuild, uPlot, axe-core)
  local stamp="$ROOT/frontend/node_modules/.installed-$(sha1sum "$ROOT/frontend/package-lock.json" | cut -c1-40)"
  [ -f "$stamp" ] && return 0
  if ! command -v npm >/dev/null; then
    log "installing Node.js and npm with apt"
    apt_install nodejs npm
  fi
  log "installing the frontend's locked dependencies (npm ci)"
  (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error) && touch "$stamp"
}
