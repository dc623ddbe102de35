"""THE SOURCE: everything heatseeker reads from the Heat API goes through ``HeatSource``.

Errors are translated into three kinds:

* ``HeatUnavailable``: Heat could not be reached or answered 5xx, even after the retries of
  ``[heat] retries`` (the listener requeues its notifications on it);
* ``HeatForbidden``: 401/403, i.e. heatseeker's credentials are wrong (Keystone: the message names
  the ``[heat]`` options to check) or not a cloud admin (Heat: the message names the policy rule
  and its fix);
* ``HeatError``: anything else Heat refused (other 4xx), with Heat's message.

``KeystoneUnavailable`` (a ``HeatUnavailable``) says Keystone, not Heat, did not answer: the token is
asked for once, up front, with the same retries and backoff as Heat's calls, and the message names
``[heat] auth_url``.

A stack that is gone (404, or ``DELETE_COMPLETE``: Heat still answers a deleted stack by id until it
is purged) is ``None``, never an error.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib import parse

import requests
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc

from heatseeker.heat.events import parse_timestamp
from heatseeker.retry import retry

LOG = logging.getLogger(__name__)

T = TypeVar("T")

DELETE_COMPLETE = "DELETE_COMPLETE"

FORBIDDEN_HINT = (
    "heatseeker needs a cloud admin (a user with role admin in the admin project) to list every "
    "project's stacks (Heat policy stacks:global_index) and to read them; check the [heat] "
    "credentials"
)

GLOBAL_INDEX_RULE = "stacks:global_index"
GLOBAL_INDEX_FIX = '"stacks:global_index": "rule:context_is_admin"'
GLOBAL_INDEX_HINT = (
    f"Heat's policy refuses the every-project listing (rule {GLOBAL_INDEX_RULE}) to heatseeker's "
    "[heat] user. Heat's stock policy denies it to everybody: give it to cloud admins in Heat's "
    f"policy.yaml, {GLOBAL_INDEX_FIX}, and make the [heat] user a cloud admin (role admin in "
    "Keystone's admin project, whose name keystone.conf [resource] admin_project_name sets)"
)

# What to check in [heat] when Keystone refuses the credentials, by auth_type
_CREDENTIAL_OPTIONS = {
    "password": "username (or user_id), password, user_domain_name, project_name and "
    "project_domain_name",
    "v3password": "username (or user_id), password, user_domain_name, project_name and "
    "project_domain_name",
    "v3applicationcredential": "application_credential_id (or application_credential_name with "
    "username and user_domain_name) and application_credential_secret",
    "applicationcredential": "application_credential_id (or application_credential_name with "
    "username and user_domain_name) and application_credential_secret",
}


class HeatError(Exception):
    """Heat refused a request (or answered something heatseeker cannot use)."""


class HeatUnavailable(HeatError):
    """Heat could not be reached, timed out or answered 5xx, after retries."""


class HeatForbidden(HeatError):
    """Heat (or Keystone) answered 401/403: heatseeker's credentials are not a cloud admin."""


class KeystoneUnavailable(HeatUnavailable):
    """Keystone (``[heat] auth_url``) could not be reached or answered 5xx, after retries."""


@dataclass(frozen=True)
class AuthInfo:
    """What error messages say about ``[heat]``'s Keystone credentials."""

    auth_type: str
    auth_url: str | None

    def credentials(self) -> str:
        options = _CREDENTIAL_OPTIONS.get(self.auth_type, "credentials")
        return f"[heat] {options} (auth_type = {self.auth_type})"


@dataclass
class StackSnapshot:
    """Heat's answers for one stack, read together (see ``HeatSource.read``)."""

    show: dict
    template: dict
    environment: dict
    files: dict[str, str]
    resources: list[dict]
    read_at: int  # microseconds since the epoch (UTC), taken before the first call of the read
    region: str = ""  # the region of the Heat that answered (``HeatSource.region``); "": the default


# The region of a Heat whose ``[heat] region_name`` is not set (a noauth Heat, a one-region
# cloud): Keystone's own default (``keystone-manage bootstrap --bootstrap-region-id``).
DEFAULT_REGION = "RegionOne"


# -- error classification ------------------------------------------------------------------------

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ks_exc.ConnectFailure,
    ks_exc.ConnectTimeout,
    ks_exc.UnknownConnectionError,
    heat_exc.CommunicationError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)


def _status(exc: BaseException) -> int | None:
    """The HTTP status of an error from heatclient or keystoneauth (None if it has none)."""
    if isinstance(exc, heat_exc.HTTPException):
        code = getattr(exc, "code", None)
    elif isinstance(exc, ks_exc.HttpError):
        code = getattr(exc, "http_status", None)
    else:
        return None
    try:
        return int(code)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    status = _status(exc)
    return status is not None and (status >= 500 or status == 408)


def _is_not_found(exc: BaseException) -> bool:
    return _status(exc) == 404


def _message(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("ERROR: "):  # heatclient's __str__
        text = text[len("ERROR: ") :]
    return text or type(exc).__name__


_ERRNO = re.compile(r"\[Errno -?\d+\][^\"')]*")


def _short(exc: BaseException) -> str:
    """A connection error in one short line: keystoneauth's first sentence and the OS's reason."""
    text = _message(exc)
    head = text.split(": HTTPConnectionPool", 1)[0].split(": HTTPSConnectionPool", 1)[0]
    errno = _ERRNO.search(text)
    return f"{head} ({errno.group(0).strip()})" if errno and errno.group(0) not in head else head


def _is_keystone_failure(exc: BaseException, auth: AuthInfo | None) -> bool:
    """Did this connection error come from Keystone (a token refreshed mid-run)?"""
    if auth is None or not auth.auth_url:
        return False
    target = parse.urlsplit(auth.auth_url)
    return f"{target.scheme}://{target.netloc}" in _message(exc)


def _keystone_unavailable(exc: BaseException, auth: AuthInfo, attempts: int) -> KeystoneUnavailable:
    status = _status(exc)
    detail = f"HTTP {status}: {_message(exc)}" if status else _short(exc)
    return KeystoneUnavailable(
        f"Keystone does not answer at [heat] auth_url = {auth.auth_url} ({detail}; "
        f"{attempts} attempt(s) with backoff, [heat] retries): check [heat] auth_url and that "
        "Keystone runs and is reachable from here"
    )


def _refused_credentials(exc: BaseException, auth: AuthInfo | None, what: str) -> HeatForbidden:
    status = _status(exc)
    where = f" at [heat] auth_url = {auth.auth_url}" if auth and auth.auth_url else ""
    check = auth.credentials() if auth else "the [heat] credentials"
    return HeatForbidden(
        f"Keystone{where} refused heatseeker's [heat] credentials ({what}: HTTP {status}: "
        f"{_message(exc)}): check {check}; heatseeker needs a cloud admin (role admin in the "
        "admin project) or an application credential of one"
    )


def translate(exc: Exception, what: str, auth: AuthInfo | None = None) -> HeatError:
    """Turn an exception of heatclient / keystoneauth / requests into a HeatError."""
    if isinstance(exc, HeatError):
        return exc
    if auth is not None and _retryable(exc) and _is_keystone_failure(exc, auth):
        return _keystone_unavailable(exc, auth, 1)
    if _retryable(exc):
        status = _status(exc)
        detail = f"HTTP {status}: " if status else ""
        return HeatUnavailable(f"Heat API unavailable ({what}): {detail}{_message(exc)}")
    if isinstance(exc, ks_exc.ConnectionError):  # e.g. SSLError: not retried, still unreachable
        return HeatUnavailable(f"Heat API unavailable ({what}): {_message(exc)}")
    status = _status(exc)
    if status in (401, 403) and isinstance(exc, ks_exc.HttpError):
        # keystoneauth raises for Keystone's answers (heatclient maps Heat's own)
        return _refused_credentials(exc, auth, what)
    if status == 403 and GLOBAL_INDEX_RULE in _message(exc):
        return HeatForbidden(f"Heat refused {what} (HTTP 403: {_message(exc)}): {GLOBAL_INDEX_HINT}")
    if status in (401, 403):
        return HeatForbidden(
            f"Heat refused {what} (HTTP {status}: {_message(exc)}): {FORBIDDEN_HINT}"
        )
    if status is not None:
        return HeatError(f"Heat refused {what} (HTTP {status}): {_message(exc)}")
    if isinstance(exc, ks_exc.EndpointNotFound | ks_exc.DiscoveryFailure):
        return HeatError(
            f"cannot find the Heat API in Keystone's catalog ({what}): {_message(exc)}; check "
            "[heat] service_type (orchestration), valid_interfaces and region_name (or, for a Heat "
            "outside the catalog, endpoint_override)"
        )
    return HeatError(f"{what} failed: {type(exc).__name__}: {_message(exc)}")


_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    heat_exc.BaseException,
    ks_exc.ClientException,
    requests.exceptions.RequestException,
)


# Heat's times have a resolution of one second, and its clock may be a little off ours
ACTION_SKEW_US = 2_000_000


def _began_since(show: dict, since_us: int) -> bool:
    """Whether the stack's last update (``updated_time``; a create sets none) began after
    ``since_us``, give or take ``ACTION_SKEW_US``; unreadable: yes."""
    text = show.get("updated_time")
    if not text:
        return False
    try:
        return parse_timestamp(text) >= since_us - ACTION_SKEW_US
    except ValueError:
        return True


class _Gone(Exception):
    """Internal: the stack answered 404."""


def _now_us() -> int:
    return time.time_ns() // 1000


# the calls a read makes at once (HeatSource._parts: template, environment, files, resources,
# after the show), per read of [heat] concurrency
READS_PER_STACK = 5
POOL_SPARE = 32


def _widen_pool(session: Any, size: int) -> None:
    """Keep ``size`` connections per host in the keystoneauth session (requests keeps 10): with
    more calls at once, urllib3 discards the surplus connections and opens new ones (a TCP and
    TLS handshake each; measured: ~150 discarded in a full sync of 300 stacks)."""
    from keystoneauth1 import session as ks_session

    for scheme, old in list(session.session.adapters.items()):
        session.session.mount(scheme, ks_session.TCPKeepAliveAdapter(
            pool_maxsize=max(size, 10), max_retries=getattr(old, "max_retries", 0),
            tls_ciphers=getattr(old, "tls_ciphers", None),
            tls_min_version=getattr(old, "tls_min_version", None)))


# a stack name as Heat allows it (its API checks this pattern): safe in a URL path as it is
_PLAIN_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_.-]{0,254}")


def _stack_path(show: dict, stack_id: str) -> str:
    """``name/id`` for the sub-resources of a stack: saves Heat's lookup redirect on each call."""
    name = show.get("stack_name")
    if isinstance(name, str) and name:
        return f"{parse.quote(name, safe='')}/{stack_id}"
    return stack_id


def _as_dict(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise HeatError(f"unexpected answer from heatclient: {type(obj).__name__}")


class _DropInterfaceDeprecation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not ('"interface"' in text and "deprecated" in text)


def interface_as_valid_interfaces(conf: Any) -> None:
    """Read keystoneauth1's deprecated ``[heat] interface`` as ``valid_interfaces``.

    oslo.config logs a deprecation warning whenever the option is read, so every command that
    reads Heat warned; heatseeker documents ``valid_interfaces`` and takes ``interface = X`` as
    ``valid_interfaces = X`` quietly. Both set: keystoneauth1's own error (mutually exclusive).
    """
    from heatseeker.config import HEAT_GROUP

    group = conf[HEAT_GROUP]
    quiet = _DropInterfaceDeprecation()
    logger = logging.getLogger("oslo_config.cfg")
    logger.addFilter(quiet)
    try:
        interface = group.interface
    except Exception:  # noqa: BLE001 - the option is not registered: nothing to read
        return
    finally:
        logger.removeFilter(quiet)
    if interface and not group.valid_interfaces:
        conf.set_override("valid_interfaces", [interface], group=HEAT_GROUP)
        conf.set_override("interface", None, group=HEAT_GROUP)
        LOG.debug("[heat] interface = %s read as valid_interfaces = %s", interface, interface)


# how urgent a stack read is (``HeatSource.read_many``): the lower, the sooner
URGENT = 0  # a stack whose action finished, or that failed: what users wait for
NORMAL = 1
EAGER = 2  # an unknown stack whose action only began: it can wait for its end
BACKGROUND = 3  # a reconcile's (heatseeker sync, the listener's periodic one)


class Ticket:
    """A place in the ``Gate``'s line; ``Gate.hurry`` moves it up."""

    __slots__ = ("priority", "arrival")

    def __init__(self, priority: int, arrival: int):
        self.priority, self.arrival = priority, arrival

    def key(self) -> tuple[int, int]:
        return (self.priority, self.arrival)


class Gate:
    """At most ``slots`` stack reads at once across every batch this process handles, the most
    urgent first (then first come, first served): a burst of ``start`` events of new stacks
    does not delay the reads that finish an action, and the batches handled at once
    (``[listener] workers``) share ``[heat] concurrency`` instead of multiplying it."""

    def __init__(self, slots: int):
        self.slots = max(1, int(slots))
        self._busy = 0
        self._waiting: list[Ticket] = []  # the line, the first ``min(key)``
        self._arrivals = itertools.count()
        self._cond = threading.Condition()

    def ticket(self, priority: int = NORMAL) -> Ticket:
        return Ticket(priority, next(self._arrivals))

    def hurry(self, ticket: Ticket, priority: int) -> None:
        """A ticket still waiting becomes at least this urgent (another batch needs its read)."""
        with self._cond:
            if priority < ticket.priority:
                ticket.priority = priority
                self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self, priority: int = NORMAL, ticket: Ticket | None = None) -> Iterator[None]:
        me = ticket or self.ticket(priority)
        with self._cond:
            self._waiting.append(me)
            while self._busy >= self.slots or min(self._waiting, key=Ticket.key) is not me:
                self._cond.wait()
            self._waiting.remove(me)
            self._busy += 1
            self._cond.notify_all()  # the next in line may have a free slot too
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


# a read is five calls: one whose parts disagree is made again, at most this many times in all
TORN_READ_ATTEMPTS = 3

# reads made during a create whose template, environment and files are kept for the read of its
# end (``_Creating``): at most this many, and about this many bytes
CREATING_KEPT = 256
CREATING_KEPT_BYTES = 64 << 20


@dataclass
class _Creating:
    """What a read made while a stack was being created showed of its template, environment and
    files. A create never changes them (only an update does, and Heat then sets the stack's
    ``updated_time``), so the read of the same create's end needs only the show and the
    resources. Kept in this process's memory, as a read in flight is; a read without it reads
    everything."""

    path: str  # name/id: the resources can be asked for before the show answers
    creation_time: Any
    template: dict
    environment: dict
    files: dict[str, str]
    size: int  # the characters of the files, and of the template and environment as JSON

    @staticmethod
    def applies(show: dict) -> bool:
        return show.get("stack_status") == "CREATE_IN_PROGRESS" and not show.get("updated_time")

    @classmethod
    def of(cls, snapshot: StackSnapshot, path: str) -> _Creating:
        size = (sum(len(v) for v in snapshot.files.values())
                + len(json.dumps(snapshot.template, default=str))
                + len(json.dumps(snapshot.environment, default=str)))
        # copies: the snapshot goes to a document's builder
        return cls(path, snapshot.show.get("creation_time"), copy.deepcopy(snapshot.template),
                   copy.deepcopy(snapshot.environment), dict(snapshot.files), size)

    def same_create(self, show: dict) -> bool:
        """Whether ``show`` is of the same create, no update since."""
        status = show.get("stack_status")
        return (isinstance(status, str) and status.startswith("CREATE_")
                and not show.get("updated_time")
                and show.get("creation_time") == self.creation_time)


def torn(snapshot: StackSnapshot) -> bool:
    """Whether a read's show and environment came from two different actions: a string
    parameter the environment sets that the show (not masked) gives another value."""
    shown = snapshot.show.get("parameters") or {}
    given = snapshot.environment.get("parameters") or {}
    if not isinstance(shown, dict) or not isinstance(given, dict):
        return False
    return any(isinstance(v, str) and isinstance(shown.get(k), str) and shown[k] != v
               and shown[k] != "******" for k, v in given.items())


class HeatSource:
    """Reads stacks from the Heat API (heatclient v1), with retries and error translation."""

    def __init__(
        self,
        client: Any,
        *,
        concurrency: int = 8,
        page_size: int = 200,
        retries: int = 4,
        retry_backoff: float = 0.5,
        sleep: Callable[[float], object] = time.sleep,
        authenticate: Callable[[], object] | None = None,
        auth: AuthInfo | None = None,
        region: str = DEFAULT_REGION,
        home: bool = True,
    ):
        self.client = client
        self.region = region or DEFAULT_REGION  # every document read here is labelled with it
        self.home = home  # the installation's home region: the stacks from before regions are its
        self.concurrency = max(1, int(concurrency))
        self.page_size = max(1, int(page_size))
        self.retries = max(0, int(retries))
        self.retry_backoff = max(0.0, float(retry_backoff))
        self._sleep = sleep
        # Keystone: the token (and the catalog's Heat endpoint) asked for once, before any Heat call
        self._authenticate = authenticate
        self._authenticated = authenticate is None
        self._auth_lock = threading.Lock()
        self.auth = auth
        self.gate = Gate(self.concurrency)
        # reads asked for and still waiting for the gate, by stack: a second batch that needs the
        # same stack shares the read (begun after both asked, it shows what both must see)
        self._queued: dict[str, tuple[futures.Future, Ticket]] = {}
        self._names: dict[str, str] = {}  # know_names: id → name, for the next read of each
        # reads made during a create, by stack (``_Creating``), the oldest first
        self._creating: collections.OrderedDict[str, _Creating] = collections.OrderedDict()
        self._creating_bytes = 0
        self._queued_lock = threading.Lock()
        self.reads = 0  # reads made (for the benchmarks: what coalescing saved)
        self.shared = 0  # reads asked for and answered by another batch's read
        # a read's four calls after its show, at once (Heat answers them independently)
        self._parts = futures.ThreadPoolExecutor(max_workers=self.concurrency * 4,
                                                 thread_name_prefix="heat-part")

    @classmethod
    def for_regions(cls, conf: Any) -> list[HeatSource]:
        """One source per region of ``[heat] regions`` (the home region first)."""
        from heatseeker.config import regions

        names = regions(conf)
        return [cls.from_conf(conf, region=name, home=i == 0) for i, name in enumerate(names)]

    @classmethod
    def from_conf(cls, conf: Any, region: str | None = None, *, home: bool = True) -> HeatSource:
        """Build from the ``[heat]`` options (keystoneauth1 auth, session and adapter options).

        ``region``: that region's Heat (the catalog's endpoint for it, or ``[region:NAME]
        endpoint_override``), with the same credentials; default: ``[heat] region_name``'s.
        ``home``: the installation's home region (the stacks recorded before regions are its).

        Works with ``auth_type = password`` or ``v3applicationcredential`` (a cloud admin in
        Keystone; Heat's endpoint from the catalog: ``service_type``, ``valid_interfaces``,
        ``region_name``) and with ``auth_type = none`` + ``endpoint = http://heat:8004/v1/<project>``
        (a noauth Heat). keystoneauth1's deprecated ``interface`` is read as ``valid_interfaces``.
        """
        from heatclient import client as heat_client
        from keystoneauth1 import loading as ks_loading
        from keystoneauth1 import plugin as ks_plugin
        from keystoneauth1.loading import adapter as ks_adapter

        from heatseeker.config import HEAT_GROUP

        auth = ks_loading.load_auth_from_conf_options(conf, HEAT_GROUP)
        if auth is None:
            raise HeatError(
                "[heat] auth_type is not set: use 'password' (a cloud admin in Keystone) or "
                "'none' with 'endpoint = http://<heat>:8004/v1/<project>' (a noauth Heat)"
            )
        session = ks_loading.load_session_from_conf_options(conf, HEAT_GROUP, auth=auth)
        # the gated reads' calls, and the shows made beside them (a child's check of its parent,
        # made by each batch handled at once, ``[listener] workers``)
        _widen_pool(session, conf[HEAT_GROUP].concurrency * READS_PER_STACK + POOL_SPARE)
        interface_as_valid_interfaces(conf)
        kwargs: dict[str, Any] = {}
        try:
            ks_adapter.process_conf_options(conf[HEAT_GROUP], kwargs)
        except TypeError as exc:
            raise HeatError(f"bad [heat] options: {exc}") from exc
        if region is not None:
            from heatseeker.config import region_group, regions

            regions(conf)  # registers the [region:NAME] groups
            kwargs["region_name"] = region
            override = conf[region_group(region)].endpoint_override
            if override:
                kwargs["endpoint_override"] = override
            elif not home and isinstance(auth, ks_plugin.FixedEndpointPlugin):
                raise HeatError(
                    f"[heat] auth_type = none has one endpoint: region {region} needs "
                    f"[{region_group(region)}] endpoint_override = http://<heat>:8004/v1/<project>"
                )
        if not kwargs.get("endpoint_override") and isinstance(auth, ks_plugin.FixedEndpointPlugin):
            # the ``none`` plugin: its endpoint is the Heat API itself
            if not auth.endpoint:
                raise HeatError(
                    "[heat] auth_type = none needs 'endpoint = http://<heat>:8004/v1/<project>'"
                )
            kwargs["endpoint_override"] = auth.endpoint
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        client = heat_client.Client("1", session=session, auth=auth, **kwargs)
        group = conf[HEAT_GROUP]
        authenticate = None
        info = None
        if not isinstance(auth, ks_plugin.FixedEndpointPlugin):
            info = AuthInfo(str(group.auth_type), getattr(auth, "auth_url", None))

            def authenticate() -> object:
                # a token (Keystone), then Heat's endpoint from its catalog (or endpoint_override)
                session.get_auth_headers(auth)
                return client.http_client.get_endpoint()

        return cls(
            client,
            concurrency=group.concurrency,
            page_size=group.page_size,
            retries=group.retries,
            retry_backoff=group.retry_backoff,
            authenticate=authenticate,
            auth=info,
            region=region or group.region_name or DEFAULT_REGION,
            home=home,
        )

    # -- Keystone --------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Get a token and Heat's endpoint from Keystone, once, with retries and backoff on a
        Keystone that does not answer (``KeystoneUnavailable`` after them)."""
        if self._authenticated:
            return
        with self._auth_lock:
            if self._authenticated or self._authenticate is None:
                return
            attempts = self.retries + 1
            try:
                retry(
                    self._authenticate,
                    attempts=attempts,
                    backoff=self.retry_backoff,
                    retry_on=_retryable,
                    sleep=self._sleep,
                    log=LOG,
                    what="authenticate with Keystone ([heat] auth_url = "
                    f"{self.auth.auth_url if self.auth else '?'})",
                )
            except _CLIENT_ERRORS as exc:
                if self.auth is not None and _retryable(exc):  # type: ignore[arg-type]
                    raise _keystone_unavailable(exc, self.auth, attempts) from exc
                raise translate(exc, "authenticate with Keystone", self.auth) from exc  # type: ignore[arg-type]
            self._authenticated = True

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T], what: str, *, gone_ok: bool = False) -> T:
        """Run one API call with retries; translate errors (404 → _Gone when ``gone_ok``)."""
        self.authenticate()
        try:
            return retry(
                fn,
                attempts=self.retries + 1,
                backoff=self.retry_backoff,
                retry_on=_retryable,
                sleep=self._sleep,
                log=LOG,
                what=what,
            )
        except _CLIENT_ERRORS as exc:
            if gone_ok and _is_not_found(exc):
                raise _Gone(what) from exc
            raise translate(exc, what, self.auth) from exc  # type: ignore[arg-type]

    # -- Keystone projects -------------------------------------------------------------------

    def projects(self, name_or_id: str) -> list[dict]:
        """The Keystone projects whose name or id is ``name_or_id`` (``[heat]``'s credentials, the
        identity endpoint from the catalog with ``[heat]``'s interface and region). Only for a
        Keystone-backed Heat: a noauth Heat's projects are the strings its callers gave."""
        adapter = self.client.http_client
        endpoint = {
            "service_type": "identity",
            "interface": adapter.interface,
            "region_name": adapter.region_name,
            "version": (3, 0),
        }

        def fetch() -> list[dict]:
            found: dict[str, dict] = {}
            listed = adapter.session.get(
                "/projects", auth=adapter.auth, endpoint_filter=endpoint,
                params={"name": name_or_id})
            for project in listed.json().get("projects", []):
                found[project["id"]] = project
            one = adapter.session.get(
                f"/projects/{parse.quote(name_or_id, safe='')}", auth=adapter.auth,
                endpoint_filter=endpoint, raise_exc=False)
            if one.status_code == 200:
                project = one.json()["project"]
                found[project["id"]] = project
            elif one.status_code not in (400, 404):
                raise ks_exc.from_response(one, "GET", one.url)
            return list(found.values())

        return self._call(fetch, f"look up project {name_or_id!r} in Keystone")

    # -- listing -------------------------------------------------------------------------------

    def list_stacks(self) -> Iterator[dict]:
        """Every project's stacks, nested ones included, page by page (marker = last id).

        Items are the listing's dicts; ``project`` is the owner, ``parent`` the direct parent.
        """
        marker: str | None = None
        seen: set[str] = set()
        page_no = 0
        while True:
            page_no += 1
            kwargs: dict[str, Any] = {
                "global_tenant": True,
                "show_nested": True,
                "show_hidden": True,
                "limit": self.page_size,
            }
            if marker is not None:
                kwargs["marker"] = marker

            def fetch(kwargs: dict[str, Any] = kwargs) -> list[dict]:
                # stacks.list() is lazy: errors surface while iterating, so iterate here
                return [_as_dict(s) for s in self.client.stacks.list(**kwargs)]

            page = self._call(fetch, f"list stacks (page {page_no})")
            new = 0
            for item in page:
                sid = item.get("id")
                if not isinstance(sid, str) or sid in seen:
                    continue
                seen.add(sid)
                new += 1
                yield item
            # heatclient itself follows a short page (asking for the rest of the limit), so a page
            # shorter than page_size is the last one
            if len(page) < self.page_size or new == 0:
                return
            last = page[-1].get("id")
            if not isinstance(last, str) or last == marker:
                return
            marker = last

    def named(self, name: str) -> list[dict]:
        """The stacks of any project named ``name`` (the listing's dicts): the creator of an
        ``OS::Heat::Stack`` stack, when heatseeker has not stored it yet (indexer._creator)."""

        def fetch() -> list[dict]:
            return [_as_dict(s) for s in self.client.stacks.list(
                filters={"name": name}, global_tenant=True, show_nested=True, show_hidden=True,
                limit=self.page_size)]

        return self._call(fetch, f"list stacks named {name!r}")

    # -- reading -------------------------------------------------------------------------------

    def show(self, stack_id: str) -> dict | None:
        """The stack (``GET /stacks/{id}``, outputs not resolved); None if it is gone."""
        try:
            show = self._call(
                lambda: _as_dict(self.client.stacks.get(stack_id, resolve_outputs=False)),
                f"show stack {stack_id}",
                gone_ok=True,
            )
        except _Gone:
            return None
        if show.get("stack_status") == DELETE_COMPLETE:
            return None
        return show

    def read(self, stack_id: str, *, pipelined: bool = True) -> StackSnapshot | None:
        """Everything heatseeker indexes about one stack; None if it is gone.

        A read is five calls, and Heat may write an action's new content between them (an
        update that began meanwhile): a read whose show and environment disagree on a
        parameter's value is torn and is made again (``TORN_READ_ATTEMPTS`` in all; the last is
        kept as it is, the next notification brings a read of its own). ``pipelined``: the
        four calls after the show at once (one round trip), else one after the other."""
        with self._queued_lock:
            name = self._names.pop(stack_id, None)
        for _ in range(TORN_READ_ATTEMPTS - 1):
            snapshot = self._read_once(stack_id, name, pipelined)
            if snapshot is None or not torn(snapshot):
                return snapshot
            LOG.debug("stack %s: show and environment disagree (Heat wrote a new action's "
                      "content during the read): reading it again", stack_id)
            self._take_creating(stack_id)  # the next attempt reads everything
        return self._read_once(stack_id, name, pipelined)

    def know_names(self, names: Mapping[str, str]) -> None:
        """Stack names (``id → name``, from a listing or the notifications) for the next ``read``
        of each: its show then asks for ``name/id`` and saves Heat's lookup and redirect
        (measured: the show by id cost ~40 % more, bench/sync_rate.py; during a burst Heat's
        ``identify_stack`` took 6 % of its engine). A stack's name never changes; each is used
        once (a read takes it)."""
        with self._queued_lock:
            self._names.update((sid, n) for sid, n in names.items()
                               if isinstance(n, str) and _PLAIN_NAME.fullmatch(n))

    def _read_once(self, stack_id: str, name: str | None = None,
                   pipelined: bool = True) -> StackSnapshot | None:
        read_at = _now_us()
        stacks = self.client.stacks
        kept = self._take_creating(stack_id)  # what a read made during its create kept

        def show_it():
            if name is not None:
                try:  # name/id: no lookup and no redirect in Heat
                    return _as_dict(stacks.get(f"{name}/{stack_id}"))
                except Exception as exc:
                    if not _is_not_found(exc):
                        raise
                    # a name that is not this stack's, or a stack gone: by id, as always
            return _as_dict(stacks.get(stack_id))

        def part_calls(path: str) -> dict[str, Callable[[], Any]]:
            return {
                "template": lambda: self._call(
                    lambda: stacks.template(path), f"template of {stack_id}", gone_ok=True),
                "environment": lambda: self._call(
                    lambda: stacks.environment(path), f"environment of {stack_id}", gone_ok=True),
                "files": lambda: self._call(
                    lambda: stacks.files(path), f"files of {stack_id}", gone_ok=True),
                "resources": lambda: self._call(
                    lambda: [_as_dict(r) for r in self.client.resources.list(path, nested_depth=0)],
                    f"resources of {stack_id}", gone_ok=True),
            }

        def run(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
            if pipelined:  # one round trip instead of one call after the other
                running = {part: self._parts.submit(fn) for part, fn in calls.items()}
                futures.wait(running.values())
                return {part: fut.result() for part, fut in running.items()}
            return {part: fn() for part, fn in calls.items()}

        def shown() -> dict:
            return self._call(show_it, f"show stack {stack_id}", gone_ok=True)

        # With the stack's name (the notification's, a listing's, or kept from its create),
        # the other calls need not wait for the show: one round trip instead of two. A stack
        # read during its create needs only its resources besides (``_Creating``).
        guess = _stack_path({"stack_name": name}, stack_id) if name else (
            kept.path if kept is not None else None)
        early: dict[str, futures.Future] = {}
        if pipelined and guess is not None:
            calls = part_calls(guess)
            early = {part: self._parts.submit(calls[part])
                     for part in (["resources"] if kept is not None else calls)}
        try:
            try:
                show = shown()
            finally:
                futures.wait(early.values())
            if show.get("stack_status") == DELETE_COMPLETE:
                return None
            real_id = str(show.get("id") or stack_id)
            path = _stack_path(show, real_id)
            if early and kept is None and _began_since(show, read_at):
                # an action began while the calls went at once: Heat may have answered them
                # before it wrote that action's content, and a show newer than its template would
                # resolve an output the template read does not declare. The calls again, after
                # the show: never older than it, as when they always followed it.
                early = {}
            try:
                if early and path == guess:
                    got = {part: fut.result() for part, fut in early.items()}
                    if kept is not None and kept.same_create(show):
                        # (taken: this read's snapshot may hold them; ``_Creating.of`` copies)
                        got.update(template=kept.template, environment=kept.environment,
                                   files=kept.files)
                    elif "template" not in got:  # an update began meanwhile: read it all
                        got.update(run({part: fn for part, fn in part_calls(path).items()
                                        if part != "resources"}))
                else:  # the name was not the stack's (never Heat's own), or none was known
                    got = run(part_calls(path))
            except _Gone as gone:
                # deleted (and purged) while we read it? or a Heat without this endpoint
                if self.show(real_id) is None:
                    return None
                raise HeatError(
                    f"Heat answered 404 for the {gone} although the stack exists "
                    "(heatseeker needs Heat Newton or later)"
                ) from gone
            template, environment = got["template"], got["environment"]
            files, resources = got["files"], got["resources"]
        except _Gone:
            return None
        snapshot = StackSnapshot(
            show=show,
            template=template if isinstance(template, dict) else {},
            environment=environment if isinstance(environment, dict) else {},
            files=(
                {str(k): v for k, v in files.items() if isinstance(v, str)}
                if isinstance(files, dict)
                else {}
            ),
            resources=resources,
            read_at=read_at,
            region=self.region,
        )
        if _Creating.applies(show) and not torn(snapshot):
            self._keep_creating(stack_id, _Creating.of(snapshot, path))
        return snapshot

    def _take_creating(self, stack_id: str) -> _Creating | None:
        with self._queued_lock:
            entry = self._creating.pop(stack_id, None)
            if entry is not None:
                self._creating_bytes -= entry.size
            return entry

    def _keep_creating(self, stack_id: str, entry: _Creating) -> None:
        """Keep what a read made during a create showed, for the read of its end (bounded: the
        oldest go first; in this process only, as any read in flight is: a read without it is
        a full read)."""
        with self._queued_lock:
            old = self._creating.pop(stack_id, None)
            self._creating_bytes += entry.size - (old.size if old is not None else 0)
            self._creating[stack_id] = entry
            while self._creating and (len(self._creating) > CREATING_KEPT
                                      or self._creating_bytes > CREATING_KEPT_BYTES):
                _, dropped = self._creating.popitem(last=False)
                self._creating_bytes -= dropped.size

    def read_many(
        self, ids: Iterable[str], priority: Callable[[str], int] | None = None,
    ) -> Iterator[tuple[str, StackSnapshot | None | HeatError]]:
        """``read`` each id, ``concurrency`` at a time in this process (``gate``, shared with
        every other caller, the most urgent ``priority`` first: ``URGENT`` … ``EAGER``; default
        ``NORMAL``); yield ``(id, result)`` as reads complete.

        A stack's failure is yielded as its HeatError; this never raises for one stack.
        """
        size = min(self.concurrency, len(ids)) if isinstance(ids, (list, tuple)) else self.concurrency
        it = iter(ids)
        pool = futures.ThreadPoolExecutor(
            max_workers=max(1, size), thread_name_prefix="heat-read"
        )
        pending: dict[futures.Future, str] = {}

        def submit_next() -> bool:
            for stack_id in it:
                urgency = priority(stack_id) if priority is not None else NORMAL
                pending[pool.submit(self._read_safely, stack_id, urgency)] = stack_id
                return True
            return False

        try:
            # keep the queue short: ids may be a long (lazy) iterable
            for _ in range(self.concurrency * 2):
                if not submit_next():
                    break
            while pending:
                done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                for fut in done:
                    stack_id = pending.pop(fut)
                    submit_next()
                    yield stack_id, fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _read_safely(self, stack_id: str, priority: int = NORMAL) -> StackSnapshot | None | HeatError:
        with self._queued_lock:
            queued = self._queued.get(stack_id)
            if queued is None:
                mine: futures.Future = futures.Future()
                ticket = self.gate.ticket(priority)
                self._queued[stack_id] = (mine, ticket)
            else:
                self.shared += 1
        if queued is not None:  # another batch's read of it has not begun: wait for it
            self.gate.hurry(queued[1], priority)  # as urgent as the most urgent asker
            # its own copy: the builders of two batches must not share one object
            return copy.deepcopy(queued[0].result())
        try:
            result = self._read_gated(stack_id, ticket)
        except BaseException as exc:  # noqa: BLE001 - for whoever shares it, then raised
            mine.set_exception(exc)
            raise
        finally:
            with self._queued_lock:
                if self._queued.get(stack_id, (None,))[0] is mine:
                    del self._queued[stack_id]
        mine.set_result(result)
        return result

    def _read_gated(self, stack_id: str, ticket: Ticket) -> StackSnapshot | None | HeatError:
        try:
            with self.gate.slot(ticket=ticket):
                with self._queued_lock:  # begun: a later ask reads again
                    self._queued.pop(stack_id, None)
                    self.reads += 1
                # a reconcile's reads (BACKGROUND) make their calls one after the other: on a
                # busy Heat four at once were each 2-4x slower, a loss in throughput
                # (bench/sync_rate.py); what a user waits for keeps its one round trip
                return self.read(stack_id, pipelined=ticket.priority < BACKGROUND)
        except HeatError as exc:
            return exc
        except Exception as exc:  # never let one stack break a batch
            LOG.exception("unexpected error reading stack %s", stack_id)
            return HeatError(f"reading stack {stack_id} failed: {type(exc).__name__}: {exc}")
