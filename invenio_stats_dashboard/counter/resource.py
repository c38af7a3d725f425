"""The COUNTER_SUSHI API (R5.1) over HTTP: ``/api/counter/r51/...``.

The whole repository answers at ``<prefix>/r51/...``, one community at
``<prefix>/<community slug or id>/r51/...`` (register that URL with a harvester as the
community's SUSHI server). Paths: ``status`` (public), ``members``, ``reports`` and
``reports/<pr|pr_p1|ir|ir_a1|ir_m1>``. Fatal errors are one COUNTER Exception object
with its HTTP status; warnings ride in the report header; never a 500 page.
"""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask_resources import Resource, ResourceConfig, route
from werkzeug.exceptions import HTTPException

from ..core.ids import GLOBAL, CommunityNotFound, community_slugs, resolve_community_id
from ..proxies import current_stats_dashboard
from .access import check_community, customer_for
from .errors import NOT_FOUND, CounterError
from .params import REPORTS, check_platform, parse_report_request
from .reports import build_report, members, report_list, status


def _error_response(error: CounterError):
    response = jsonify(error.body())
    response.status_code = error.status
    return response


def handle_http_error(error: HTTPException):
    """Unknown paths and methods, as COUNTER exceptions."""
    if error.code == 404:
        data = f"no such COUNTER_SUSHI path; reports: {', '.join(REPORTS)}"
        return _error_response(CounterError(1030, data, status=NOT_FOUND))
    response = jsonify({"Code": 1030, "Message": "Insufficient Information to Process Request"})
    response.status_code = error.code or 400
    return response


def handle_unexpected(error: Exception):
    """Anything else: logged, answered as 1000 Service Not Available."""
    current_app.logger.exception("COUNTER_SUSHI failure")
    return _error_response(CounterError(1000, "the report could not be built; see the logs"))


class CounterResourceConfig(ResourceConfig):
    """Routes of the COUNTER_SUSHI API (prefix: ``COMMUNITY_STATS_COUNTER_URL_PREFIX``)."""

    blueprint_name = "invenio_stats_dashboard_counter"
    url_prefix = "/counter"
    error_handlers = {
        CounterError: _error_response,
        HTTPException: handle_http_error,
        Exception: handle_unexpected,
    }


class CounterResource(Resource):
    """Thin views: read the request, check access, hand over to :mod:`.reports`."""

    def create_url_rules(self):
        """Every path for the repository and for one community."""
        rules = []
        for base, scope in (("", "repository"), ("/<community>", "community")):
            for path, view in (
                ("status", self.status),
                ("members", self.members),
                ("reports", self.reports),
                ("reports/<report>", self.report),
            ):
                endpoint = f"{scope}_{view.__name__}"
                rules.append(route("GET", f"{base}/r51/{path}", view, endpoint=endpoint))
        return rules

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _args() -> dict[str, str]:
        return {key: value for key, value in request.args.items()}

    @staticmethod
    def _community() -> tuple[str, str]:
        """``(community id, scope label)`` of the path (404 for an unknown community)."""
        value = (request.view_args or {}).get("community")
        if not value:
            return GLOBAL, "all communities"
        try:
            community_id = resolve_community_id(value)
        except CommunityNotFound:
            raise CounterError(1030, f"no community {value!r}", status=NOT_FOUND) from None
        return community_id, f"community {community_slugs([community_id])[community_id]}"

    def _checked(self) -> tuple[str, object]:
        """The community and customer of a request that may read it (or fatal)."""
        if not current_stats_dashboard.enabled:
            raise CounterError(1000, "statistics are switched off on this repository")
        args = self._args()
        community_id, _ = self._community()
        customer = customer_for(args)
        check_platform(args.get("platform"))
        slug = community_slugs([community_id]).get(community_id)
        check_community(customer, g.identity, community_id, slug)
        return community_id, customer

    # ------------------------------------------------------------------ views
    def status(self, **_):
        """Public: is the service up, and how far usage is counted."""
        _, scope = self._community()
        return jsonify(status(current_stats_dashboard.enabled, scope))

    def members(self, **_):
        """The customer itself."""
        _, customer = self._checked()
        return jsonify(members(customer))

    def reports(self, **_):
        """The supported reports and their months."""
        community_id, _ = self._checked()
        return jsonify(report_list(community_id))

    def report(self, **_):
        """One report."""
        report = request.view_args["report"]
        path = report.lower()
        if path not in REPORTS:
            raise CounterError(
                1030, f"no report {report!r}; reports: {', '.join(REPORTS)}", status=NOT_FOUND
            )
        args = self._args()
        missing = [name for name in ("begin_date", "end_date") if not args.get(name)]
        if missing:  # the lowest fatal code wins: 1030 before an access error
            raise CounterError(1030, f"{' and '.join(missing)} required (yyyy-mm or yyyy-mm-dd)")
        community_id, customer = self._checked()
        checked = parse_report_request(path, args)
        return jsonify(build_report(checked, customer, community_id))


def create_counter_blueprint(app):
    """The COUNTER_SUSHI blueprint of the API app (entry point ``invenio_base.api_blueprints``)."""
    config = CounterResourceConfig()
    config.url_prefix = str(app.config.get("COMMUNITY_STATS_COUNTER_URL_PREFIX") or "/counter")
    return CounterResource(config).as_blueprint()
