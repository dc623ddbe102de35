"""Links Heat does not keep (heatseeker/links.py): a stack created by an OS::Heat::Stack resource
joins its creator's tree, whatever the order the two are indexed in, across re-reads, resource
replacement, deletes and reindex — and never across projects."""

from __future__ import annotations

import pytest

from heatseeker import links, uses
from heatseeker.heat import events
from heatseeker.indexer import Indexer
from heatseeker.projection import Projector
from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from heatseeker.record import Change, Store
from heatseeker.searcher import Searcher

from .fakes import FakeHeat, nested_resource, notification, plain_resource

MID = "top-tier-aaaaaaaaaaaa"
KID = f"{MID}-app-bbbbbbbbbbbb"
KIDN = f"{KID}-inner-cccccccccccc"
ALPHA = Visibility(frozenset({"alpha"}))
BETA = Visibility(frozenset({"beta"}))


def _creator(h: FakeHeat, kid: str = "kid", project: str = "alpha") -> None:
    h.add("top", "top", project=project, resources=[nested_resource("tier", "My::Tier", "mid")])
    h.add("mid", MID, project=project, parent="top",
          resources=[plain_resource("app", "OS::Heat::Stack", physical=kid)])


def _kid(h: FakeHeat, project: str = "alpha", sid: str = "kid", name: str = KID) -> None:
    h.add(sid, name, project=project, params={"image": "cirros-0.6.2"},
          resources=[nested_resource("inner", "My::Inner", sid + "n")])
    h.add(sid + "n", f"{name}-inner-cccccccccccc", project=project, parent=sid,
          params={"image": "cirros-0.6.2"})


@pytest.fixture
def heat():
    h = FakeHeat()
    _creator(h)
    _kid(h)
    return h


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "state.sqlite"))


def _events(h: FakeHeat, *sids: str):
    return [events.parse(notification(s, h.stacks[s]["show"]["stack_name"], "create", "end"))
            for s in sids]


def assert_linked(store: Store) -> None:
    kid = store.get("kid").doc
    assert kid["created_by"] == "mid" and kid["link"] == "OS::Heat::Stack"
    assert kid["parent_id"] == "mid" and kid["parent_resource"] == "app"
    assert kid["ancestors"] == ["top", "mid"] and kid["root_id"] == "top" and kid["depth"] == 2
    assert kid["path"] == ["top", MID, KID]
    kidn = store.get("kidn").doc
    assert kidn["parent_id"] == "kid" and kidn["link"] is None and kidn["created_by"] is None
    assert kidn["ancestors"] == ["top", "mid", "kid"] and kidn["root_id"] == "top"
    assert kidn["depth"] == 3 and kidn["path"] == ["top", MID, KID, KIDN]
    assert kidn["parent_resource"] == "inner"


def assert_root(store: Store, sid: str = "kid") -> None:
    kid = store.get(sid).doc
    assert kid["created_by"] is None and kid["link"] is None and kid["parent_id"] is None
    assert kid["root_id"] == sid and kid["ancestors"] == [] and kid["depth"] == 0
    kidn = store.get(sid + "n").doc
    assert kidn["ancestors"] == [sid] and kidn["root_id"] == sid and kidn["depth"] == 1


def test_reconcile_links_the_created_stack_and_its_nested_stacks(heat, store):
    Indexer(store, heat).reconcile()
    assert_linked(store)
    assert store.get("top").doc["link"] is None and store.get("mid").doc["parent_id"] == "top"


def test_child_indexed_before_its_creator(heat, store):
    ix = Indexer(store, heat)
    ix.apply_events(_events(heat, "kid", "kidn"))
    assert_root(store)
    version = store.get("kid").version
    ix.apply_events(_events(heat, "top", "mid"))
    assert_linked(store)
    assert store.get("kid").version == version + 1  # a new store change: re-projected


def test_creator_indexed_before_the_child(heat, store):
    ix = Indexer(store, heat)
    ix.apply_events(_events(heat, "top", "mid"))
    ix.apply_events(_events(heat, "kid"))
    ix.apply_events(_events(heat, "kidn"))
    assert_linked(store)


def test_nested_stack_of_the_child_before_the_child(heat, store):
    ix = Indexer(store, heat)
    ix.apply_events(_events(heat, "top", "mid"))
    ix.apply_events(_events(heat, "kidn"))  # walks up the API: kid is a root there
    ix.apply_events(_events(heat, "kid"))
    assert_linked(store)


def test_a_reread_of_the_child_keeps_the_link(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    heat.set_status("kid", "UPDATE_COMPLETE")
    ix.apply_events(_events(heat, "kid"))
    assert_linked(store)
    assert store.get("kid").doc["status"] == "UPDATE_COMPLETE"
    # a state-only change (a start event) too
    ix.apply_events([events.parse(notification("kid", KID, "update", "start"))])
    assert_linked(store)
    ix.reconcile(full=True)
    assert_linked(store)


def test_replaced_resource_moves_the_link(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    _kid(heat, sid="kid2", name=f"{MID}-app-dddddddddddd")
    heat.stacks["mid"]["resources"] = [plain_resource("app", "OS::Heat::Stack", physical="kid2")]
    heat.set_status("mid", "UPDATE_COMPLETE")
    ix.reconcile()
    assert_root(store, "kid")
    kid2 = store.get("kid2").doc
    assert kid2["created_by"] == "mid" and kid2["root_id"] == "top"
    assert store.get("kid2n").doc["ancestors"] == ["top", "mid", "kid2"]


def test_deleted_creator_leaves_a_root(heat, store):
    ix = Indexer(store, heat)
    ix.reconcile()
    ix.apply_events([events.parse(notification("mid", MID, "delete", "end"))])
    assert store.get("mid").deleted
    assert_root(store)


def test_a_stack_stored_unlinked_is_linked_on_its_next_write(heat, store):
    """E.g. a store written before links existed: the next write of the stack links it."""
    ix = Indexer(store, heat)
    ix.reconcile()
    kid = store.get("kid")
    store.apply([Change("kid", kid.version + 1, dict(kid.doc, **links.root_fields(kid.doc)))])
    assert store.get("kid").doc["created_by"] is None
    heat.set_status("kid", "UPDATE_COMPLETE")
    ix.apply_events(_events(heat, "kid"))
    assert_linked(store)


def test_resolve_runs_inside_the_stores_transaction(heat, store):
    seen = []

    def prepare(changes):
        seen.append(store.in_transaction())
        return links.resolve(store, changes)

    Indexer(store, heat).reconcile()
    doc = store.get("kid").doc
    store.apply([Change("kid", store.get("kid").version + 5, doc)], prepare)
    assert seen == [True]


def test_never_across_projects(store):
    h = FakeHeat()
    _creator(h, project="alpha")
    _kid(h, project="beta")
    Indexer(store, h).reconcile()
    assert_root(store)
    assert store.get("kid").doc["project_id"] == "beta"


def test_a_loop_of_claims_ends(store):
    h = FakeHeat()
    h.add("a", "a", resources=[plain_resource("x", "OS::Heat::Stack", physical="b")])
    h.add("b", "a-x-bbbbbbbbbbbb", resources=[plain_resource("y", "OS::Heat::Stack", physical="a")])
    Indexer(store, h).reconcile()
    a, b = store.get("a").doc, store.get("b").doc
    assert not (a["created_by"] == "b" and b["created_by"] == "a")
    assert "a" not in a["ancestors"] and "b" not in b["ancestors"]


def test_creator_names():
    assert links.creator_names(KID) == ["top", "top-tier", MID]
    assert links.creator_names("plain") == [] and links.creator_names("a-bbbbbbbbbbbb") == []


def test_resolve_without_changes_and_with_a_lone_tombstone(store):
    assert links.resolve(store, []) == []
    assert links.resolve(store, [Change("nope", 1)]) == [Change("nope", 1)]


# -- what users see: under, roll-up, the tree, reverse lookup, isolation, reindex -----------------


@pytest.fixture
def indexed(heat, store, tmp_path, engine_maker):  # on every engine
    Indexer(store, heat).reconcile()
    engine = engine_maker(tmp_path / "engine")
    Projector(store, engine).run_once()
    return Searcher(engine), engine


def _ids(found) -> set[str]:
    return {h.id for h in found.hits}


def test_under_rollup_show_and_uses_see_through_the_link(indexed):
    searcher, _ = indexed
    image = t.Term("parameters.image", "cirros-0.6.2")
    assert _ids(searcher.search(image, view=ALPHA, subtree="top")) == {"kid", "kidn"}
    assert _ids(searcher.search(t.MatchAll(), view=ALPHA, subtree="mid")) == {"mid", "kid", "kidn"}
    rolled = searcher.search_roots(image, view=ALPHA)
    assert [r.root_id for r in rolled.roots] == ["top"]
    tree = searcher.stack_tree("top", view=ALPHA)
    assert tree is not None
    mid = tree["children"][0]
    assert mid["stack"]["id"] == "mid"
    kid = mid["children"][0]
    assert kid["stack"]["id"] == "kid" and kid["children"][0]["stack"]["id"] == "kidn"
    found = uses.find_uses(searcher, "cirros-0.6.2", view=ALPHA)
    assert {u.stack["id"]: u.stack["root_id"] for u in found.stacks} == {"kid": "top", "kidn": "top"}
    kid_use = next(u for u in found.stacks if u.stack["id"] == "kid")
    assert kid_use.stack["link"] == "OS::Heat::Stack" and kid_use.stack["created_by"] == "mid"
    # the links are searchable
    assert _ids(searcher.search(t.Term("link", "OS::Heat::Stack"), view=ALPHA)) == {"kid"}
    assert _ids(searcher.search(t.Term("created_by", "mid"), view=ALPHA)) == {"kid"}


def test_another_project_sees_nothing_through_the_link(indexed):
    searcher, _ = indexed
    assert searcher.search(t.MatchAll(), view=BETA, subtree="top").total == 0
    assert searcher.stack_tree("top", view=BETA) is None
    assert uses.find_uses(searcher, "cirros-0.6.2", view=BETA).stacks == []


def test_cross_project_child_stays_in_its_project(store, tmp_path, engine_maker):
    h = FakeHeat()
    _creator(h, project="alpha")
    _kid(h, project="beta")
    Indexer(store, h).reconcile()
    engine = engine_maker(tmp_path / "engine")
    Projector(store, engine).run_once()
    searcher = Searcher(engine)
    # alpha's tree does not reach beta's stack; beta's stack shows nothing of alpha
    assert _ids(searcher.search(t.MatchAll(), view=ALPHA, subtree="top")) == {"top", "mid"}
    assert searcher.search(t.MatchAll(), view=ALPHA, subtree="kid").total == 0
    kid = searcher.get("kid", view=BETA)
    assert kid is not None and kid["ancestors"] == [] and kid["path"] == [KID]
    assert links.tree(kid) == links.root_fields(kid)
    assert "'top'" not in repr(kid) and "'mid'" not in repr(kid)  # alpha's ids
    assert [u.stack["id"] for u in uses.find_uses(searcher, "cirros-0.6.2", view=ALPHA).stacks] == []


def test_reindex_keeps_the_links(indexed, store, tmp_path, engine_maker):
    _, engine = indexed
    fresh = engine_maker(tmp_path / "engine2")
    Projector(store, fresh).rebuild()
    searcher = Searcher(fresh)
    assert _ids(searcher.search(t.MatchAll(), view=ALPHA, subtree="top")) == {
        "top", "mid", "kid", "kidn"}


def test_child_first_is_reprojected(heat, store, tmp_path, engine_maker):
    ix = Indexer(store, heat)
    engine = engine_maker(tmp_path / "engine")
    projector = Projector(store, engine)
    ix.apply_events(_events(heat, "kid", "kidn"))
    projector.run_once()
    searcher = Searcher(engine)
    assert searcher.get("kid", view=ALPHA)["root_id"] == "kid"
    ix.apply_events(_events(heat, "top", "mid"))
    projector.run_once()
    assert searcher.get("kid", view=ALPHA)["root_id"] == "top"
    assert searcher.get("kidn", view=ALPHA)["ancestors"] == ["top", "mid", "kid"]
