"""Every heatseeker option, in one place (oslo.config), but each engine's own group (such as
``[opensearch]``), which its engine declares (``Engine.options``) and ``engines/registry.py``
gathers here, as it gathers the choices of ``[engine] backend``: an engine is one file.

``list_opts()`` feeds ``oslo-config-generator --namespace heatseeker`` (see
``etc/oslo-config-generator/heatseeker.conf``); the sample ``etc/heatseeker.conf.sample`` is generated
from it and a unit test keeps it current.
"""

from __future__ import annotations

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_db import options as db_options

from heatseeker.engines import registry as engine_registry
from heatseeker.record import database

HEAT_GROUP = "heat"

default_opts = [
    cfg.StrOpt(
        "data_dir",
        default="/var/lib/heatseeker",
        help="Where heatseeker keeps its embedded record (state.sqlite, unless [database] "
        "connection names another database) and its embedded search index (index/). Hidden "
        "parameter values never reach this directory.",
    ),
]

heat_opts = [
    cfg.IntOpt(
        "concurrency",
        default=8,
        min=1,
        max=64,
        help="How many Heat API reads run in parallel.",
    ),
    cfg.IntOpt(
        "page_size",
        default=200,
        min=1,
        help="Stacks per page when listing every project's stacks (limit/marker paging).",
    ),
    cfg.IntOpt(
        "retries",
        default=4,
        min=0,
        help="Retries of a Heat API call that failed to connect or answered 5xx, with exponential "
        "backoff; after that the call fails (the listener then requeues its notifications).",
    ),
    cfg.FloatOpt(
        "retry_backoff",
        default=0.5,
        min=0,
        help="First backoff between retries, in seconds; doubles each retry.",
    ),
    cfg.ListOpt(
        "regions",
        default=[],
        help="The regions whose Heat heatseeker indexes, each Heat endpoint found in the Keystone "
        "catalog with these [heat] credentials and that region; empty: the one region "
        "region_name names (RegionOne when unset). The first region listed is the "
        "installation's home: its notifications come over [DEFAULT] transport_url, and the "
        "stacks recorded before regions are its own. Every other region has a group "
        "[region:NAME] with its own transport_url (its notification bus) and, for a Heat "
        "outside the catalog, endpoint_override.",
    ),
]

# [region:NAME]: one for each region of [heat] regions (registered when the regions are read)
region_opts = [
    cfg.StrOpt(
        "transport_url",
        secret=True,
        help="The notification bus of this region's Heat (oslo.messaging transport URL). The home "
        "region may leave it unset: [DEFAULT] transport_url (or "
        "[oslo_messaging_notifications] transport_url) is its bus.",
    ),
    cfg.StrOpt(
        "endpoint_override",
        help="This region's Heat API, when the catalog does not list it (e.g. "
        "http://heat.two:8004/v1/%(tenant_id)s); default: the catalog's, for this region.",
    ),
]

listener_opts = [
    cfg.StrOpt("exchange", default="heat", help="Exchange Heat publishes notifications to."),
    cfg.ListOpt(
        "topics",
        default=["notifications"],
        help="Notification topics to listen on (Heat's [oslo_messaging_notifications] topics).",
    ),
    cfg.StrOpt(
        "pool",
        default="heatseeker",
        help="Listener pool name: heatseeker gets its own queue and does not steal notifications "
        "from other consumers of the same topic.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=100,
        min=1,
        help="Notifications handled (and committed) together at most.",
    ),
    cfg.FloatOpt(
        "batch_timeout",
        default=0.05,
        min=0.01,
        help="Seconds to wait for a batch to fill before handling what has arrived. Short, so "
        "that a notification never waits for others: a burst still arrives in batches, and "
        "reads of one stack asked for by several batches at once are shared (one Heat read).",
    ),
    cfg.IntOpt(
        "workers",
        default=32,
        min=1,
        max=64,
        help="Batches handled at once. Their Heat reads share [heat] concurrency, the reads "
        "that finish an action first, so a waiting batch costs only a thread: more workers "
        "let urgent notifications overtake a burst. Versions make concurrent batches safe.",
    ),
    cfg.FloatOpt(
        "requeue_backoff_max",
        default=30.0,
        min=0,
        help="When the Heat API cannot be read, notifications are requeued after a pause that "
        "doubles on each consecutive failure, up to this many seconds.",
    ),
    cfg.IntOpt(
        "reconcile_interval",
        default=0,
        min=0,
        help="Seconds between periodic reconciles (a full 'heatseeker sync') run by the listener to "
        "repair whatever the message bus lost. 0 disables it (run 'heatseeker sync' from cron).",
    ),
]

engine_opts = [
    cfg.StrOpt(
        "backend",
        default=engine_registry.DEFAULT,
        choices=engine_registry.choices(),  # every engine's name and one-line description
        help="Search engine.",
    ),
    cfg.FloatOpt(
        "commit_interval",
        default=0.05,
        min=0.0,
        help="Embedded engine: group commits at most this often (seconds). A commit follows "
        "each durable batch at once unless one was made less than this long ago.",
    ),
    cfg.IntOpt(
        "writer_memory_mb",
        default=128,
        min=16,
        help="Embedded engine: indexing memory budget of the writer.",
    ),
]

api_opts = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the search API listens on."),
    cfg.PortOpt("bind_port", default=9393, help="Port of the search API (Searchlight's)."),
    cfg.IntOpt("threads", default=8, min=1, help="Requests served at once."),
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[
            ("keystone", "keystonemiddleware auth_token validates every token"),
            ("trusted-headers", "DEVELOPMENT AND TESTS ONLY: trust X-Project-Id, X-Roles, … as sent"),
        ],
        help="How callers are authenticated.",
    ),
    cfg.BoolOpt(
        "allow_trusted_headers_anywhere",
        default=False,
        help="Allow auth_strategy = trusted-headers on a non-loopback bind_host. Anybody who can "
        "reach the port can then claim to be anybody: never in production.",
    ),
    cfg.ListOpt(
        "trusted_headers_hosts",
        default=[],
        help="With auth_strategy = trusted-headers, host names (as in the Host header, without "
        "the port) that requests may be addressed to besides loopback ones (localhost, "
        "127.0.0.0/8, ::1). Any other Host is refused: a DNS-rebinding page must not reach a "
        "server that believes identity headers.",
    ),
    cfg.ListOpt(
        "admin_only_fields",
        default=["stack_owner", "stack_user_project_id"],
        help="Stack fields only cloud admins see: absent from other callers' results, highlights, "
        "facets and aggregations, and a query on them matches nothing for them. Each must be a "
        "typed field kept out of full text (ids, times, owners).",
    ),
    cfg.IntOpt("default_limit", default=25, min=1, help="Results per page when none is asked."),
    cfg.IntOpt("max_limit", default=1000, min=1, help="Most results one page may ask for."),
    cfg.IntOpt(
        "max_result_window",
        default=10000,
        min=1,
        help="offset + limit may not exceed this; deeper pages use the search_after cursor.",
    ),
    cfg.IntOpt("max_query_depth", default=20, min=1, help="Deepest nesting of a query."),
    cfg.IntOpt("max_query_clauses", default=1024, min=1, help="Most clauses in one query."),
    cfg.IntOpt("max_body_bytes", default=1_048_576, min=1024, help="Largest request body."),
    cfg.FloatOpt(
        "search_timeout",
        default=10.0,
        min=0.1,
        help="Seconds a search may take before the API answers 503 (timed out).",
    ),
]


ui_opts = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Serve the web UI under /ui/ beside the API (heatseeker serve).",
    ),
    cfg.StrOpt(
        "auth_url",
        help="Keystone (v3) the web UI signs users in with. Default: [keystone_authtoken] "
        "www_authenticate_uri. Unused with [api] auth_strategy = trusted-headers.",
    ),
    cfg.StrOpt(
        "cafile",
        help="CA bundle that signs Keystone's TLS certificate, for the web UI's sign-in (a private "
        "CA). Default: the system's bundle.",
    ),
    cfg.IntOpt(
        "session_idle_timeout",
        default=3600,
        min=60,
        help="Seconds a web UI session lasts without use (never beyond its token's expiry).",
    ),
    cfg.IntOpt(
        "max_sessions",
        default=10000,
        min=1,
        help="Most web UI sessions kept at once (in the store, shared by every API worker and "
        "host; the least recently used goes first).",
    ),
]


history_opts = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Keep a revision of a stack each time its template, environment, files, parameters "
        "(masked), outputs or resource set change ('heatseeker history', 'diff', 'changes').",
    ),
    cfg.IntOpt(
        "max_revisions",
        default=100,
        min=0,
        help="Revisions kept per stack, newest first (0: no limit). A stack's last revision is "
        "always kept, also after the stack was deleted.",
    ),
    cfg.FloatOpt(
        "max_age_days",
        default=365.0,
        min=0,
        help="Revisions older than this many days are dropped (0: no limit), except a stack's "
        "last revision.",
    ),
    cfg.BoolOpt(
        "compress",
        default=True,
        help="Store each revision's document zlib-compressed (about 5x smaller on disk). Its "
        "large parts (template, environment, resources …) are stored once per distinct content "
        "and always compressed; this is about the rest.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(default_opts)
    conf.register_opts(heat_opts, group=HEAT_GROUP)
    ks_loading.register_auth_conf_options(conf, HEAT_GROUP)
    ks_loading.register_session_conf_options(conf, HEAT_GROUP)
    ks_loading.register_adapter_conf_options(conf, HEAT_GROUP)
    conf.set_default("service_type", "orchestration", group=HEAT_GROUP)
    conf.register_opts(listener_opts, group="listener")
    conf.register_opts(engine_opts, group="engine")
    for group, opts in engine_registry.option_groups():  # [opensearch], …: each engine's own
        conf.register_opts(opts, group=group)
    conf.register_opts(api_opts, group="api")
    conf.register_opts(history_opts, group="history")
    conf.register_opts(ui_opts, group="ui")
    # [database]: oslo.db's own options (the record: heatseeker/record/database.py); an empty
    # connection is the embedded sqlite:///{data_dir}/state.sqlite
    db_options.set_defaults(conf)
    conf.register_opts(database.record_opts, group="database")


def _heat_opts():
    opts = copy.deepcopy(heat_opts)
    opts += ks_loading.get_session_conf_options()
    opts += ks_loading.get_adapter_conf_options(include_deprecated=False)
    opts += ks_loading.get_auth_common_conf_options()
    # the options of the plugins operators use: password (a cloud admin) and none (noauth Heat)
    for name in ("password", "none"):
        opts += ks_loading.get_auth_plugin_conf_options(name)
    seen, unique = set(), []
    for opt in opts:
        if opt.dest not in seen:
            seen.add(opt.dest)
            unique.append(opt)
    return unique


def list_opts():
    """For oslo-config-generator (``transport_url`` comes from the oslo.messaging namespace)."""
    return [
        ("DEFAULT", default_opts),
        (HEAT_GROUP, _heat_opts()),
        ("listener", listener_opts),
        ("engine", engine_opts),
        *engine_registry.option_groups(),
        ("api", api_opts),
        ("history", history_opts),
        ("ui", ui_opts),
        ("database", database.record_opts),  # beside oslo.db's (its namespace: oslo.db)
    ]


def regions(conf: cfg.ConfigOpts) -> list[str]:
    """The regions to index, the home region first (``[heat] regions``, else the one
    ``region_name`` names); each ``[region:NAME]`` group is registered on the way."""
    from heatseeker.heat.client import DEFAULT_REGION

    names = [r.strip() for r in conf[HEAT_GROUP].regions if r.strip()]
    names = list(dict.fromkeys(names)) or [conf[HEAT_GROUP].region_name or DEFAULT_REGION]
    for name in names:
        group = region_group(name)
        if group not in conf:
            conf.register_opts(region_opts, group=group)
    return names


def region_group(name: str) -> str:
    return f"region:{name}"


def new_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    return conf
