"""The statistics REST resource: ``POST /api/stats-dashboard`` and its GET form.

POST takes the reference implementation's body, several queries at once::

    {"<label>": {"stat": "<query>", "params": {"community_id": ..., "start_date": ...,
                                              "end_date": ..., "date_basis": ...}}}

GET ``/api/stats-dashboard/<community>/<query>?start_date=...&end_date=...&date_basis=...``
answers one query. Both answer ``{"<label>": <result>}`` (GET: the label is the query).

Formats by ``Accept`` (JSON, CSV, XLSX, XML), compression by ``Accept-Encoding`` (br,
gzip), ``ETag`` / ``If-None-Match`` (304), ``Last-Modified``, ``Cache-Control`` (public
only when anyone may read every community asked for), ``Content-Disposition`` named
after the community and the range for downloads.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime

import brotli
import orjson
from flask import Response, current_app, g, request
from flask_resources import Resource, route
from werkzeug.exceptions import NotAcceptable

from ..cache.service import answer, cache_enabled, key_of
from ..cache.store import ResponseCache
from ..core.ids import community_slugs
from ..queries.errors import InvalidQuery, QueryDenied
from ..queries.permissions import is_public
from ..queries.service import (
    StatsQuery,
    check_enabled,
    community_record,
    parse_query,
    require_read,
)
from .serializers import JSONSerializer

MIN_COMPRESS = 512
"""Bodies smaller than this many bytes are sent uncompressed."""


class StatsDashboardResource(Resource):
    """Statistics queries over HTTP (thin: parsing, formats and headers)."""

    decorators = []

    def create_url_rules(self):
        """POST the queries, or GET one."""
        routes = self.config.routes
        return [
            route("POST", routes["queries"], self.post_queries),
            route("GET", routes["query"], self.get_query),
        ]

    # ------------------------------------------------------------------ views
    def post_queries(self):
        """Several queries in the reference implementation's body."""
        check_enabled()
        try:
            body = orjson.loads(request.get_data() or b"null")
        except orjson.JSONDecodeError:
            raise InvalidQuery("The request body is not JSON") from None
        if not isinstance(body, dict) or not body:
            raise InvalidQuery(
                'The body must be {"<label>": {"stat": "<query>", "params": {...}}, ...}'
            )
        queries = {}
        for label, spec in body.items():
            if not isinstance(spec, dict) or set(spec) - {"stat", "params"}:
                raise InvalidQuery(
                    f'Query {label!r} must be {{"stat": "<query>", "params": {{...}}}}'
                )
            queries[label] = parse_query(spec.get("stat", label), spec.get("params"))
        return self._respond(queries)

    def get_query(self):
        """One query: community and query in the path, the rest in the query string."""
        check_enabled()
        args = request.view_args
        params = {"community_id": args["community_id"], **request.args.to_dict()}
        return self._respond({args["stat"]: parse_query(args["stat"], params)})

    # ------------------------------------------------------------------ response
    def _respond(self, queries: dict[str, StatsQuery]) -> Response:
        identity = g.identity
        communities = {q.community_id: community_record(q.community_id) for q in queries.values()}
        for community_id, community in communities.items():
            try:
                require_read(identity, community_id, community)
            except QueryDenied as error:
                error.status = 401 if not identity.id else 403
                raise
        serializer = self._serializer()
        encoding = self._encoding()
        cache = ResponseCache() if cache_enabled() else None
        headers = {
            "Cache-Control": self._cache_control(queries, communities),
            "Vary": "Accept, Accept-Encoding",
        }
        # a repeated request: the entries' ETags alone decide 304, or a stored compressed body
        keep_encoded = cache is not None and encoding and isinstance(serializer, JSONSerializer)
        if cache is not None and (keep_encoded or request.if_none_match):
            heads = cache.heads([key_of(query) for query in queries.values()])
            if all(heads):
                tag = self._tag(serializer, [etag for etag, _ in heads])
                self._validators(headers, tag, max(created for _, created in heads))
                if request.if_none_match.contains_weak(tag):
                    return Response(status=304, headers=headers)
                encoded = cache.get_encoded(tag, encoding) if keep_encoded else None
                if encoded is not None:
                    cache.count_hits(len(heads))
                    headers["Content-Encoding"] = encoding
                    return Response(encoded, content_type=serializer.content_type, headers=headers)
        entries = {label: answer(query, cache) for label, query in queries.items()}
        tag = self._tag(serializer, [entry.etag for entry in entries.values()])
        self._validators(headers, tag, max(entry.created for entry in entries.values()))
        if request.if_none_match.contains_weak(tag):
            return Response(status=304, headers=headers)
        body, content_type = serializer.serialize(
            {label: entry.body for label, entry in entries.items()}
        )
        if serializer.download:
            extension = getattr(serializer, "extension_for", lambda _: serializer.extension)(
                content_type
            )
            headers["Content-Disposition"] = (
                f'attachment; filename="{self._filename(queries)}.{extension}"'
            )
        if encoding and len(body) >= MIN_COMPRESS:
            body = self._compress(body, encoding)
            headers["Content-Encoding"] = encoding
            if keep_encoded and all(cache.heads([key_of(q) for q in queries.values()])):
                cache.put_encoded(tag, encoding, body)
        return Response(body, status=200, content_type=content_type, headers=headers)

    @staticmethod
    def _tag(serializer, etags: list[str]) -> str:
        """The response's ETag: its format and its answers' ETags."""
        return hashlib.sha1(f"{serializer.mimetype}|{'|'.join(etags)}".encode()).hexdigest()

    @staticmethod
    def _validators(headers: dict, tag: str, computed: float) -> None:
        headers["ETag"] = f'W/"{tag}"'
        # when the answer was computed from the daily documents (cached or just now)
        headers["Last-Modified"] = format_datetime(
            datetime.fromtimestamp(computed, UTC), usegmt=True
        )

    def _serializer(self):
        serializers = self.config.serializers
        if not request.accept_mimetypes or request.accept_mimetypes.provided is False:
            return serializers[self.config.default_accept_mimetype]
        best = request.accept_mimetypes.best_match(list(serializers), default=None)
        if best is None:
            raise NotAcceptable(
                f"Accept one of: {', '.join(serializers)} (asked: {request.headers.get('Accept')})"
            )
        return serializers[best]

    @staticmethod
    def _encoding() -> str | None:
        """The compression the client accepts: br, else gzip, else None."""
        accepted = request.accept_encodings
        if accepted["br"]:
            return "br"
        if accepted["gzip"]:
            return "gzip"
        return None

    @staticmethod
    def _compress(body: bytes, encoding: str) -> bytes:
        if encoding == "br":
            return brotli.compress(body, quality=5)
        return gzip.compress(body, compresslevel=6)

    @staticmethod
    def _cache_control(queries: dict[str, StatsQuery], communities: dict) -> str:
        config = current_app.config
        settled = all(query.settled for query in queries.values())
        max_age = int(
            config.get(
                "COMMUNITY_STATS_API_MAX_AGE_SETTLED"
                if settled
                else "COMMUNITY_STATS_API_MAX_AGE_RECENT"
            )
            or (3600 if settled else 300)
        )
        public = all(is_public(community) for community in communities.values())
        return f"{'public' if public else 'private'}, max-age={max_age}"

    @staticmethod
    def _filename(queries: dict[str, StatsQuery]) -> str:
        """``stats-<community slug>-<start>-<end>`` (the first query's community and range)."""
        first = next(iter(queries.values()))
        communities = {query.community_id for query in queries.values()}
        slug = (
            community_slugs([first.community_id])[first.community_id]
            if len(communities) == 1
            else "several"
        )
        start = min(q.start for q in queries.values())
        end = max(q.end for q in queries.values())
        return f"stats-{slug}-{start.isoformat()}-{end.isoformat()}"
