"""The web UI end to end, in a real headless browser (Debian's chromium driven by Python
Playwright): Heat (noauth sandbox) creates stacks in two Keystone projects, ``heatseeker listen``
indexes them, ``heatseeker serve`` answers behind keystonemiddleware, and the browser signs in
through the real Keystone, searches, clicks a facet, rolls up, opens a stack and its nested tree,
and signs out. A user of one project never sees the other project's stacks in any view.

Screenshots of every step go to ``artifacts/ui/`` (CI keeps the folder). The UI server runs on a
free port of its own, so this module can run beside test_api.py (which takes the catalog's port).

Needs: ``bash tools/sandbox/start.sh``, ``bash tools/keystone/ensure.sh`` and /usr/bin/chromium
(``bash tools/install.sh``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from heatseeker.record import Noted
from tools.keystone import keystonelab as kl
from tools.sandbox import heatlab

from .api_support import Api, ApiHeatseeker, heat_stacks, heat_subtree
from .conftest import ROOT, create, delete_stacks, remove_leftovers, unique, wait_for, wait_heat

# expect() waits 5 s by default, whatever the page's timeout: the pages' fetches go through a
# Keystone that validates every token one request at a time, shared with the other test stream
expect.set_options(timeout=20_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SHOTS = os.path.join(ROOT, "artifacts", "ui")
IMAGE = "cirros-0.6.2"
PREFIX = "e2eui"  # names of this module's stacks (leftovers of a killed run are removed)
QUERY = f"parameters.image:{IMAGE}"


@dataclass
class Lab:
    hs: ApiHeatseeker
    api: Api
    url: str
    alpha_root: str
    alpha_name: str
    alpha_tag: str
    alpha_tree: dict[str, list[str]]  # parent -> children, the root and every descendant
    alpha_names: dict[str, str]
    alpha_image: set[str]  # stacks of the tree whose parameter image is IMAGE
    alpha_app: str  # a second alpha stack, updated once: two revisions
    beta_root: str
    beta_name: str
    beta_tag: str
    beta_ids: set[str]
    beta_names: set[str]
    hidden: str
    # every page the browser rendered, with what the user typed there (allowed to show)
    pages: list[tuple[str, set[str]]] = field(default_factory=list)

    def beta_marks(self) -> set[str]:
        """What must never show for a user of alpha: beta's ids, names and tag."""
        return self.beta_ids | self.beta_names | {self.beta_tag}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _statuses(hc, root: str) -> dict[str, str]:
    stacks = heat_stacks(hc)
    return {sid: stacks[sid].stack_status for sid in heat_subtree(stacks, root)}


@pytest.fixture(scope="module")
def lab(heat, tmp_path_factory):
    if not kl.available():
        pytest.fail(f"the Keystone sandbox does not answer {kl.KEYSTONE_URL}: "
                    "bash tools/keystone/ensure.sh")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: bash tools/install.sh")
    os.makedirs(SHOTS, exist_ok=True)
    ids = kl.ids()
    hc_alpha, hc_beta = heat(ids["ALPHA_ID"]), heat(ids["BETA_ID"])
    remove_leftovers([hc_alpha, hc_beta], PREFIX)
    # token_cache_time = -1: a deleted user's token stops working at once (the expiry test)
    hs = ApiHeatseeker(str(tmp_path_factory.mktemp("ui")), f"http://127.0.0.1:{_free_port()}",
                       token_cache_time=-1)
    hidden = f"HIDDEN-{PREFIX}-{uuid.uuid4().hex[:8]}"
    alpha_tag, beta_tag = unique(f"{PREFIX}-a"), unique(f"{PREFIX}-b")
    created: list[tuple[Any, str]] = []
    try:
        hs.start_listener()
        hs.serve()
        # alpha: web.yaml, a provider template and a ResourceGroup (depth 3); beta: app.yaml
        alpha = heatlab.create(hc_alpha, unique(f"{PREFIX}-alpha"), "web.yaml", "env.yaml",
                               parameters={"image": IMAGE, "workers": 1, "db_password": hidden},
                               tags=[alpha_tag], wait=False)
        created.append((hc_alpha, alpha))
        beta = create(hc_beta, unique(f"{PREFIX}-beta"), "app.yaml", "env.yaml",
                      parameters={"image": IMAGE}, tags=beta_tag)
        created.append((hc_beta, beta))
        app = create(hc_alpha, unique(f"{PREFIX}-app"), "app.yaml", "env.yaml",
                     parameters={"image": IMAGE, "flavor": "m1.small"})
        created.append((hc_alpha, app))
        wait_heat(hc_alpha, alpha, "CREATE_COMPLETE", timeout=180)
        wait_heat(hc_beta, beta, "CREATE_COMPLETE", timeout=180)
        wait_heat(hc_alpha, app, "CREATE_COMPLETE", timeout=180)
        a_stacks, b_stacks = heat_stacks(hc_alpha), heat_stacks(hc_beta)
        a_tree, b_tree = heat_subtree(a_stacks, alpha), heat_subtree(b_stacks, beta)
        a_image = {sid for sid in a_tree
                   if hc_alpha.stacks.get(sid, resolve_outputs=False).parameters.get("image")
                   == IMAGE}
        api = Api(hs.url)
        admin = kl.token(*kl.USERS["admin"])
        body = {"query": {"terms": {"root_id": [alpha, beta, app]}}, "all_projects": True,
                "limit": 100, "_source": ["id", "status"]}

        def wait_indexed() -> None:
            want = {**_statuses(hc_alpha, alpha), **_statuses(hc_beta, beta),
                    **_statuses(hc_alpha, app)}

            def indexed() -> bool:
                hits = api.hits(admin, body)
                return {h["_id"]: h["_source"]["status"] for h in hits} == want

            try:
                wait_for(indexed, 180, "the listener to index the trees as Heat shows them")
            except pytest.fail.Exception:
                pytest.fail(f"not indexed; listener:\n{hs.listener_output()}")

        wait_indexed()
        # the second revision of app: another flavor
        hc_alpha.stacks.update(app, existing=True, parameters={"flavor": "m1.large"})
        wait_heat(hc_alpha, app, "UPDATE_COMPLETE", timeout=180)
        wait_indexed()
        yield Lab(hs, api, hs.url, alpha, a_stacks[alpha].stack_name, alpha_tag, a_tree,
                  {sid: a_stacks[sid].stack_name for sid in a_tree}, a_image, app, beta,
                  b_stacks[beta].stack_name, beta_tag, set(b_tree),
                  {b_stacks[sid].stack_name for sid in b_tree}, hidden)
    finally:
        try:
            delete_stacks(created)
        finally:
            hs.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Session:
    """One browser context (its own cookies) with the checks every page gets: no request leaves
    the UI's server, no script error, every rendered page kept for the isolation check."""

    def __init__(self, browser, lab: Lab, width: int = 1280, height: int = 900):
        self.lab = lab
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str, full_page: bool = True, typed: set[str] | None = None) -> None:
        self.page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=full_page)
        self.keep(typed)

    def keep(self, typed: set[str] | None = None) -> None:
        self.lab.pages.append((self.page.content(), typed or set()))

    def nav(self, action) -> None:
        """Do something that loads another page, and wait for it."""
        with self.page.expect_navigation():
            action()

    def results(self) -> None:
        """Wait for the search page to finish: results, 'no match' or an error."""
        self.page.wait_for_selector(".result-list, .empty, .results .error")
        self.page.wait_for_selector(".facets, .side .error")

    def sign_in(self, user: str, password: str, project: str, domain: str = "Default",
                shot: str | None = None) -> None:
        page = self.page
        page.goto(self.lab.url + "/ui/")
        expect(page).to_have_url(re.compile(r"/ui/login\?next="))
        # keyboard only: labels lead to the fields, Enter submits
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Project").fill(project)
        page.get_by_label("Domain").fill(domain)
        if shot:
            self.shot(shot)
        self.nav(lambda: page.get_by_label("Domain").press("Enter"))

    def close(self) -> None:
        outside = [u for u in self.requests if not u.startswith(self.lab.url + "/")]
        assert outside == [], f"requests that left heatseeker: {outside}"
        assert self.errors == [], f"script errors: {self.errors}"
        self.context.close()


@pytest.fixture
def alice(browser, lab) -> Iterator[Session]:
    s = Session(browser, lab)
    yield s
    s.close()


def _query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_search_facets_rollup_stack_page_and_sign_out(alice: Session, lab: Lab):
    page = alice.page
    alice.sign_in("alice", "alicepw", "alpha", shot="01-sign-in")
    started = time.monotonic()
    page.wait_for_selector("#q")
    alice.results()
    first_paint = time.monotonic() - started
    expect(page.locator("header .who")).to_contain_text("alice · alpha")
    # the token is the server's: the browser holds only the session cookie, HttpOnly, Strict
    (cookie,) = [c for c in alice.context.cookies() if c["name"] == "heatseeker_ui"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    storage = page.evaluate("JSON.stringify([Object.entries(localStorage), "
                            "Object.entries(sessionStorage)])")
    assert storage == "[[],[]]"
    alice.shot("02-signed-in")

    # field-name completion: "parameters.im" is not a field, "stat" offers status, ↓ + Enter
    box = page.get_by_role("combobox", name="Search stacks")
    box.click()
    box.press_sequentially("stat")
    expect(page.locator("#q-complete")).to_be_visible()
    expect(page.locator("#q-complete li").first).to_have_text("status")
    alice.shot("03-completion", full_page=False)
    box.press("ArrowDown")
    box.press("Enter")
    assert box.input_value() == "status:"
    # a bad query: the API's message, shown as it is
    box.fill("nosuchfield:x")
    alice.nav(lambda: box.press("Enter"))
    expect(page.locator(".results .error")).to_contain_text("unknown field 'nosuchfield'")
    alice.shot("04-query-error")

    # the search; the query lands in the URL
    box = page.get_by_role("combobox", name="Search stacks")
    box.fill(QUERY)
    alice.nav(lambda: box.press("Enter"))
    alice.results()
    assert _query_of(page.url)["q"] == [QUERY]
    shown = set(page.locator(".result").evaluate_all("els => els.map(e => e.dataset.id)"))
    assert lab.alpha_image <= shown
    assert not shown & lab.beta_ids
    # the nested path and the highlights of a nested stack
    deepest = max(lab.alpha_image, key=lambda sid: len(_ancestry(lab, sid)))
    row = page.locator(f'.result[data-id="{deepest}"]')
    expect(row.locator(".nested .path")).to_contain_text(lab.alpha_name)
    expect(row.locator(".highlights mark").first).to_have_text(IMAGE)
    expect(row.locator(".status")).to_have_text(re.compile("CREATE_COMPLETE"))
    alice.shot("05-results")

    # a facet (by keyboard): this run's tag; only the alpha root carries it
    facet = page.locator(f'a.facet[data-facet="tags"][data-value="{lab.alpha_tag}"]')
    facet.focus()
    outline = facet.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "focus must be visible"
    alice.nav(lambda: facet.press("Enter"))
    alice.results()
    assert _query_of(page.url)["f"] == [f"tags:{lab.alpha_tag}"]
    chip = page.locator(f'.active-filters a.chip[data-filter="tags:{lab.alpha_tag}"]')
    expect(chip).to_be_visible()
    ids = page.locator(".result").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids == [lab.alpha_root]
    alice.shot("06-facet")
    # the region: a facet of its own, and a line of each result (the sandbox's Heat has no
    # [heat] region_name: Keystone's default region)
    expect(page.locator('a.facet[data-facet="region"][data-value="RegionOne"]')).to_be_visible()
    expect(page.locator(".result .region code").first).to_have_text("RegionOne")
    alice.nav(chip.click)
    alice.results()
    assert "f" not in _query_of(page.url)
    expect(page.locator(".active-filters")).to_have_count(0)

    # roll-up: the root, with its nested tree down to every matching stack
    alice.nav(page.get_by_label("Roll up to root stacks").check)
    alice.results()
    assert _query_of(page.url)["rollup"] == ["1"]
    root = page.locator(f'.result.rollup[data-id="{lab.alpha_root}"]')
    expect(root).to_be_visible()
    linked = set(root.locator(".tree a").evaluate_all(
        "els => els.map(a => decodeURIComponent(a.pathname.split('/').pop()))"))
    assert linked == lab.alpha_image - {lab.alpha_root}
    ids = page.locator(".result").evaluate_all("els => els.map(e => e.dataset.id)")
    assert lab.beta_root not in ids
    alice.shot("07-rollup")

    # the stack page: summary, masked parameter, outputs, resources, template, nested tree
    alice.nav(root.locator("a.name").click)
    page.wait_for_selector("h1.stack-name")
    expect(page.locator("h1.stack-name")).to_contain_text(lab.alpha_name)
    expect(page.locator("dl.summary")).to_contain_text("RegionOne")
    params = page.locator("#parameters table")
    expect(params).to_contain_text("db_password")
    expect(params.locator(".masked")).to_contain_text("******")
    expect(page.locator("#outputs table")).to_contain_text("app_config")
    expect(page.locator("#resources table")).to_contain_text("OS::Heat::ResourceGroup")
    template = page.locator("#template pre.code")
    expect(template.locator(".y-key", has_text="heat_template_version")).to_have_count(1)
    expect(template).to_contain_text("type: OS::Heat::ResourceGroup")
    expect(page.locator("#environment pre.code")).to_contain_text("resource_registry:")
    expect(page.locator("#revisions")).to_be_visible()
    tree_links = set(page.locator("#tree a").evaluate_all(
        "els => els.map(a => decodeURIComponent(a.pathname.split('/').pop()))"))
    assert tree_links == set(lab.alpha_tree) - {lab.alpha_root}
    alice.shot("08-stack")

    # a nested stack from the tree: its path leads back to the root
    alice.nav(page.locator(f'#tree a[href$="/{deepest}"]').click)
    page.wait_for_selector("h1.stack-name")
    expect(page.locator("h1.stack-name")).to_contain_text(lab.alpha_names[deepest])
    expect(page.locator("p.nested .path a").first).to_have_text(lab.alpha_name)
    alice.shot("09-nested-stack")

    # narrow screen: no sideways scrolling
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{lab.url}/ui/?{urlencode({'q': QUERY})}")
    alice.results()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    alice.shot("10-narrow", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    # sign out: back to the form, and the old cookie opens nothing
    alice.nav(page.get_by_role("button", name="Sign out").click)
    expect(page).to_have_url(re.compile(r"/ui/login\?reason=signed-out"))
    expect(page.locator(".notice")).to_contain_text("signed out")
    alice.shot("11-signed-out")
    page.goto(lab.url + "/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    with open(os.path.join(SHOTS, "timings.json"), "w") as f:
        json.dump({"first_result_paint_after_sign_in_s": round(first_paint, 3)}, f)


def _ancestry(lab: Lab, sid: str) -> list[str]:
    parents = {c: p for p, cs in lab.alpha_tree.items() for c in cs}
    out = [sid]
    while out[-1] in parents:
        out.append(parents[out[-1]])
    return out


def test_a_user_never_sees_another_projects_stacks(alice: Session, lab: Lab):
    page = alice.page
    alice.sign_in("alice", "alicepw", "alpha")
    alice.results()
    # every stack alice can see (empty query), flat and rolled up, and beta's own name and tag
    for params in ({}, {"rollup": "1"}, {"q": QUERY, "rollup": "1"}, {"q": QUERY}):
        page.goto(f"{lab.url}/ui/?{urlencode(params)}")
        alice.results()
        alice.keep()
        facets = page.locator(".facets").text_content()
        assert lab.beta_tag not in facets
        assert lab.alpha_tag in facets
    # beta's name and tag, typed in: nothing
    for q in (f'name:"{lab.beta_name}"', f"tags:{lab.beta_tag}"):
        page.goto(f"{lab.url}/ui/?{urlencode({'q': q})}")
        alice.results()
        expect(page.locator(".empty")).to_have_text("No stack matches.")
        alice.keep(typed={lab.beta_name, lab.beta_tag})
    alice.shot("12-isolation-search", typed={lab.beta_tag})
    # beta's stacks by direct URL: not found, not forbidden (they do not exist for alice)
    for sid in sorted(lab.beta_ids):
        page.goto(f"{lab.url}/ui/stacks/{sid}")
        expect(page.locator("#app .error")).to_contain_text("No such stack")
        alice.keep(typed={sid})
    alice.shot("13-isolation-stack-page", typed=set(lab.beta_ids))
    # all projects is for cloud admins: no switch, and ?all=1 is ignored
    page.goto(f"{lab.url}/ui/?{urlencode({'all': '1', 'q': f'tags:{lab.beta_tag}'})}")
    alice.results()
    expect(page.locator("#all")).to_have_count(0)
    expect(page.locator(".empty")).to_be_visible()
    alice.keep(typed={lab.beta_tag})
    # her own tree opens, and shows nothing of beta
    page.goto(f"{lab.url}/ui/stacks/{lab.alpha_root}")
    page.wait_for_selector("#tree")
    alice.keep()
    marks = lab.beta_marks()
    assert len(lab.pages) >= 10
    for html, typed in lab.pages:
        leaked = [m for m in marks - typed if m in html]
        assert leaked == [], f"beta's {leaked} shown to alice"
        assert lab.hidden not in html


def test_bob_sees_beta_only_and_the_admin_sees_both(browser, lab: Lab):
    bob = Session(browser, lab)
    try:
        bob.sign_in("bob", "bobpw", "beta")
        bob.results()
        ids = set(bob.page.locator(".result").evaluate_all("els => els.map(e => e.dataset.id)"))
        assert lab.beta_root in ids and not ids & set(lab.alpha_tree)
        bob.page.goto(f"{lab.url}/ui/stacks/{lab.alpha_root}")
        expect(bob.page.locator("#app .error")).to_contain_text("No such stack")
        bob.shot("14-bob")
    finally:
        bob.close()
    admin = Session(browser, lab)
    try:
        admin.sign_in("admin", kl.USERS["admin"][1], "admin")
        admin.results()
        admin.nav(admin.page.get_by_label("All projects (cloud admin)").check)
        admin.results()
        q = f"tags:({lab.alpha_tag} OR {lab.beta_tag})"
        admin.page.goto(f"{lab.url}/ui/?{urlencode({'all': '1', 'q': q})}")
        admin.results()
        rows = admin.page.locator(".result")
        ids = set(rows.evaluate_all("els => els.map(e => e.dataset.id)"))
        assert ids == {lab.alpha_root, lab.beta_root}
        expect(rows.locator(".project").first).to_be_visible()  # the admin view names projects
        admin.shot("15-admin-all-projects")
        # another project's stack opens from there (the link keeps the all-projects view)
        admin.nav(admin.page.locator(f'.result[data-id="{lab.beta_root}"] a.name').click)
        expect(admin.page.locator("h1.stack-name")).to_contain_text(lab.beta_name)
        expect(admin.page.locator("#summary")).to_contain_text(kl.ids()["BETA_ID"])
    finally:
        admin.close()


def test_wrong_password_and_an_ended_token(browser, lab: Lab):
    """A refused sign-in says so; a token that stops working (its user deleted in Keystone)
    sends the page back to the sign-in form."""
    s = Session(browser, lab)
    admin = kl.token(*kl.USERS["admin"])
    name, password = f"{PREFIX}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    user_id = None
    try:
        s.sign_in("alice", "wrong", "alpha")
        expect(s.page.locator("#login-error")).to_contain_text("refused")
        s.shot("16-wrong-password")

        status, _, doc = kl._request("POST", "/users", {"user": {
            "name": name, "password": password, "domain_id": "default"}},
            headers={"X-Auth-Token": admin})
        assert status == 201, doc
        user_id = doc["user"]["id"]
        status, _, doc = kl._request("GET", "/roles?name=member", headers={"X-Auth-Token": admin})
        role = doc["roles"][0]["id"]
        status, _, _ = kl._request(
            "PUT", f"/projects/{kl.ids()['ALPHA_ID']}/users/{user_id}/roles/{role}",
            headers={"X-Auth-Token": admin})
        assert status in (200, 204)
        s.sign_in(name, password, "alpha")
        s.results()
        expect(s.page.locator(".result").first).to_be_visible()
        status, _, _ = kl._request("DELETE", f"/users/{user_id}",
                                   headers={"X-Auth-Token": admin})
        assert status == 204
        user_id = None
        s.page.goto(f"{lab.url}/ui/?{urlencode({'q': QUERY})}")
        expect(s.page).to_have_url(re.compile(r"/ui/login\?reason=expired&next="))
        expect(s.page.locator(".notice")).to_contain_text("session has ended")
        s.shot("17-token-ended")
    finally:
        if user_id:
            kl._request("DELETE", f"/users/{user_id}", headers={"X-Auth-Token": admin})
        s.close()


def test_revisions_and_a_diff(alice: Session, lab: Lab):
    page = alice.page
    alice.sign_in("alice", "alicepw", "alpha")
    alice.results()
    page.goto(f"{lab.url}/ui/stacks/{lab.alpha_app}")
    rows = page.locator("#revisions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("UPDATE_COMPLETE")
    expect(rows.first).to_contain_text("parameters.flavor")
    page.locator('#revisions button[data-diff="1..2"]').click()
    diff = page.locator("#revisions .diff")
    expect(diff).to_contain_text("Revision 1")
    row = diff.locator("tbody tr").filter(has=page.get_by_text("parameters.flavor", exact=True))
    expect(row).to_contain_text("m1.small")
    expect(row).to_contain_text("m1.large")
    expect(row.locator(".kind")).to_have_text("changed")
    assert _query_of(page.url)["from"] == ["1"] and _query_of(page.url)["to"] == ["2"]
    alice.shot("18-revisions-diff")
    # a state no read observed (an update that ended as the next one began: its end noted, and
    # no read of it; the listener's test_history makes real ones) is marked on the revision
    # after it, and in the diff across it
    store = lab.hs.store()
    second = store.revision(lab.alpha_app, 2)
    store.apply([], noted=[Noted(lab.alpha_app, second.at_us - 1, "UPDATE", "end",
                                 "UPDATE_COMPLETE", "req-unobserved")])
    page.reload()
    mark = page.locator("#revisions tbody tr").first.locator(".gap")
    expect(mark).to_have_text("gap: 1 state not observed")
    expect(mark).to_have_attribute("title", re.compile(r"UPDATE_COMPLETE at .*\(req-unobserved\)"))
    expect(page.locator("#revisions .diff .gap-note")).to_contain_text("Not observed: UPDATE_COMPLETE")
    alice.shot("19-revisions-gap")
    # the diff is in the URL: a reload shows it again
    page.reload()
    expect(page.locator("#revisions .diff tbody tr").filter(
        has=page.get_by_text("parameters.flavor", exact=True))).to_contain_text("m1.large")


def test_keystone_sign_in_scopes_the_token_and_sign_out_revokes_it():
    """The server side of signing in, against the real Keystone: a project-scoped token (the
    admin hint only for a cloud admin), a clear refusal, and a revoked token after sign-out."""
    from heatseeker.ui.server import KeystoneLogin, LoginFailed

    if not kl.available():
        pytest.fail(f"the Keystone sandbox does not answer {kl.KEYSTONE_URL}")
    login = KeystoneLogin(kl.KEYSTONE_URL)
    alice = login("alice", "alicepw", "alpha", "Default")
    assert alice.project_id == kl.ids()["ALPHA_ID"] and not alice.admin
    assert alice.expires and alice.expires > time.time()
    assert kl.token_info(alice.token)["project"]["id"] == alice.project_id
    assert login(*kl.USERS["admin"], "Default").admin
    with pytest.raises(LoginFailed, match="refused"):
        login("alice", "alicepw", "beta", "Default")  # not her project
    login.revoke(alice.token)
    with pytest.raises(kl.KeystoneLabError, match="404"):
        kl.token_info(alice.token)
