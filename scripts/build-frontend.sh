#!/usr/bin/env bash
# Builds the dashboard pages' bundle (invenio_stats_dashboard/ui/static/stats_dashboard/)
# from frontend/, with the locked dependencies (npm ci). The built files are committed:
# a site installs the package and restarts, without rebuilding its own frontend.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
command -v npm >/dev/null || { echo "error: Node.js 20+ and npm are needed to build the bundle" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
