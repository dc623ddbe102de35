"""projection.py: the index follows the record, committing every ``batch`` changes and reading
the record a few documents at a time."""

from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.projection import READ_BATCH, Projector
from heatseeker.query.tree import MatchAll
from heatseeker.record import Change, Store


def _doc(i: int) -> dict:
    return {"id": f"s{i:04}", "name": f"s{i:04}", "project_id": "p1", "status": "CREATE_COMPLETE"}


def test_run_once_commits_every_batch_and_reads_little_at_a_time(tmp_path):
    store = Store(str(tmp_path / "state.sqlite"))
    store.apply([Change(f"s{i:04}", 1, _doc(i)) for i in range(650)])
    store.apply([Change("s0003", 2)])  # a tombstone among them
    engine = TantivyEngine(str(tmp_path / "index"))
    commits, reads = [], []
    real_commit, real_changes = engine.commit, store.changes_since
    engine.commit = lambda checkpoint=None: (commits.append(checkpoint), real_commit(checkpoint))
    store.changes_since = lambda seq, limit=1000: (reads.append(limit), real_changes(seq, limit))[1]
    # 650 records (s0003's tombstone took sequence 651), read 100 at a time, committed by 250s
    assert Projector(store, engine, batch=250).run_once() == 650
    assert commits == [301, 601, 651] and set(reads) == {READ_BATCH}
    assert engine.count(MatchAll()) == 649 and engine.checkpoint() == 651
    assert Projector(store, engine, batch=250).run_once() == 0 and commits == [301, 601, 651]
    n = Projector(store, engine).rebuild()
    assert n == 650 and engine.count(MatchAll()) == 649  # the tombstone is a document too
