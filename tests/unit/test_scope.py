from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.query import tree as t
from heatseeker.query.scope import scope

FIELDS = ("status", "name", "project_id", "parameters.image", "updated_at", "depth", "tags")

values = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 5),
    st.booleans(),
    st.just(datetime(2026, 11, 25, tzinfo=UTC)),
)
field_names = st.sampled_from(FIELDS)
leaves = st.one_of(
    st.builds(t.MatchAll),
    st.builds(t.MatchNone),
    st.builds(t.Term, field_names, values),
    st.builds(t.Terms, field_names, st.lists(values, max_size=3).map(tuple)),
    st.builds(t.Prefix, field_names, st.text(max_size=5)),
    st.builds(t.Wildcard, field_names, st.text(max_size=5)),
    st.builds(t.Range, field_names, values, values, values, values),
    st.builds(t.Exists, field_names),
    st.builds(t.Text, st.one_of(st.none(), field_names), st.text(max_size=8)),
    st.builds(t.Phrase, st.one_of(st.none(), field_names), st.text(max_size=8)),
    st.builds(t.Ids, st.lists(st.text(max_size=5), max_size=3).map(tuple)),
)


def _bools(children: st.SearchStrategy) -> st.SearchStrategy:
    group = st.lists(children, max_size=3).map(tuple)
    return st.builds(t.Bool, group, group, group, group, st.one_of(st.none(), st.integers(0, 3)))


trees = st.recursive(leaves, _bools, max_leaves=8)
projects = st.frozensets(st.text(min_size=1, max_size=12), min_size=1, max_size=5)


def test_none_means_every_project() -> None:
    tree = t.Term("status", "CREATE_COMPLETE")
    assert scope(tree, None) is tree


def test_empty_set_matches_nothing() -> None:
    assert scope(t.MatchAll(), frozenset()) == t.MatchNone()


def test_projects_filter_wraps_the_tree() -> None:
    tree = t.Term("status", "CREATE_COMPLETE")
    assert scope(tree, frozenset({"p2", "p1"})) == t.Bool(
        must=(tree,), filter=(t.Terms("project_id", ("p1", "p2")),)
    )


def test_a_tree_asking_for_another_project_stays_filtered() -> None:
    sneaky = t.Bool(should=(t.Term("project_id", "other"), t.MatchAll()), minimum_should_match=0)
    scoped = scope(sneaky, frozenset({"mine"}))
    assert scoped == t.Bool(must=(sneaky,), filter=(t.Terms("project_id", ("mine",)),))


def test_a_string_is_refused() -> None:
    with pytest.raises(TypeError):
        scope(t.MatchAll(), "p1")  # type: ignore[arg-type]


@given(trees, projects)
def test_no_tree_escapes_the_project_filter(tree: t.Node, allowed: frozenset[str]) -> None:
    scoped = scope(tree, allowed)
    # the top node: the user's tree whole under must, the project filter beside it, nothing else
    assert isinstance(scoped, t.Bool)
    assert scoped.must == (tree,)
    assert scoped.filter == (t.Terms("project_id", tuple(sorted(allowed))),)
    assert scoped.should == ()
    assert scoped.must_not == ()
    assert scoped.minimum_should_match is None


@settings(max_examples=30)
@given(trees)
def test_no_project_means_nothing(tree: t.Node) -> None:
    assert scope(tree, frozenset()) == t.MatchNone()
