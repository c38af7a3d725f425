"""Dashboard pages: ``/communities/<slug>/stats`` and ``/stats`` (UI app).

The pages carry the site's header and footer (they extend the community details page and
the site's base template); where the site's theme assets are not built (tests, the demo)
they render with a minimal layout of their own instead of failing. Everything the page
shows comes from the REST API; the page itself only passes its settings to the prebuilt
bundle in ``static/stats_dashboard/`` (built from ``frontend/``).
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, render_template, url_for
from flask_menu import current_menu
from invenio_i18n import lazy_gettext as _

from ..aggregations.documents import documents_by_community
from ..aggregations.registry import get_aggregator
from ..core.ids import GLOBAL
from ..proxies import current_stats_dashboard
from ..queries.permissions import can_read

COMMUNITY_ENDPOINT = "invenio_stats_dashboard.community_stats"
GLOBAL_ENDPOINT = "invenio_stats_dashboard.global_stats"


def _routes() -> dict:
    return {
        "global": "/stats",
        "community": "/communities/<pid_value>/stats",
        **(current_app.config.get("STATS_DASHBOARD_ROUTES") or {}),
    }


def data_as_of(community_id: str) -> str | None:
    """The last day the records statistics of the community are aggregated through."""
    aggregator = get_aggregator("community-records-snapshot-added")
    found = documents_by_community(aggregator, [community_id]).get(community_id)
    return found[2].isoformat() if found and found[2] else None


def dashboard_settings(community_id: str, title: str, slug: str | None) -> dict:
    """What the bundle needs to know (passed as JSON in a data attribute)."""
    config = current_app.config
    return {
        "api": config.get("STATS_DASHBOARD_API_URL", "/api/stats-dashboard"),
        "communityId": community_id,
        "slug": slug or GLOBAL,
        "title": str(title),
        "dataAsOf": data_as_of(community_id),
        "earliest": str(config.get("COMMUNITY_STATS_EARLIEST_DATE") or "2000-01-01")[:10],
        "maxDays": int(config.get("COMMUNITY_STATS_API_MAX_DAYS") or 7320),
        "recordsUrl": config.get("STATS_DASHBOARD_RECORDS_URL", "/records/"),
    }


def _render(templates: list[str], **context) -> str:
    """The site-integrated page, or the minimal layout when the site cannot render it."""
    try:
        return render_template(templates, **context)
    except Exception:  # noqa: BLE001 - an unbuilt theme (webpack manifest) must not 500
        current_app.logger.debug("dashboard: site layout unavailable", exc_info=True)
        return render_template("invenio_stats_dashboard/minimal.html", **context)


def _refused(status: int = 403):
    """The site's error page for ``status`` (or the minimal one), with that status."""
    message = _("You may not see these statistics.") if status == 403 else _("Not found.")
    try:
        page = render_template(f"invenio_theme/{status}.html")
    except Exception:  # noqa: BLE001 - an unbuilt theme (webpack manifest) must not 500
        page = render_template(
            "invenio_stats_dashboard/minimal.html", page_title=message, message=message
        )
    return page, status


def global_stats():
    """The whole repository's statistics."""
    if not current_stats_dashboard.enabled:
        return _refused(404)
    if not can_read(g.identity, None):
        return _refused(403)
    settings = dashboard_settings(GLOBAL, _("All records of the repository"), None)
    return _render(
        ["invenio_stats_dashboard/global.html"],
        settings=json.dumps(settings),
        page_title=_("Statistics"),
    )


def community_stats(pid_value):
    """A community's statistics (same permissions as the API)."""
    from invenio_communities.proxies import current_communities
    from invenio_communities.views.communities import (
        HEADER_PERMISSIONS,
        render_community_theme_template,
    )
    from invenio_pidstore.errors import PIDDoesNotExistError
    from invenio_records_resources.services.errors import (
        PermissionDeniedError,
        RecordPermissionDeniedError,
    )

    if not current_stats_dashboard.enabled:
        return _refused(404)
    try:
        community = current_communities.service.read(identity=g.identity, id_=pid_value)
    except (PermissionDeniedError, RecordPermissionDeniedError):
        return _refused(403)
    except PIDDoesNotExistError:
        return _refused(404)
    if not can_read(g.identity, community._record):
        return _refused(403)
    community_ui = community.to_dict()
    title = community_ui["metadata"]["title"]
    settings = json.dumps(dashboard_settings(str(community.id), title, community_ui["slug"]))
    context = {
        "settings": settings,
        "page_title": _("%(title)s statistics", title=title),
        "community": community,
        "community_ui": community_ui,
        "permissions": community.has_permissions_to(HEADER_PERMISSIONS),
    }
    try:
        return render_community_theme_template(
            "invenio_stats_dashboard/community.html",
            theme=community_ui.get("theme", {}),
            **context,
        )
    except Exception:  # noqa: BLE001 - an unbuilt theme (webpack manifest) must not 500
        current_app.logger.debug("dashboard: community layout unavailable", exc_info=True)
        return render_template("invenio_stats_dashboard/minimal.html", **context)


def create_ui_blueprint(app) -> Blueprint:
    """The pages' blueprint (entry point ``invenio_base.blueprints``)."""
    blueprint = Blueprint(
        "invenio_stats_dashboard",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static/stats-dashboard",
    )
    with app.app_context():
        routes = _routes()
    blueprint.add_url_rule(routes["global"], "global_stats", global_stats)
    blueprint.add_url_rule(routes["community"], "community_stats", community_stats)
    return blueprint


def register_menus(app) -> None:
    """The community header tab, and the site's menu entry (``STATS_DASHBOARD_MENU_GLOBAL``)."""
    current_menu.submenu("communities.stats").register(
        endpoint=COMMUNITY_ENDPOINT,
        text=_("Statistics"),
        order=55,
        expected_args=["pid_value"],
        **{"icon": "chart bar", "permissions": "can_read"},
    )
    if app.config.get("STATS_DASHBOARD_MENU_GLOBAL", True):
        current_menu.submenu("main.stats").register(
            endpoint=GLOBAL_ENDPOINT, text=_("Statistics"), order=3
        )


def asset_url(name: str) -> str:
    """URL of a file of the prebuilt bundle."""
    return url_for("invenio_stats_dashboard.static", filename=f"stats_dashboard/{name}")
