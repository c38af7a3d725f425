"""Who may harvest: customers, requestors and API keys, and restricted communities.

Open by default (``COMMUNITY_STATS_COUNTER_OPEN``): any ``customer_id`` gets the usage
of everyone, as COUNTER's customer "The World" (invenio-stats does not attribute
usage to institutions, so every customer's report holds the same numbers).
``COMMUNITY_STATS_COUNTER_CUSTOMERS`` names customers::

    {"cust-1": {"name": "Example University", "api_key": "...",
                "requestor_ids": ["harvester-1"], "communities": ["a-restricted-community"]}}

A named customer with an ``api_key`` must send it (else 2020), with ``requestor_ids``
one of them (else 2000); with ``COMMUNITY_STATS_COUNTER_OPEN = False`` an unnamed
customer is refused (2010). A restricted community's reports follow the API's
permissions: the request's own identity (an Invenio token or session) must be allowed to
read the community, or the authenticated customer must list it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from flask import current_app

from ..core.ids import GLOBAL
from ..queries.errors import QueryDenied
from ..queries.service import require_read
from .errors import CounterError

THE_WORLD = "The World"


@dataclass
class Customer:
    """The customer a request is answered for."""

    customer_id: str
    name: str
    authenticated: bool = False
    communities: set[str] = field(default_factory=set)


def _configured() -> dict[str, dict]:
    return dict(current_app.config.get("COMMUNITY_STATS_COUNTER_CUSTOMERS") or {})


def customer_for(args: dict[str, str]) -> Customer:
    """Check ``customer_id``, ``requestor_id`` and ``api_key``; the customer, or fatal."""
    customer_id = (args.get("customer_id") or "").strip()
    if not customer_id:
        raise CounterError(1030, "customer_id is required")
    settings = _configured().get(customer_id)
    if settings is None:
        if not current_app.config.get("COMMUNITY_STATS_COUNTER_OPEN", True):
            raise CounterError(2010, f"unknown customer_id {customer_id!r}")
        return Customer(customer_id, THE_WORLD)
    key = settings.get("api_key")
    if key and not hmac.compare_digest(str(args.get("api_key") or ""), str(key)):
        raise CounterError(2020, "a valid api_key is required for this customer")
    requestors = settings.get("requestor_ids")
    if requestors and (args.get("requestor_id") or "") not in requestors:
        raise CounterError(2000, "requestor_id is not allowed for this customer")
    return Customer(
        customer_id,
        str(settings.get("name") or THE_WORLD),
        authenticated=bool(key or requestors),
        communities={str(c) for c in settings.get("communities") or []},
    )


def check_community(customer: Customer, identity, community_id: str, slug: str | None) -> None:
    """Refuse (2010) a community the request may not read."""
    if community_id == GLOBAL:
        return
    try:
        require_read(identity, community_id)
    except QueryDenied:
        if customer.authenticated and {community_id, slug} & customer.communities:
            return
        raise CounterError(
            2010, "this community is restricted: authenticate as one of its members"
        ) from None
