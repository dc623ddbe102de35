"""The openstackclient plugin: ``openstack stack search|uses|history|diff|changes``.

The osc-lib plugin contract (as python-heatclient's ``heatclient/osc/plugin.py``): the module is
registered under ``openstack.cli.extension`` and names its ``API_NAME``; openstackclient then loads
the command group ``openstack.<API_NAME>.v<version>`` and calls ``make_client`` once per run.

Why ``API_NAME = "heatseeker"`` and not ``search``: python-searchlightclient's plugin is ``search``
(``--os-search-api-version``, ``client_manager.search``); a second plugin of that name would add the
same global option twice (argparse refuses: every ``openstack`` command would fail) and replace the
other's client. The catalog's service type stays ``search`` (both talk to the same endpoint, and
``OS_SEARCH_ENDPOINT_OVERRIDE`` or ``search_endpoint_override`` in clouds.yaml moves both).

Why the commands sit under ``stack``: they are about Heat stacks, beside heatclient's ``openstack
stack list|show|…``. None of their names is one of python-heatclient's (``openstack.orchestration.v1``:
``stack list``, ``stack show``, ``stack event list``, …) or python-searchlightclient's (``search
query``, ``search facet list``, ``search resource type list``), so no prefix was needed;
``tests/unit/test_client.py`` checks this against the installed packages' entry points.
"""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import utils

API_NAME = "heatseeker"
API_VERSION_OPTION = "os_heatseeker_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = {"1": "heatseeker.client.client.Client"}
SERVICE_TYPE = "search"


def make_client(instance: Any) -> Any:
    """The ``heatseeker.client.Client`` of openstackclient's session, region and interface (and
    the ``search`` endpoint override, if one is configured)."""
    from heatseeker.client.client import Client

    override = instance.get_configuration().get(f"{SERVICE_TYPE}_endpoint_override")
    return Client(instance.session, region_name=instance.region_name,
                  interface=instance.interface, endpoint_override=override)


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The global option of this plugin: the API version (there is one, v1)."""
    parser.add_argument(
        "--os-heatseeker-api-version", metavar="<heatseeker-api-version>",
        default=utils.env("OS_HEATSEEKER_API_VERSION", default=DEFAULT_API_VERSION),
        help=f"heatseeker (stack search) API version, default={DEFAULT_API_VERSION} "
             "(Env: OS_HEATSEEKER_API_VERSION)")
    return parser
