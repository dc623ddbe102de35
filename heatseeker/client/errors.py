"""What can go wrong when talking to heatseeker's API, as exceptions a caller can catch by kind.

The API answers every error as ``{"error": {"code", "title", "message"}}`` and its message says
what to fix (the query's unknown field, the stack nobody may see), so the message travels
unchanged in the exception and ``str()`` adds only the HTTP status and the request id, the way
OpenStack clients print errors (``... (HTTP 404) (Request-ID: req-...)``). One class per status
a caller handles differently; anything else is ``HeatseekerError`` with its status.

Failures before an answer (no ``search`` endpoint in the catalog, nobody listening) get their own
classes with ``status`` None, so a script can tell "the service said no" from "no service".
"""

from __future__ import annotations

import json
from typing import Any


class HeatseekerError(Exception):
    """An error from heatseeker's API (``status`` its HTTP status) or on the way to it."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        text = self.message
        if self.status is not None:
            text += f" (HTTP {self.status})"
        if self.request_id:
            text += f" (Request-ID: {self.request_id})"
        return text


class BadRequest(HeatseekerError):
    """400: the query or a parameter is not valid (the message names the part)."""

    status = 400


class RequestTooLarge(BadRequest):
    """413: the request body is larger than the API accepts."""

    status = 413


class Unauthorized(HeatseekerError):
    """401: no valid token (missing, expired or revoked)."""

    status = 401

    def __str__(self) -> str:
        return (super().__str__() + ": the token is missing, expired or revoked; "
                "authenticate again (a new token: openstack token issue)")


class Forbidden(HeatseekerError):
    """403: policy does not allow it (e.g. all_projects for anyone but a cloud admin)."""

    status = 403


class NotFound(HeatseekerError):
    """404: no such stack or revision, or not one the caller may see (the API does not say which)."""

    status: int | None = 404


class ServiceUnavailable(HeatseekerError):
    """503: the search index cannot be used, or the search timed out."""

    status = 503


class EndpointNotFound(HeatseekerError):
    """The service catalog has no ``search`` endpoint for the interface and region asked for."""


class Unreachable(HeatseekerError):
    """Nothing answered at the endpoint (refused, timed out, TLS failed)."""


class StackNotFound(NotFound):
    """A stack named by name or id that the caller may not see, or that does not exist."""

    status = None


class AmbiguousStack(HeatseekerError):
    """More than one stack the caller may see has this name; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: list[dict[str, Any]]):
        super().__init__(message)
        self.candidates = candidates


_BY_STATUS: dict[int, type[HeatseekerError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 413: RequestTooLarge,
    503: ServiceUnavailable,
}


def error_message(status: int, text: str, reason: str = "") -> str:
    """The API's own message from an error body; the body's text (or the HTTP reason) when it is
    not the API's JSON (a proxy's page, keystonemiddleware's)."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        for key in ("message", "title"):
            if isinstance(body.get(key), str):
                return body[key]
    text = " ".join(text.split())
    if text and len(text) <= 500 and not text.startswith("<"):
        return text
    return reason or f"HTTP {status}"


def from_response(status: int, text: str, reason: str = "",
                  request_id: str | None = None) -> HeatseekerError:
    """The exception for an error answer (status >= 400)."""
    cls = _BY_STATUS.get(status, HeatseekerError)
    return cls(error_message(status, text, reason), status=status, request_id=request_id)
