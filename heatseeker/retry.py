"""The one retry helper of heatseeker: exponential backoff with a little jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

JITTER = 0.1  # each pause is lengthened by up to 10 %, so parallel callers do not retry in step


def delays(attempts: int, backoff: float, *, jitter: float = JITTER) -> list[float]:
    """The pauses between ``attempts`` tries: backoff, 2*backoff, 4*backoff, … (plus jitter)."""
    return [backoff * (2**i) * (1 + random.random() * jitter) for i in range(max(attempts, 1) - 1)]


def retry(
    fn: Callable[[], T],
    *,
    attempts: int,
    backoff: float,
    retry_on: Callable[[Exception], bool],
    sleep: Callable[[float], object] = time.sleep,
    log: logging.Logger | logging.LoggerAdapter | None = None,
    what: str | None = None,
) -> T:
    """Call ``fn()`` up to ``attempts`` times (at least once) and return its first result.

    An exception for which ``retry_on(exc)`` is true is retried after a pause of ``backoff``, then
    ``2 * backoff``, ``4 * backoff`` … (each lengthened by a small random jitter); any other
    exception, or the last one once the attempts are used up, is re-raised unchanged.
    ``what`` names the call in log messages.
    """
    pauses = delays(attempts, backoff)
    for attempt, pause in enumerate([*pauses, None], start=1):
        try:
            return fn()
        except Exception as exc:
            if pause is None or not retry_on(exc):
                raise
            if log is not None:
                log.warning(
                    "%s failed (attempt %d of %d): %s; retrying in %.2f s",
                    what or getattr(fn, "__name__", "call"),
                    attempt,
                    len(pauses) + 1,
                    exc,
                    pause,
                )
            sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover
