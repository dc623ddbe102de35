"""The notification listener: Heat's notifications → the indexer, acknowledged after commit.

oslo.messaging batch listener on exchange ``heat``, topics ``notifications``, pool ``heatseeker``
(its own queue), every priority. For each batch:

* a message that is not a usable notification is logged with its message id, written to the
  store's dead letters and acknowledged — the listener goes on;
* the events are applied by the indexer in one durable store transaction, and only then does
  oslo.messaging acknowledge the batch;
* when Heat cannot be read the batch is requeued after a pause that doubles on each consecutive
  failure (``[listener] requeue_backoff_max``): nothing is lost while Heat is down;
* an unexpected error requeues the batch too, but a message that keeps failing that way is
  dead-lettered after ``POISON_LIMIT`` deliveries, so one bad message cannot stall the queue.

The index itself is a projection of the store, committed in groups by the
``projection.BackgroundProjector`` this process runs (at most every ``[engine] commit_interval``
seconds), so a crash between store and index loses nothing.

``run`` is ``heatseeker listen`` as it runs: catch the index up with the store and claim its
writer, start the background projector, the notification server (in a thread, so that a stop is
obeyed while the broker does not answer) and the periodic reconcile, and stop them in order on
SIGTERM/SIGINT. The CLI only loads the configuration and calls it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable

import oslo_messaging
from oslo_messaging.notify import dispatcher as notify_dispatcher
from oslo_messaging.notify import listener as notify_listener

from heatseeker.engines import check_hosts, open_engine
from heatseeker.heat import events
from heatseeker.heat.client import HeatError, HeatSource, HeatUnavailable
from heatseeker.indexer import Indexer
from heatseeker.projection import BackgroundProjector, Projector
from heatseeker.record import RecordUnavailable, Store

LOG = logging.getLogger(__name__)

POISON_LIMIT = 5
PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


class _SafeDispatcher(notify_dispatcher.BatchNotificationDispatcher):
    """oslo.messaging's batch dispatcher, except that a message it cannot even unpack (a missing or
    non-text priority, a broken payload) is dead-lettered and acknowledged instead of requeueing
    the whole batch forever or being dropped with only a warning."""

    def __init__(self, endpoints, serializer, on_poison: Callable[[object, str], None]):
        super().__init__(endpoints, serializer)
        self._on_poison = on_poison

    def dispatch(self, incoming):
        usable = []
        for raw in incoming:
            try:
                priority, _, _ = self._extract_user_message(raw)
            except Exception as exc:  # noqa: BLE001 - anything a broken message makes oslo raise
                self._on_poison(raw, f"cannot unpack notification: {exc}")
                continue
            if priority not in notify_dispatcher.PRIORITIES:
                self._on_poison(raw, f"unknown priority {priority!r}")
                continue
            usable.append(raw)
        return super().dispatch(usable) if usable else set()


class Handler:
    """What the endpoint does with one batch (independent of oslo.messaging, for tests)."""

    def __init__(self, store: Store, indexer: Indexer, *, backoff_max: float = 30.0,
                 on_commit: Callable[[], None] | None = None, sleep=time.sleep):
        self.store = store
        self.indexer = indexer
        self.backoff_max = backoff_max
        self.on_commit = on_commit
        self.sleep = sleep
        self._lock = threading.Lock()
        self._failures = 0
        self._deliveries: dict[str, int] = {}
        self.handled = 0

    def dead_letter(self, message_id: str | None, reason: str, body) -> None:
        LOG.error("dead-lettered notification %s: %s", message_id, reason)
        # only what diagnoses the message reaches the disk: never the context's credentials
        self.store.dead_letter(message_id, reason, events.for_the_record(body))

    def __call__(self, messages: list[dict]):
        # Batches may be handled concurrently ([listener] workers): the store applies each
        # batch in one transaction with version checks, so their order does not matter; only
        # the failure counters below are shared.
        try:
            return self._handle(messages)
        except RecordUnavailable as exc:  # e.g. while dead-lettering: nothing was acknowledged
            return self._requeue(exc, messages)

    def _requeue(self, exc: Exception, messages: list[dict]):
        """Heat or the record cannot be used: requeue the batch after a pause that doubles per
        consecutive failure (never dead-letter it: the messages are not at fault)."""
        with self._lock:
            self._failures += 1
            failures = self._failures
        pause = min(self.backoff_max, 0.5 * 2 ** (failures - 1))
        what = "Heat" if isinstance(exc, HeatUnavailable) else "the record"
        LOG.warning("%s unavailable (%s); requeueing %d notification(s) in %.1fs",
                    what, exc, len(messages), pause)
        self.sleep(pause)
        return oslo_messaging.NotificationResult.REQUEUE

    def _handle(self, messages: list[dict]):
        parsed: list[events.StackEvent] = []
        used: list[tuple[dict, str]] = []  # (message, message id) of the events parsed
        for msg in messages:
            mid = (msg.get("metadata") or {}).get("message_id") if isinstance(msg, dict) else None
            try:
                ev = events.parse(msg)
            except events.MalformedEvent as exc:
                self.dead_letter(mid, str(exc), msg)
                continue
            if ev is not None:
                parsed.append(ev)
                used.append((msg, ev.message_id))
        try:
            report = self.indexer.apply_events(parsed, on_durable=self.on_commit)
        except HeatUnavailable as exc:
            with contextlib.suppress(RecordUnavailable):  # the record is down too: requeue anyway
                self.indexer.region_unavailable(exc)
            return self._requeue(exc, messages)
        except RecordUnavailable as exc:
            return self._requeue(exc, messages)
        except Exception:  # noqa: BLE001 - a bug or a store error must not lose the batch
            LOG.exception("batch of %d notification(s) failed; requeueing", len(messages))
            poisoned = False
            for msg, mid in used:
                with self._lock:
                    n = self._deliveries[mid] = self._deliveries.get(mid, 0) + 1
                if n >= POISON_LIMIT:
                    self.dead_letter(mid, f"failed {n} times", msg)
                    poisoned = True
            if poisoned:
                return oslo_messaging.NotificationResult.HANDLED
            self.sleep(min(self.backoff_max, 1.0))
            return oslo_messaging.NotificationResult.REQUEUE
        if report.reads:
            # the region's Heat answered: no longer behind (the batch is durable: acknowledged
            # even if the record cannot take the mark now; the next batch clears it)
            with contextlib.suppress(RecordUnavailable):
                self.indexer.region_read()
        with self._lock:
            self._failures = 0
            for _, mid in used:
                self._deliveries.pop(mid, None)
            self.handled += len(messages)
        LOG.debug("batch: %s", report)
        if self.on_commit:
            self.on_commit()
        return oslo_messaging.NotificationResult.HANDLED


class Endpoint:
    def __init__(self, handler: Handler):
        for priority in PRIORITIES:
            setattr(self, priority, handler)


def build_server(conf, handler: Handler, url: str | None = None):
    """The notification server of one region's bus (``url``; None: the home region's, [DEFAULT]
    transport_url or [oslo_messaging_notifications] transport_url)."""
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    targets = [
        oslo_messaging.Target(topic=topic, exchange=conf.listener.exchange)
        for topic in conf.listener.topics
    ]

    def on_poison(raw, reason):
        message = getattr(raw, "message", None)
        mid = message.get("message_id") if isinstance(message, dict) else None
        handler.dead_letter(mid, reason, message)

    dispatcher = _SafeDispatcher([Endpoint(handler)], oslo_messaging.NoOpSerializer(), on_poison)
    return notify_listener.BatchNotificationServer(
        transport,
        targets,
        dispatcher,
        executor="threading",
        allow_requeue=True,
        pool=conf.listener.pool,
        batch_size=conf.listener.batch_size,
        batch_timeout=conf.listener.batch_timeout,
    )


# -- heatseeker listen ------------------------------------------------------------------------------


def run(conf) -> int:
    """``heatseeker listen``: until SIGTERM or SIGINT. Returns the exit code; raises what made the
    notification server fail to start."""
    check_hosts(conf)  # tantivy serves one host: refused with a record on a server
    store = Store.from_conf(conf, create=True)  # a writer: may make the embedded record
    engine = open_engine(conf)
    projector = Projector(store, engine)
    projector.run_once()  # catch up with whatever the store has (a crash, a sync)
    # claim the index writer now (the embedded engine allows one writer process): a `sync`
    # started beside this listener then leaves the projection to it
    engine.commit(checkpoint=engine.checkpoint())
    background = BackgroundProjector(projector, conf.engine.commit_interval)
    stop = _stop_on_signals()
    indexers, servers = [], []
    for source in HeatSource.for_regions(conf):  # each region: its Heat, its bus, its indexer
        indexer = Indexer(store, source)
        handler = Handler(store, indexer, backoff_max=conf.listener.requeue_backoff_max,
                          on_commit=background.poke)
        indexers.append(indexer)
        servers.append(_Server(conf, build_server(conf, handler, _bus(conf, source)), stop,
                               source.region))
    background.start()
    for server in servers:
        server.start()
    _reconcile_until(stop, conf.listener.reconcile_interval, indexers, background)
    LOG.info("stopping")
    for server in servers:
        server.stop()
    background.stop()
    background.join(timeout=30)
    engine.close()
    for server in servers:
        if server.failed:
            raise server.failed[0]
    return 0


def _bus(conf, source: HeatSource) -> str | None:
    """A region's notification bus: ``[region:NAME] transport_url`` (the home region may leave it
    to [DEFAULT] transport_url)."""
    from heatseeker.config import region_group

    url = conf[region_group(source.region)].transport_url
    if url or source.home:
        return url or None
    raise HeatError(f"region {source.region} has no notification bus: set "
                    f"[{region_group(source.region)}] transport_url")


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (a container's or systemd's stop) or SIGINT."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


class _Server:
    """The notification server, started in a thread: while the broker does not answer,
    oslo.messaging retries inside ``start()`` itself, and a stop must still be obeyed (nothing was
    acknowledged: nothing is lost). A start that fails sets ``stop``; ``run`` raises it."""

    def __init__(self, conf, server, stop: threading.Event, region: str = ""):
        self.conf = conf
        self.server = server
        self.region = region
        self.stop_event = stop
        self.started = threading.Event()
        self.failed: list[BaseException] = []

    def start(self) -> None:
        threading.Thread(target=self._start, name="listener-start", daemon=True).start()

    def _start(self) -> None:
        listener = self.conf.listener
        try:
            self.server.start(override_pool_size=listener.workers)  # a region's own threads
        except Exception as exc:  # noqa: BLE001 - reported by run()
            self.failed.append(exc)
            self.stop_event.set()
            return
        self.started.set()
        LOG.info("listening to region %s on exchange %s, topics %s, pool %s", self.region,
                 listener.exchange, ",".join(listener.topics), listener.pool)

    def stop(self) -> None:
        if self.started.is_set():
            self.server.stop()
            self.server.wait()
        elif not self.failed:
            LOG.warning("stopped before the notification transport answered")


def _reconcile_until(stop: threading.Event, interval: float, indexers: list[Indexer],
                     background: BackgroundProjector) -> None:
    """Wait for ``stop``, reconciling every region every ``interval`` seconds (``[listener]
    reconcile_interval``; 0: never; a region that fails does not stop the others) and poking
    the projector after each."""
    next_reconcile = time.monotonic() + interval
    while not stop.wait(1.0):
        if interval and time.monotonic() >= next_reconcile:
            for indexer in indexers:
                try:
                    report = indexer.reconcile()
                    indexer.region_read()
                    LOG.info("periodic reconcile of region %s: %s", indexer.region, report)
                    background.poke()
                except HeatUnavailable as exc:
                    indexer.region_unavailable(exc)
                    LOG.warning("periodic reconcile of region %s failed: %s", indexer.region, exc)
                except Exception:  # noqa: BLE001 - try again next time
                    LOG.exception("periodic reconcile of region %s failed", indexer.region)
            next_reconcile = time.monotonic() + interval


# -- the broker, for status and the upgrade check ---------------------------------------------------


def broker(conf):
    """A kombu connection to the notification transport as oslo.messaging would make it: every
    host of the URL (failover, in order) and ``[oslo_messaging_rabbit]``'s TLS options. None when
    the transport is not RabbitMQ."""
    import kombu

    oslo_messaging.get_notification_transport(conf).cleanup()  # registers the transport options
    url = oslo_messaging.TransportURL.parse(
        conf, conf.oslo_messaging_notifications.transport_url or conf.transport_url)
    if not url.hosts or url.transport not in ("rabbit", "amqp"):
        return None
    rabbit = conf.oslo_messaging_rabbit
    ssl: bool | dict = False
    if rabbit.ssl:
        ssl = {k: v for k, v in (("ca_certs", rabbit.ssl_ca_file), ("certfile", rabbit.ssl_cert_file),
                                 ("keyfile", rabbit.ssl_key_file)) if v}
        ssl["cert_reqs"] = 2  # ssl.CERT_REQUIRED
        ssl = ssl or True
    vhost = url.virtual_host or "/"
    return kombu.Connection(
        [kombu.Connection(hostname=h.hostname, port=h.port or (5671 if rabbit.ssl else 5672),
                          userid=h.username, password=h.password, virtual_host=vhost).as_uri(
                              include_password=True) for h in url.hosts],
        ssl=ssl, connect_timeout=3, failover_strategy="round-robin",
        transport_options={"max_retries": len(url.hosts)})


def queue_depth(conf) -> int | None:
    """Messages waiting in heatseeker's queue (the backlog), or None if the broker cannot say."""
    try:
        conn = broker(conf)
        if conn is None:
            return None
        with conn:
            _, count, _ = conn.channel().queue_declare(queue=conf.listener.pool, passive=True)
            return int(count)
    except Exception:  # noqa: BLE001 - status must answer even when the broker does not
        return None
