"""Search engines behind one contract (``base.py``), found by ``registry.py``; ``open_engine``
builds the configured one, every engine the same way (``Engine.from_conf``)."""

from __future__ import annotations

from heatseeker.engines.base import Engine, OneHostOnly
from heatseeker.engines.registry import engine_class, names


def open_engine(conf, *, read_only: bool = False) -> Engine:
    cls = engine_class(conf.engine.backend)
    check_hosts(conf, cls)
    return cls.from_conf(conf, read_only=read_only)


def check_hosts(conf, cls: type[Engine] | None = None) -> None:
    """An engine whose index lives on one host (tantivy, in ``data_dir``) with a record on a
    database server is refused: that record is there to be shared by several hosts, each of which
    would then keep its own index, and each host's index would miss what the others' listeners
    wrote. One host: leave ``[database] connection`` empty (the embedded record). Several hosts:
    ``[engine] backend = opensearch``. The writers (listen, sync, reindex) check it before they
    touch the record."""
    cls = cls or engine_class(conf.engine.backend)
    if cls.shared:
        return
    from oslo_config import cfg

    if not isinstance(conf, cfg.ConfigOpts):
        return
    from heatseeker.record import database

    url = database.url_of(conf)
    if database.is_sqlite(url):
        return
    raise OneHostOnly(
        f"the {cls.name} engine keeps its index on this host (in {conf.data_dir}), but [database] "
        f"connection is a database server ({database.redact(url)}), which is how several hosts "
        f"share a record: the {cls.name} index serves one host only. Either run everything on "
        "one host with the embedded record (leave [database] connection empty), or use an index "
        "that several hosts share: [engine] backend = opensearch (heatseeker reindex --to "
        "opensearch first)"
    )


__all__ = ["Engine", "OneHostOnly", "check_hosts", "names", "open_engine"]
