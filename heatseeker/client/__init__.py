"""heatseeker's client side: a Python client of the search API (``Client``, over a keystoneauth1
session) and the openstackclient plugin (``osc/``).

This package imports nothing of heatseeker's server (store, engines, query, API): a machine that
only searches needs keystoneauth1 (and osc-lib for the plugin), not the server's index or broker
libraries. ``tests/unit/test_client.py`` checks it.
"""

from heatseeker.client.client import Client, SearchPage
from heatseeker.client.errors import (
    AmbiguousStack,
    BadRequest,
    EndpointNotFound,
    Forbidden,
    HeatseekerError,
    NotFound,
    RequestTooLarge,
    ServiceUnavailable,
    StackNotFound,
    Unauthorized,
    Unreachable,
)

__all__ = [
    "AmbiguousStack", "BadRequest", "Client", "EndpointNotFound", "Forbidden", "HeatseekerError",
    "NotFound", "RequestTooLarge", "SearchPage", "ServiceUnavailable", "StackNotFound",
    "Unauthorized", "Unreachable",
]
