"""Serve the demo instance's pages and API on loopback.

``python -m invenio_stats_dashboard.demo.serve [--port 5000]`` (``run-demo.sh`` runs it).
The UI app at ``/`` and the API app at ``/api``, as InvenioRDM deploys them, on a
threaded WSGI server (werkzeug) for the demo only: plain http on 127.0.0.1, so the
session cookies are not marked secure. The site's theme assets are not built in the
demo: the dashboard pages render with their own minimal layout.
"""

from __future__ import annotations

import argparse

LOOPBACK_HTTP = {
    "APP_DEFAULT_SECURE_HEADERS": {
        "force_https": False,
        "session_cookie_secure": False,  # plain http on loopback: cookies must flow
        "content_security_policy": {"default-src": ["'self'"], "img-src": ["'self'", "data:"]},
    },
    "SESSION_COOKIE_SECURE": False,
}
"""Config for serving over plain http on 127.0.0.1 (demo, browser tests, benchmarks)."""


def main() -> None:
    """Run the UI and API apps behind one WSGI server until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    from invenio_app.factory import create_api, create_ui
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import run_simple

    application = DispatcherMiddleware(
        create_ui(**LOOPBACK_HTTP), {"/api": create_api(**LOOPBACK_HTTP)}
    )
    run_simple("127.0.0.1", args.port, application, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
