"""Stack history against the real Heat sandbox: a stack created and updated three times, with a
provider-template child, as heatseeker's listener sees it — four revisions with the right semantic
diffs (one inside the nested stack), a change search that finds them, isolation by project, and a
tombstone that keeps the last revision."""

from __future__ import annotations

import contextlib
import json
import time

from .conftest import contents, unique, wait_for, wait_heat

PROJECT = "alpha"


def cli_json(hs, *args: str):
    return json.loads(hs.run(*args, "--json").stdout)


def paths(diff: dict) -> dict[str, tuple]:
    return {c["path"]: (c["kind"], c["old"], c["new"]) for c in diff["changes"]}


def settled_revisions(hs, sid: str, count: int, status: str):
    """Wait until heatseeker's store holds ``count`` revisions of the stack, the last with
    ``status`` (the listener wrote them from Heat's notifications)."""

    def check():
        revs = hs.store().revisions(sid)
        return revs if len(revs) == count and revs[-1].status == status else None

    return wait_for(check, 120, f"{count} revisions of {sid}, the last {status}")


def test_three_updates_four_revisions_with_semantic_diffs(heat, make_heatseeker):
    hc = heat(PROJECT)
    hs = make_heatseeker()
    hs.start_listener()
    name = unique("hist")
    tpl, files, env = contents("history_v1.yaml", "history_env.yaml")
    sid = hc.stacks.create(stack_name=name, template=tpl, files=files, environment=env,
                           tags="e2e,history")["stack"]["id"]
    child = None
    try:
        wait_heat(hc, sid, "CREATE_COMPLETE")
        settled_revisions(hs, sid, 1, "CREATE_COMPLETE")
        box = wait_for(lambda: next((r for r in (hs.store().get(sid).doc or {}).get("resources", [])
                                     if r["name"] == "box" and r.get("nested_stack_id")), None),
                       60, "the provider-template child")
        child = box["nested_stack_id"]
        settled_revisions(hs, child, 1, "CREATE_COMPLETE")

        # update 1: a parameter; it flows into the child's parameters and both stacks' outputs
        hc.stacks.update(sid, template=tpl, files=files, environment=env,
                         parameters={"image": "cirros-0.6.3"}, tags="e2e,history")
        wait_heat(hc, sid, "UPDATE_COMPLETE")
        settled_revisions(hs, sid, 2, "UPDATE_COMPLETE")
        settled_revisions(hs, child, 2, "UPDATE_COMPLETE")

        # update 2: the template gains a resource (the child does not change)
        tpl2, files2, env2 = contents("history_v2.yaml", "history_env.yaml")
        hc.stacks.update(sid, template=tpl2, files=files2, environment=env2, existing=True)
        wait_heat(hc, sid, "UPDATE_COMPLETE")
        settled_revisions(hs, sid, 3, "UPDATE_COMPLETE")

        # update 3: a property of the provider resource changes; inside the nested stack it is a
        # parameter, which its port's properties use
        tpl3, files3, env3 = contents("history_v3.yaml", "history_env.yaml")
        hc.stacks.update(sid, template=tpl3, files=files3, environment=env3, existing=True)
        wait_heat(hc, sid, "UPDATE_COMPLETE")
        revs = settled_revisions(hs, sid, 4, "UPDATE_COMPLETE")
        settled_revisions(hs, child, 3, "UPDATE_COMPLETE")

        # -- history: four revisions, who and which request -------------------------------------
        history = cli_json(hs, "history", sid)
        assert [(r["revision"], r["status"]) for r in history["revisions"]] == [
            (1, "CREATE_COMPLETE"), (2, "UPDATE_COMPLETE"), (3, "UPDATE_COMPLETE"),
            (4, "UPDATE_COMPLETE")]
        assert history["project_id"] == PROJECT and not history["deleted"]
        request_ids = [r["request_id"] for r in history["revisions"]]
        assert all(rid and rid.startswith("req-") for rid in request_ids), request_ids
        assert len(set(request_ids)) == 4, "one request per create/update"
        assert all(r["user_id"] or r["user_name"] for r in history["revisions"])
        assert [r.at_us for r in revs] == sorted(r.at_us for r in revs)

        # -- the semantic diffs ---------------------------------------------------------------
        d12 = paths(cli_json(hs, "diff", sid, "1", "2"))
        assert d12["parameters.image"] == ("changed", "cirros-0.6.2", "cirros-0.6.3")
        assert d12["outputs.image"] == ("changed", "cirros-0.6.2", "cirros-0.6.3")
        # a full update's parameters also land in the environment Heat keeps
        assert d12["environment.parameters.image"] == ("added", None, "cirros-0.6.3")
        assert set(d12) == {"parameters.image", "outputs.image", "environment.parameters.image"}

        d23 = paths(cli_json(hs, "diff", sid, "2", "3"))
        assert d23["resources.extra"][0] == "added"
        assert d23["resources.extra"][2]["type"] == "OS::Heat::None"
        assert not any(p.startswith("parameters.") for p in d23), d23

        d34 = paths(cli_json(hs, "diff", sid))  # default: the one before the latest → latest
        assert d34 == {"resources.box.properties.flavor": ("changed", "m1.small", "m1.large")}

        # inside the nested stack: the parameter passed down changed, in updates 1 and 3
        child_history = cli_json(hs, "history", child)
        assert [r["revision"] for r in child_history["revisions"]] == [1, 2, 3]
        c12 = paths(cli_json(hs, "diff", child, "1", "2"))
        assert c12["parameters.image"] == ("changed", "cirros-0.6.2", "cirros-0.6.3")
        assert c12["outputs.image"] == ("changed", "cirros-0.6.2", "cirros-0.6.3")
        c23 = paths(cli_json(hs, "diff", child, "2", "3"))
        # Heat passes a provider template's properties to the child as its parameters, and also
        # as its environment's parameters: both changed
        assert c23 == {"parameters.flavor": ("changed", "m1.small", "m1.large"),
                       "environment.parameters.flavor": ("changed", "m1.small", "m1.large")}

        # -- the change search -----------------------------------------------------------------
        found = cli_json(hs, "changes", "parameters.image", "--since", "1h")
        mine = [c for c in found["changes"] if c["stack_id"] in (sid, child)]
        assert {(c["stack_id"], c["revision"], c["old"], c["new"]) for c in mine} == {
            (sid, 2, "cirros-0.6.2", "cirros-0.6.3"), (child, 2, "cirros-0.6.2", "cirros-0.6.3")}
        flavor = cli_json(hs, "changes", "template.resources.box.properties.flavor",
                          "--since", "now-1h", "--project", PROJECT)
        assert [(c["stack_id"], c["revision"], c["new"]) for c in flavor["changes"]
                if c["stack_id"] == sid] == [(sid, 4, "m1.large")]
        elsewhere = cli_json(hs, "changes", "parameters.image", "--since", "1h",
                             "--project", "beta")
        assert not [c for c in elsewhere["changes"] if c["stack_id"] in (sid, child)]
        assert hs.run("history", sid, "--project", "beta", check=False).returncode == 4

        # the human-readable forms (the README shows them)
        for args in (("history", sid), ("diff", sid, "1", "2"), ("diff", sid, "2", "3"),
                     ("diff", sid), ("diff", child, "2", "3"),
                     ("changes", "parameters.image", "--since", "1h", "--project", PROJECT)):
            print(f"$ heatseeker {' '.join(args)}\n{hs.run(*args).stdout}")
    finally:
        with contextlib.suppress(Exception):
            hc.stacks.delete(sid)
        wait_heat(hc, sid, "DELETE_COMPLETE")

    # -- deleted: the tombstone keeps the last revision ----------------------------------------
    wait_for(lambda: (hs.store().get(sid) or None) and hs.store().get(sid).deleted, 90,
             "the tombstone")
    after = cli_json(hs, "history", sid)
    assert after["deleted"] and after["revisions"][-1]["revision"] == 4
    assert paths(cli_json(hs, "diff", sid)) == d34
    assert "Traceback" not in hs.listener_output()


def _update_and_see_it_complete(hc, sid: str, image: str, tpl, files, env) -> None:
    """What a user's script does: update, then poll Heat until UPDATE_COMPLETE (every 50 ms)."""
    hc.stacks.update(sid, template=tpl, files=files, environment=env,
                     parameters={"wait": 0, "image": image})
    wait_for(lambda: hc.stacks.get(sid, resolve_outputs=False).stack_status == "UPDATE_COMPLETE"
             and hc.stacks.get(sid, resolve_outputs=False).parameters.get("image") == image,
             60, f"the update to {image}", interval=0.05)


def test_back_to_back_updates_are_revisions_or_marked_gaps(heat, make_heatseeker):
    """#14: a script updates as soon as it sees UPDATE_COMPLETE (the next update ~0.2 s after
    the last ended), then twice more 2 s apart. Every update is its own revision, or a gap on
    the revision after it names the state that was never observed: never fewer revisions
    without a mark."""
    hc = heat(PROJECT)
    hs = make_heatseeker()
    hs.start_listener()
    tpl, files, env = contents("slow.yaml")
    sid = hc.stacks.create(stack_name=unique("b2b"), template=tpl, files=files, environment=env,
                           parameters={"wait": 0, "image": "b2b-0"})["stack"]["id"]
    try:
        wait_heat(hc, sid, "CREATE_COMPLETE")
        settled_revisions(hs, sid, 1, "CREATE_COMPLETE")
        back_to_back = [f"b2b-{i}" for i in range(1, 6)]
        for image in back_to_back:
            _update_and_see_it_complete(hc, sid, image, tpl, files, env)
        apart = ["b2b-6", "b2b-7"]
        for image in apart:
            time.sleep(2)
            _update_and_see_it_complete(hc, sid, image, tpl, files, env)
        updates = back_to_back + apart

        def settled():
            store = hs.store()
            ends = [n for n in store.noted(sid) if n.phase == "end"]
            last = store.revision(sid)
            return (len(ends) == 1 + len(updates) and last.status == "UPDATE_COMPLETE"
                    and last.doc["parameters"]["image"] == apart[-1])

        wait_for(settled, 120, "every notification handled, the last update recorded")
        revisions = hs.store().revisions(sid, with_docs=True)
        history = cli_json(hs, "history", sid)["revisions"]
        shown = [r.doc["parameters"]["image"] for r in revisions]
        gaps = [u for r in history if r["gap"] for u in r["gap"]["unobserved"]]
        trail = [(n.at_us, n.action, n.phase, n.observed_us) for n in hs.store().noted(sid)] + [
            (r.at_us, r.rev, r.status, r.doc["parameters"]["image"]) for r in revisions]
        print(f"{len(updates)} updates, {len(revisions) - 1} revisions after the create, "
              f"{len(gaps)} states marked not observed: {shown}")
        assert shown == sorted(shown, key=lambda img: int(img.split("-")[1]))  # in order
        # marks name finished actions: the updates, or the create when the first update's own
        # state was never seen either (the create's read, within CONTENT_BEFORE_START_US of that
        # update's start, may have shown either content: one of the two is marked by rule)
        assert all((u["action"], u["status"]) in {("UPDATE", "UPDATE_COMPLETE"),
                                                  ("CREATE", "CREATE_COMPLETE")} for u in gaps)
        # every update is a revision that shows it, or a mark that names its end: never fewer
        # revisions without a mark (a mark may also name an update whose read came so close to
        # the next update that it cannot tell which content it saw)
        ends = [n for n in hs.store().noted(sid) if n.phase == "end" and n.action == "UPDATE"]
        marked = {u["at_us"] for u in gaps}
        missing = [(image, end.at_us) for image, end in zip(updates, ends, strict=True)
                   if image not in shown and end.at_us not in marked]
        assert not missing, (shown, gaps, sorted(trail, key=lambda t: t[0]))
        # the last update, 2 s after the one before: its own revision (nothing came after it)
        last = next(r for r, rev in zip(history, revisions, strict=True)
                    if rev.doc["parameters"]["image"] == apart[-1])
        assert last["status"] == "UPDATE_COMPLETE"
        # the diff across the whole series says what it never saw after revision 1 (a mark on
        # revision 1, the create's, is before the series)
        diff = cli_json(hs, "diff", sid, "1")
        after_first = [u for r in history[1:] if r["gap"] for u in r["gap"]["unobserved"]]
        assert sum(len(g["unobserved"]) for g in diff["gaps"]) == len(after_first)
    finally:
        with contextlib.suppress(Exception):
            hc.stacks.delete(sid)
