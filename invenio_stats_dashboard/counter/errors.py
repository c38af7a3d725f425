"""COUNTER_SUSHI exceptions: fatal ones answer the request, warnings go in the header.

An error response is one ``{"Code", "Message", "Data"?}`` object with the HTTP status
the COUNTER API gives its code; a warning (codes 0-999 and 3030-3070) goes in
``Report_Header.Exceptions`` of a report answered with 200. Messages of codes above
999 are COUNTER's own, word for word.
"""

from __future__ import annotations

MESSAGES = {
    1000: "Service Not Available",
    1010: "Service Busy",
    1011: "Report Queued for Processing",
    1020: "Client has made too many requests",
    1030: "Insufficient Information to Process Request",
    2000: "Requestor Not Authorized to Access Service",
    2010: "Requestor is Not Authorized to Access Usage for Institution",
    2011: "Global Reports Not Supported",
    2020: "APIKey Invalid",
    3020: "Invalid Date Arguments",
    3030: "No Usage Available for Requested Dates",
    3031: "Usage Not Ready for Requested Dates",
    3032: "Usage No Longer Available for Requested Dates",
    3040: "Partial Data Returned",
    3050: "Parameter Not Recognized in this Context",
    3060: "Invalid ReportFilter Value",
    3061: "Incongruous ReportFilter Value",
    3062: "Invalid ReportAttribute Value",
    3063: "Components Not Supported",
    3070: "Required ReportFilter Missing",
}

HTTP_STATUS = {
    1000: 503,
    1010: 503,
    1011: 202,
    1020: 429,
    1030: 400,
    2000: 401,
    2010: 403,
    2011: 403,
    2020: 401,
    3020: 400,
}
"""Status of the fatal codes (``components/responses`` of the COUNTER API)."""

NOT_FOUND = 404
"""A path that is no COUNTER_SUSHI path (or names no community) gets 404 with 1030."""


def exception(code: int, data: str | None = None) -> dict:
    """An Exception object (``Data`` only when there is something to say)."""
    body: dict = {"Code": code, "Message": MESSAGES[code]}
    if data:
        body["Data"] = data
    return body


class CounterError(Exception):
    """A fatal COUNTER exception: the response is its object, with its HTTP status."""

    def __init__(self, code: int, data: str | None = None, status: int | None = None):
        super().__init__(f"{code} {MESSAGES[code]}: {data or ''}")
        self.code = code
        self.data = data
        self.status = status or HTTP_STATUS.get(code, 400)

    def body(self) -> dict:
        """The response body."""
        return exception(self.code, self.data)
