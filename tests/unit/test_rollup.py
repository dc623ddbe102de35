from heatseeker.query.rollup import Match, RootHit, rollup
from heatseeker.query.tree import Hit


def doc(stack_id: str, root_id: str, path: list[str], **extra: object) -> dict:
    return {"id": stack_id, "root_id": root_id, "path": path, "depth": len(path) - 1, **extra}


def hit(source: dict, score: float) -> Hit:
    return Hit(id=source["id"], score=score, version=1, source=source)


# Root "web" (id r1) with a nested stack "db" and a ResourceGroup "servers" whose members are
# stacks at depth 2; root "ops" (id r2) matching itself.
WEB = doc("r1", "r1", ["web"], name="web")
DB = doc("n-db", "r1", ["web", "db"])
GROUP = doc("n-grp", "r1", ["web", "servers"])
MEMBER0 = doc("m0", "r1", ["web", "servers", "0"])
MEMBER1 = doc("m1", "r1", ["web", "servers", "1"])
OPS = doc("r2", "r2", ["ops"], name="ops")


def test_nested_members_roll_up_to_their_root() -> None:
    result = rollup([hit(MEMBER1, 2.0), hit(MEMBER0, 2.0), hit(DB, 1.0)], {"r1": WEB})
    assert result == [
        RootHit(
            root_id="r1",
            score=2.0,
            matches=[
                Match("m0", ["web", "servers", "0"], 2, 2.0),  # equal scores: by path
                Match("m1", ["web", "servers", "1"], 2, 2.0),
                Match("n-db", ["web", "db"], 1, 1.0),
            ],
            source=WEB,
            matched=3,
        )
    ]


def test_root_matching_itself_and_two_roots() -> None:
    result = rollup(
        [hit(OPS, 0.5), hit(GROUP, 1.5), hit(WEB, 3.0), hit(MEMBER0, 0.7)],
        {},
    )
    assert [r.root_id for r in result] == ["r1", "r2"]
    web, ops = result
    assert web.score == 3.0
    assert [m.id for m in web.matches] == ["r1", "n-grp", "m0"]
    assert web.matches[0] == Match("r1", ["web"], 0, 3.0)
    assert web.source == WEB  # the root was itself a hit
    assert ops == RootHit("r2", 0.5, [Match("r2", ["ops"], 0, 0.5)], OPS, 1)


def test_roots_with_equal_scores_are_ordered_by_id() -> None:
    other = doc("a-root", "a-root", ["alpha"])
    result = rollup([hit(OPS, 1.0), hit(other, 1.0)], {})
    assert [r.root_id for r in result] == ["a-root", "r2"]


def test_missing_root_still_appears_without_source() -> None:
    # the root belongs to another project (or is not indexed yet): the caller found no document
    result = rollup([hit(MEMBER0, 1.0)], {})
    assert result == [RootHit("r1", 1.0, [Match("m0", ["web", "servers", "0"], 2, 1.0)], None, 1)]


def test_given_root_documents_win_over_partial_hit_sources() -> None:
    partial = {"id": "r1", "root_id": "r1", "path": ["web"], "depth": 0}
    result = rollup([hit(partial, 1.0)], {"r1": WEB})
    assert result[0].source == WEB


def test_duplicate_ids_count_once_with_their_best_score() -> None:
    result = rollup([hit(DB, 1.0), hit(DB, 4.0)], {"r1": WEB})
    assert result[0].matches == [Match("n-db", ["web", "db"], 1, 4.0)]
    assert result[0].score == 4.0


def test_a_source_without_root_id_is_its_own_root() -> None:
    result = rollup([Hit(id="x", score=1.0, version=1, source={"id": "x", "path": ["x"]})], {})
    assert result == [RootHit("x", 1.0, [Match("x", ["x"], 0, 1.0)], {"id": "x", "path": ["x"]}, 1)]


def test_no_hits() -> None:
    assert rollup([], {"r1": WEB}) == []


def test_matches_sort_by_score_before_depth() -> None:
    result = rollup([hit(WEB, 0.1), hit(MEMBER1, 0.9), hit(DB, 0.5)], {})
    assert [m.id for m in result[0].matches] == ["m1", "n-db", "r1"]
    assert result[0].score == 0.9
