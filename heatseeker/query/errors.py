"""The one error type of the query package, and the helpers its messages share.

Every mistake in what a user typed (a query string, a date, a DSL body) raises ``QueryError``: the API
answers it with 400 and the message, the command line prints the message. Bad input never produces a
traceback. ``shown`` and ``describe`` are how a message quotes what it got, the same in every module.
"""

from __future__ import annotations

from typing import Any


class QueryError(ValueError):
    """A query the user wrote is not valid.

    ``message`` is the complete human-readable explanation (it already says where, e.g.
    "unbalanced parenthesis at 12"); ``position`` is the character offset in the text the user
    typed when one is known, for tools that want to point at it.
    """

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"QueryError({self.message!r}, position={self.position!r})"


def shown(text: str, limit: int = 60) -> str:
    """``repr`` of user text for a message, shortened: messages stay readable for huge inputs."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def describe(value: Any) -> str:
    """What a JSON value is, for messages ("got a list")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
