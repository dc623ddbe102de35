"""``heatseeker-status upgrade check`` (oslo.upgradecheck, as every OpenStack service has): is this
installation ready to run, before and after an upgrade? Each failure says what to do.

Checks, in order:

store          the record ([database] connection) answers, at the schema revision this code needs
index          the index answers with this code's schema (else: ``heatseeker reindex``)
heat           Heat answers, and allows heatseeker's credentials the global listing
               (Heat policy ``stacks:global_index``)
keystone       Keystone says which project is the admin project (``[resource]
               admin_project_name``), without which no project token can count as a cloud admin
notifications  the listener's queue exists on the notification transport and Heat's exchange
               too (Heat has sent notifications there), and the last notification was recent

Exit codes are oslo.upgradecheck's: 0 success, 1 warning, 2 failure, 255 the check crashed.
"""

from __future__ import annotations

import sys
import time

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
from oslo_upgradecheck.upgradecheck import Code, Result

from heatseeker import config

RECENT = 24 * 3600  # seconds: a notification older than this is worth a warning


class Checks(upgradecheck.UpgradeCommands):
    display_title = "heatseeker upgrade check"

    def __init__(self, conf: cfg.ConfigOpts):
        self.conf = conf

    def _store(self) -> Result:
        from heatseeker.indexer import DOCUMENTS_VERSION, stale_documents
        from heatseeker.record import RecordUnavailable, Store
        from heatseeker.record.database import redact, url_of

        where = redact(url_of(self.conf))
        try:
            store = Store.from_conf(self.conf)  # a reader: never makes nor upgrades a record
            try:
                stacks = store.counts()["stacks"]
                documents = store.get_meta(DOCUMENTS_VERSION)
            finally:
                store.close()
        except RecordUnavailable as exc:
            return Result(Code.FAILURE, f"{exc} (check [DEFAULT] data_dir and [database] "
                                        "connection; heatseeker sync makes an embedded record)")
        except Exception as exc:  # noqa: BLE001 - a damaged record is reported, not raised
            return Result(Code.FAILURE, f"the record {where} cannot be read ({exc}): restore it "
                                        "from a backup, or move it away and run heatseeker sync")
        stale = stale_documents(documents, stacks)
        if stale:
            return Result(Code.FAILURE, stale)
        return Result(Code.SUCCESS, f"{stacks} stacks in {where}")

    def _index(self) -> Result:
        from heatseeker.engines import open_engine
        from heatseeker.engines.base import EngineError, SchemaMismatch
        from heatseeker.query.tree import MatchAll

        try:
            engine = open_engine(self.conf, read_only=True)
            try:
                count = engine.count(MatchAll())
            finally:
                engine.close()
        except SchemaMismatch as exc:
            return Result(Code.FAILURE, f"{exc}: run heatseeker reindex")
        except (EngineError, OSError, ValueError) as exc:
            return Result(Code.FAILURE, f"the {self.conf.engine.backend} index cannot be used "
                                        f"({exc}): check [engine] and [opensearch]")
        return Result(Code.SUCCESS, f"{self.conf.engine.backend}: {count} stacks searchable")

    def _heat(self) -> Result:
        from heatseeker.heat.client import HeatError, HeatForbidden, HeatSource

        try:
            sources = HeatSource.for_regions(self.conf)
        except HeatError as exc:
            return Result(Code.FAILURE, f"{exc} (check [heat])")
        regions = []
        for source in sources:  # every region's Heat
            where = f"region {source.region}: " if len(sources) > 1 else ""
            try:
                source.page_size, source.retries = 1, 0
                next(iter(source.list_stacks()), None)
            except HeatForbidden as exc:  # its message names the [heat] options or the policy rule
                return Result(Code.FAILURE, f"{where}{exc}")
            except HeatError as exc:
                return Result(Code.FAILURE, f"{where}{exc} (check [heat])")
            regions.append(source.region)
        if len(regions) == 1:
            return Result(Code.SUCCESS, "Heat answers the global listing")
        return Result(Code.SUCCESS, f"Heat answers the global listing in {', '.join(regions)}")

    def _keystone(self) -> Result:
        from heatseeker.heat import keystone

        try:
            known = keystone.admin_project_known(self.conf)
        except keystone.KeystoneNotAsked as exc:
            return Result(Code.WARNING, f"Keystone could not be asked whether it knows its admin "
                                        f"project ({exc}): check [heat] auth_url and credentials")
        if known is None:
            return Result(Code.SUCCESS, "[heat] does not use Keystone (auth_type = none)")
        if not known:
            return Result(Code.WARNING, keystone.ADMIN_PROJECT_CAVEAT)
        return Result(Code.SUCCESS, "Keystone's tokens say which project is the admin project")

    def _notifications(self) -> Result:
        from heatseeker.listener import broker

        try:
            conn = broker(self.conf)
        except Exception as exc:  # noqa: BLE001 - a bad transport_url is reported, not raised
            return Result(Code.FAILURE, f"the notification transport is misconfigured: {exc}")
        if conn is None:
            return Result(Code.WARNING, "the notification transport is not RabbitMQ: its queue "
                                        "cannot be checked")
        queue, exchange = self.conf.listener.pool, self.conf.listener.exchange
        try:
            with conn:
                channel = conn.channel()
                try:
                    channel.exchange_declare(exchange, "topic", passive=True)
                except Exception:  # noqa: BLE001 - the broker's "not found" closes the channel
                    return Result(Code.FAILURE, f"no exchange {exchange!r} on the notification "
                                  "transport: Heat has sent no notification there. In heat.conf "
                                  "set [oslo_messaging_notifications] driver = messagingv2 (and "
                                  "the same transport_url)")
                channel = conn.channel()
                try:
                    channel.queue_declare(queue=queue, passive=True)
                except Exception:  # noqa: BLE001
                    return Result(Code.FAILURE, f"no queue {queue!r}: start heatseeker listen "
                                  "(it declares the queue and binds it to Heat's exchange)")
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, f"the notification transport does not answer ({exc}): "
                                        "check transport_url and [oslo_messaging_rabbit]")
        last = _last_event(self.conf)
        if not last:
            return Result(Code.WARNING, f"queue {queue!r} is bound, but no notification has "
                                        "arrived yet")
        age = time.time() - last["timestamp_us"] / 1e6
        if age > RECENT:
            return Result(Code.WARNING, f"the last notification arrived {age / 3600:.0f} h ago: "
                                        "is Heat still sending them (heat.conf "
                                        "[oslo_messaging_notifications])?")
        return Result(Code.SUCCESS, f"last notification {age:.0f} s ago")

    _upgrade_checks = (
        ("store", _store),
        ("index", _index),
        ("heat", _heat),
        ("keystone", _keystone),
        ("notifications", _notifications),
    )


def _last_event(conf) -> dict | None:
    """The record's last notification, read without writing (None if none or no record)."""
    from heatseeker.record import Store

    try:
        store = Store.from_conf(conf)
        try:
            return store.get_meta("last_event")
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - the store check reports what is wrong with the record
        return None


def main(argv: list[str] | None = None) -> int:
    conf = config.new_conf()
    return upgradecheck.main(conf, "heatseeker", Checks(conf),
                             argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
