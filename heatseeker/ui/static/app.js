// heatseeker web UI: the search page (/ui/) and the stack page (/ui/stacks/ID).
// Plain JavaScript, no build step, nothing from elsewhere. Every call goes to /ui/api/v1/...,
// which the server proxies to the public API with the session's token (see ui/server.py):
// this script never sees a token. Everything shown is built with textContent (no innerHTML of
// data), so a stack's name or template cannot inject markup.
"use strict";

(function () {
  const UI = "/ui";
  const PAGE_SIZE = 25;
  const MARK_PRE = "\uE000"; // highlight markers, turned into <mark> elements
  const MARK_POST = "\uE001";
  const LIST_FIELDS = ["id", "name", "status", "project_id", "region", "updated_at", "created_at", "path",
    "depth", "root_id", "parent_id", "ancestors", "status_reason"];
  const HIGHLIGHT_SKIP = ["path", "ancestors", "root_id", "parent_id", "fingerprint"];
  const DYNAMIC = ["parameters.", "outputs.", "resources.", "template.", "environment."];

  const body = document.body;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const canAdmin = body.dataset.admin === "true";

  // -- tiny DOM helper ------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // -- the API, through the proxy -------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function signIn() {
    const next = location.pathname + location.search;
    location.assign(UI + "/login?reason=expired&next=" + encodeURIComponent(next));
  }

  async function api(path, payload) {
    const opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (payload !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(payload);
    }
    let resp;
    try {
      resp = await fetch(UI + "/api" + path, opts);
    } catch (e) {
      throw new ApiError(0, "The server did not answer (" + e.message + ").");
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401) {
      signIn();
      throw new ApiError(401, "Your session has ended: signing in again…");
    }
    if (!resp.ok) {
      const msg = data && data.error && data.error.message ? data.error.message
        : "The API answered " + resp.status + ".";
      throw new ApiError(resp.status, msg);
    }
    return data;
  }

  // -- the URL is the state -------------------------------------------------------------------
  function readState() {
    const p = new URLSearchParams(location.search);
    return {
      q: p.get("q") || "",
      filters: p.getAll("f").filter((f) => f.indexOf(":") > 0),
      rollup: p.get("rollup") === "1",
      all: canAdmin && p.get("all") === "1",
      sort: p.get("sort") || "",
      page: Math.max(1, parseInt(p.get("page") || "1", 10) || 1),
    };
  }

  function searchUrl(state, changes) {
    const s = Object.assign({}, state, changes || {});
    const p = new URLSearchParams();
    if (s.q) p.set("q", s.q);
    for (const f of s.filters) p.append("f", f);
    if (s.rollup) p.set("rollup", "1");
    if (s.all) p.set("all", "1");
    if (s.sort) p.set("sort", s.sort);
    if (s.page > 1) p.set("page", String(s.page));
    const qs = p.toString();
    return UI + "/" + (qs ? "?" + qs : "");
  }

  function stackUrl(id, state) {
    return UI + "/stacks/" + encodeURIComponent(id) + (state && state.all ? "?all=1" : "");
  }

  function splitFilter(f) {
    const i = f.indexOf(":");
    return [f.slice(0, i), f.slice(i + 1)];
  }

  function buildQuery(state) {
    const must = state.q.trim() ? [{ query_string: { query: state.q } }] : [{ match_all: {} }];
    const filter = state.filters.map((f) => {
      const [field, value] = splitFilter(f);
      return { term: { [field]: value } };
    });
    return filter.length ? { bool: { must, filter } } : must[0];
  }

  // -- small renderers ------------------------------------------------------------------------
  function statusClass(status) {
    const s = String(status || "");
    if (s.endsWith("_FAILED")) return "st-failed";
    if (s.endsWith("_IN_PROGRESS")) return "st-progress";
    if (s.startsWith("DELETE_")) return "st-deleted";
    if (s.endsWith("_COMPLETE")) return "st-complete";
    return "st-other";
  }

  function statusBadge(status) {
    const s = status || "UNKNOWN";
    const icon = { "st-failed": "✕", "st-progress": "◔", "st-complete": "✓", "st-deleted": "–",
      "st-other": "•" }[statusClass(s)];
    return h("span", { class: "status " + statusClass(s) },
      h("span", { class: "icon", "aria-hidden": "true", text: icon }), " " + s);
  }

  function timeEl(iso) {
    if (!iso) return h("span", { class: "muted", text: "—" });
    const d = new Date(iso);
    if (isNaN(d)) return h("span", { text: iso });
    const text = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
    return h("time", { datetime: iso, title: iso, text });
  }

  function marked(text) {
    // a highlight fragment: text with MARK_PRE/MARK_POST around the matches
    const out = [];
    const parts = String(text).split(MARK_PRE);
    out.push(parts[0]);
    for (const part of parts.slice(1)) {
      const [hit, ...rest] = part.split(MARK_POST);
      out.push(h("mark", { text: hit }), rest.join(MARK_POST));
    }
    return out;
  }

  function pathEl(names, ids, state) {
    // the nested path root › … › stack, ancestors linked
    const items = [];
    names.forEach((name, i) => {
      if (i) items.push(h("span", { class: "sep", "aria-hidden": "true", text: " › " }));
      const id = ids[i];
      items.push(id ? h("a", { href: stackUrl(id, state), text: name || "(unnamed)" })
        : h("span", { text: name || "(unnamed)" }));
    });
    return h("span", { class: "path" }, items);
  }

  function errorBox(message) {
    return h("div", { class: "error", role: "alert" }, h("strong", { text: "Error: " }), message);
  }

  // -- YAML, serialised and highlighted at once -----------------------------------------------
  const PLAIN = /^[A-Za-z0-9_./@(){}$-][A-Za-z0-9_ ./@(){}$:,=+-]*$/;
  const AMBIGUOUS = /^(true|false|yes|no|on|off|null|~|y|n|[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?|0x[0-9a-fA-F]+|[-+]?\.inf|\.nan)$/i;

  function scalar(value) {
    if (value === null || value === undefined) return h("span", { class: "y-null", text: "null" });
    if (typeof value === "boolean") return h("span", { class: "y-bool", text: String(value) });
    if (typeof value === "number") return h("span", { class: "y-num", text: String(value) });
    const s = String(value);
    const plain = s !== "" && PLAIN.test(s) && !AMBIGUOUS.test(s) && !/: |\s$|^\s| #/.test(s)
      && !s.endsWith(":");
    return h("span", { class: "y-str", text: plain ? s : JSON.stringify(s) });
  }

  function keyText(k) {
    return PLAIN.test(k) && !AMBIGUOUS.test(k) && !k.includes(": ") && !k.endsWith(":")
      ? k : JSON.stringify(k);
  }

  function yaml(value, out, indent) {
    // appends lines for `value` (a mapping or a sequence) at `indent` to `out`
    const pad = " ".repeat(indent);
    const isObj = (v) => v && typeof v === "object";
    const empty = (v) => (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0);
    const block = (s) => typeof s === "string" && s.includes("\n");
    const literal = (s, ind) => {
      const lines = s.replace(/\n$/, "").split("\n");
      return lines.map((l) => "\n" + " ".repeat(ind) + l).join("");
    };
    const entries = Array.isArray(value) ? value.map((v) => [null, v]) : Object.entries(value);
    for (const [k, v] of entries) {
      out.push(pad);
      if (k === null) out.push(h("span", { class: "y-punct", text: "- " }));
      else out.push(h("span", { class: "y-key", text: keyText(k) }), h("span", { class: "y-punct", text: ":" }));
      if (isObj(v) && !empty(v)) {
        if (k === null && !Array.isArray(v)) {
          // "- key: value" on the dash line, the rest aligned below
          const inner = [];
          yaml(v, inner, indent + 2);
          // drop the first line's padding (it goes after "- ")
          inner[0] = typeof inner[0] === "string" ? inner[0].replace(/^ +/, "") : inner[0];
          out.push(...inner);
          continue;
        }
        out.push("\n");
        yaml(v, out, indent + 2);
        continue;
      }
      if (k !== null) out.push(" ");
      if (isObj(v)) out.push(h("span", { class: "y-punct", text: Array.isArray(v) ? "[]" : "{}" }));
      else if (block(v)) out.push(h("span", { class: "y-punct", text: "|" }),
        h("span", { class: "y-str", text: literal(v, indent + 2) }));
      else out.push(scalar(v));
      out.push("\n");
    }
    return out;
  }

  function yamlBlock(value, label) {
    const code = h("code", { class: "yaml" });
    if (value && typeof value === "object" && Object.keys(value).length) code.append(...yaml(value, [], 0));
    else code.append(h("span", { class: "muted", text: "(empty)" }));
    return h("pre", { class: "code", tabindex: "0", "aria-label": label }, code);
  }

  // -- the search page ------------------------------------------------------------------------
  function completer(input, list, getFields) {
    // field-name completion for the word at the cursor (ARIA combobox + listbox)
    let active = -1;
    let items = [];
    const close = () => {
      list.hidden = true; list.textContent = ""; active = -1; items = [];
      input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant");
    };
    const word = () => {
      const upto = input.value.slice(0, input.selectionStart);
      const m = /[A-Za-z_][\w.]*$/.exec(upto);
      if (!m) return null;
      const before = upto.slice(0, m.index);
      if (/[:"\\]$/.test(before) || (before.split('"').length - 1) % 2) return null; // a value
      return { start: m.index, text: m[0] };
    };
    const accept = (i) => {
      const w = word();
      if (!w || !items[i]) return;
      const value = items[i];
      const rest = input.value.slice(input.selectionStart);
      const insert = value.endsWith(".") ? value : value + ":";
      input.value = input.value.slice(0, w.start) + insert + rest;
      const pos = w.start + insert.length;
      input.setSelectionRange(pos, pos);
      close();
      if (value.endsWith(".")) update();
    };
    const show = () => {
      list.textContent = "";
      items.forEach((f, i) => {
        const li = h("li", { id: "complete-" + i, role: "option", "aria-selected": i === active ? "true" : "false",
          class: i === active ? "active" : "", text: f });
        li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(i); });
        list.append(li);
      });
      list.hidden = !items.length;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      if (active >= 0) input.setAttribute("aria-activedescendant", "complete-" + active);
      else input.removeAttribute("aria-activedescendant");
    };
    const update = () => {
      const w = word();
      if (!w) return close();
      const t = w.text.toLowerCase();
      items = getFields().filter((f) => f.toLowerCase().startsWith(t) && f.toLowerCase() !== t).slice(0, 12);
      active = -1;
      show();
    };
    input.addEventListener("input", update);
    input.addEventListener("blur", () => setTimeout(close, 100));
    input.addEventListener("keydown", (e) => {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { active = (active + 1) % items.length; show(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active - 1 + items.length) % items.length; show(); e.preventDefault(); }
      else if ((e.key === "Enter" || e.key === "Tab") && active >= 0) { accept(active); e.preventDefault(); }
      else if (e.key === "Escape") { close(); e.preventDefault(); }
    });
  }

  function facetPanel(facets, state) {
    const nav = h("nav", { class: "facets", "aria-label": "Filters" }, h("h2", { text: "Filters" }));
    const shown = (facets || []).filter((f) => f.options && f.options.length);
    if (!shown.length) nav.append(h("p", { class: "muted", text: "No facets." }));
    for (const f of shown) {
      const list = h("ul", {});
      const more = h("ul", {});
      // the active ones and the 10 most frequent in view, the rest one click away
      f.options.forEach((o, i) => {
        const token = f.name + ":" + o.key;
        const on = state.filters.includes(token);
        const filters = on ? state.filters.filter((x) => x !== token) : state.filters.concat([token]);
        const label = on ? "Remove filter " + f.name + " " + o.key : "Filter " + f.name + " " + o.key;
        (i < 10 || on ? list : more).append(h("li", {}, h("a", { href: searchUrl(state, { filters, page: 1 }),
          class: "facet" + (on ? " on" : ""), "aria-label": label + " (" + o.doc_count + " stacks)",
          "aria-current": on ? "true" : null, "data-facet": f.name, "data-value": o.key },
        f.name === "status" ? statusBadge(o.key) : h("span", { class: "key", text: o.key }),
        h("span", { class: "count", text: String(o.doc_count) }))));
      });
      nav.append(h("section", { class: "facet-group" }, h("h3", { text: f.name.replace(/_/g, " ") }), list,
        more.children.length ? h("details", {}, h("summary", { text: more.children.length + " more" }), more) : null));
    }
    return nav;
  }

  function activeFilters(state) {
    if (!state.filters.length) return null;
    return h("div", { class: "active-filters", role: "group", "aria-label": "Active filters" },
      h("span", { text: "Active filters:" }),
      state.filters.map((f) => {
        const [field, value] = splitFilter(f);
        return h("a", { class: "chip", href: searchUrl(state, { filters: state.filters.filter((x) => x !== f), page: 1 }),
          "aria-label": "Remove filter " + field + " " + value, "data-filter": f },
        field + ": " + value + " ", h("span", { "aria-hidden": "true", text: "✕" }));
      }),
      state.filters.length > 1 ? h("a", { class: "chip clear", href: searchUrl(state, { filters: [], page: 1 }), text: "Clear all" }) : null);
  }

  function resultRow(hit, state) {
    const s = hit._source || {};
    const nameHl = (hit.highlight || {}).name;
    const nameShown = nameHl && nameHl[0].split(MARK_PRE).join("").split(MARK_POST).join("") === s.name
      ? marked(nameHl[0]) : [s.name || hit._id];
    const nested = (s.depth || 0) > 0 && Array.isArray(s.path);
    const hl = hit.highlight || {};
    const frags = [];
    for (const [field, list] of Object.entries(hl)) {
      if (HIGHLIGHT_SKIP.includes(field) || field === "name") continue;
      for (const frag of list.slice(0, 2)) frags.push(h("li", {}, h("span", { class: "hl-field", text: field + ": " }), marked(frag)));
      if (frags.length >= 4) break;
    }
    return h("li", { class: "result", "data-id": hit._id },
      h("div", { class: "result-head" },
        h("a", { class: "name", href: stackUrl(hit._id, state) }, nameShown),
        statusBadge(s.status)),
      nested ? h("div", { class: "nested" }, h("span", { class: "label", text: "nested: " }),
        pathEl(s.path, (s.ancestors || []).concat([hit._id]), state)) : null,
      h("div", { class: "meta" },
        state.all && s.project_id ? h("span", { class: "project" }, "project ", h("code", { text: s.project_id })) : null,
        s.region ? h("span", { class: "region" }, "region ", h("code", { text: s.region })) : null,
        h("span", {}, "updated ", timeEl(s.updated_at))),
      s.status_reason && statusClass(s.status) === "st-failed" ? h("div", { class: "reason", text: s.status_reason }) : null,
      frags.length ? h("ul", { class: "highlights", "aria-label": "Where it matched" }, frags) : null);
  }

  function rollupRow(hit, state) {
    const s = hit._source || {};
    // the matching descendants as a tree, built from their paths (names, root first)
    const root = { children: new Map(), id: hit._id, match: false };
    for (const m of hit.matches || []) {
      let node = root;
      for (const name of (m.path || []).slice(1)) {
        if (!node.children.has(name)) node.children.set(name, { children: new Map(), id: null, match: false });
        node = node.children.get(name);
      }
      node.id = m.id; node.match = true;
    }
    const render = (node) => {
      if (!node.children.size) return null;
      return h("ul", { class: "tree" }, [...node.children.entries()].map(([name, child]) =>
        h("li", { class: child.match ? "match" : "" },
          child.id ? h("a", { href: stackUrl(child.id, state), text: name }) : h("span", { text: name }),
          child.match ? h("span", { class: "tag", text: "match" }) : null,
          render(child))));
    };
    const n = (hit.matches || []).length;
    return h("li", { class: "result rollup", "data-id": hit._id },
      h("div", { class: "result-head" },
        h("a", { class: "name", href: stackUrl(hit._id, state), text: s.name || hit._id }),
        statusBadge(s.status),
        root.match ? h("span", { class: "tag", text: "match" }) : null),
      h("div", { class: "meta" },
        state.all && s.project_id ? h("span", { class: "project" }, "project ", h("code", { text: s.project_id })) : null,
        s.region ? h("span", { class: "region" }, "region ", h("code", { text: s.region })) : null,
        h("span", {}, "updated ", timeEl(s.updated_at)),
        h("span", {}, n + " matching stack" + (n === 1 ? "" : "s") + " in this tree")),
      render(root));
  }

  function pager(state, total) {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) return null;
    return h("nav", { class: "pager", "aria-label": "Pages" },
      state.page > 1 ? h("a", { href: searchUrl(state, { page: state.page - 1 }), rel: "prev", text: "← Previous" }) : null,
      h("span", { text: " Page " + state.page + " of " + pages + " " }),
      state.page < pages ? h("a", { href: searchUrl(state, { page: state.page + 1 }), rel: "next", text: "Next →" }) : null);
  }

  async function searchPage(app) {
    const state = readState();
    let fields = DYNAMIC.concat(["_exists_"]);
    document.title = (state.q ? state.q + " · " : "") + "Stacks · heatseeker";

    const input = h("input", { id: "q", name: "q", type: "search", value: state.q, autocomplete: "off",
      spellcheck: "false", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": "q-complete", "aria-describedby": "q-help",
      placeholder: "e.g. status:CREATE_FAILED  parameters.image:cirros*  name:web*" });
    const list = h("ul", { id: "q-complete", role: "listbox", class: "complete", hidden: true, "aria-label": "Field names" });
    const form = h("form", { class: "search", role: "search", method: "get", action: UI + "/" },
      h("label", { for: "q", class: "q-label", text: "Search stacks" }),
      h("div", { class: "q-row" },
        h("div", { class: "q-box" }, input, list),
        h("button", { type: "submit", text: "Search" })),
      h("p", { id: "q-help", class: "help" }, "Query string: words, ", h("code", { text: "field:value" }), ", ",
        h("code", { text: "AND / OR / NOT" }), ", ", h("code", { text: "name:web*" }), ", ",
        h("code", { text: "updated_at:[now-1d TO now]" }), ". Type a field name for completion (↓ to choose, Enter to accept)."),
      state.filters.map((f) => h("input", { type: "hidden", name: "f", value: f })),
      h("div", { class: "options" },
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "rollup", value: "1", id: "rollup",
          checked: state.rollup, onchange: () => form.requestSubmit() }), " Roll up to root stacks"),
        canAdmin ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "all", value: "1", id: "all",
          checked: state.all, onchange: () => form.requestSubmit() }), " All projects (cloud admin)") : null,
        state.rollup ? null : h("label", { for: "sort" }, "Sort ",
          h("select", { id: "sort", name: "sort", onchange: () => form.requestSubmit() },
            [["", "relevance"], ["updated_at:desc", "recently updated"], ["name", "name"], ["status", "status"]].map(([v, t]) =>
              h("option", { value: v, selected: state.sort === v, text: t }))))));
    completer(input, list, () => fields);

    const status = h("div", { class: "status-line", role: "status", "aria-live": "polite" });
    const results = h("section", { class: "results", "aria-label": "Results" });
    const side = h("div", { class: "side" }, h("p", { class: "muted", text: "Loading filters…" }));
    app.append(form, activeFilters(state) || "", h("div", { class: "layout" }, side, h("div", { class: "content" }, status, results)));
    if (!state.q && !state.filters.length) setTimeout(() => input.focus(), 0);

    const facetsP = api("/v1/search/facets?limit_terms=100" + (state.all ? "&all_projects=true" : ""))
      .then((answer) => {
        const body = answer["OS::Heat::Stack"] || {};
        fields = (body.facets || []).map((f) => (f.type === "object" ? f.name + "." : f.name))
          .concat(["_exists_"]);
        side.replaceChildren(facetPanel(body.facets, state),
          h("p", { class: "muted small", text: "Counts are over all " + (body.doc_count || 0) + " stacks in " +
            (state.all ? "every project" : "your project") + "; a click narrows the search." }));
      })
      .catch((e) => { if (e.status !== 401) side.replaceChildren(errorBox(e.message)); });

    const request = { query: buildQuery(state), limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE };
    if (state.all) request.all_projects = true;
    if (state.rollup) {
      request.rollup = "root";
      request._source = ["id", "name", "status", "project_id", "region", "updated_at"];
    } else {
      // include/exclude form: the server highlights on the whole stack, the answer stays small
      request._source = { include: LIST_FIELDS };
      if (state.q.trim()) {
        request.highlight = { fields: { "*": {} }, pre_tags: [MARK_PRE], post_tags: [MARK_POST],
          fragment_size: 80, number_of_fragments: 2 };
      }
      if (state.sort) request.sort = state.sort;
      else if (!state.q.trim()) request.sort = "updated_at:desc"; // nothing to rank: newest first
    }
    status.textContent = "Searching…";
    try {
      const answer = await api("/v1/search", request);
      const hits = answer.hits.hits;
      const total = answer.hits.total;
      const what = state.rollup ? "root stack" : "stack";
      const atLeast = state.rollup && answer.rollup && answer.rollup.total_relation === "gte";
      status.textContent = (atLeast ? "at least " : "") + total + " " + what + (total === 1 && !atLeast ? "" : "s") +
        (state.rollup && answer.rollup ? " (" + answer.rollup.matched_stacks + " matching stacks)" : "") +
        " · " + answer.took + " ms";
      results.replaceChildren(
        hits.length ? h("ol", { class: "result-list", start: String((state.page - 1) * PAGE_SIZE + 1) },
          hits.map((hit) => (state.rollup ? rollupRow(hit, state) : resultRow(hit, state))))
          : h("p", { class: "empty", text: "No stack matches." }),
        pager(state, total) || "");
    } catch (e) {
      if (e.status === 401) return;
      status.textContent = "";
      results.replaceChildren(errorBox(e.message));
    }
    await facetsP;
  }

  // -- the stack page -------------------------------------------------------------------------
  function table(caption, headers, rows, empty) {
    if (!rows.length) return h("p", { class: "muted", text: empty });
    return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
      h("table", {}, h("caption", { class: "sr-only", text: caption }),
        h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", text: x })))),
        h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
  }

  function valueEl(v) {
    if (v === "******") return h("span", { class: "masked", title: "hidden parameter: masked" }, "******", h("span", { class: "sr-only", text: " (masked)" }));
    if (v !== null && typeof v === "object") return h("code", { class: "json", text: JSON.stringify(v) });
    if (v === null || v === undefined) return h("span", { class: "muted", text: "null" });
    return h("span", { class: "value", text: String(v) });
  }

  function treeEl(node, currentId, state) {
    const s = node.stack || {};
    const here = s.id === currentId;
    return h("li", {},
      here ? h("strong", { "aria-current": "page", text: s.name || s.id })
        : h("a", { href: stackUrl(s.id, state), text: s.name || s.id }),
      " ", statusBadge(s.status),
      s.parent_resource ? h("span", { class: "muted small", text: " (resource " + s.parent_resource + ")" }) : null,
      node.children && node.children.length ? h("ul", {}, node.children.map((c) => treeEl(c, currentId, state))) : null);
  }

  function section(id, title, ...content) {
    return h("section", { id, class: "panel", "aria-labelledby": id + "-h" }, h("h2", { id: id + "-h", text: title }), content);
  }

  async function stackPage(app, id) {
    const state = readState();
    const back = document.referrer && new URL(document.referrer).origin === location.origin
      && new URL(document.referrer).pathname === UI + "/" ? document.referrer : searchUrl({ q: "", filters: [], all: state.all });
    app.append(h("p", { class: "back" }, h("a", { href: back, text: "← Back to the search" })));
    const holder = h("div", { role: "status", "aria-live": "polite", text: "Loading…" });
    app.append(holder);
    let node;
    try {
      node = await api("/v1/search/stacks/" + encodeURIComponent(id) + (state.all ? "?all_projects=true" : ""));
    } catch (e) {
      if (e.status === 401) return;
      holder.replaceChildren(errorBox(e.status === 404 ? "No such stack in " + (state.all ? "any project" : "your project") + " (" + e.message + ")." : e.message));
      return;
    }
    holder.remove();
    const s = node.stack;
    document.title = (s.name || s.id) + " · heatseeker";
    const ids = (s.ancestors || []).concat([s.id]);
    const dl = h("dl", { class: "summary" });
    const row = (k, v) => { if (v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length)) dl.append(h("dt", { text: k }), h("dd", {}, v)); };
    row("Status", statusBadge(s.status));
    row("Reason", s.status_reason);
    row("Id", h("code", { text: s.id }));
    row("Project", s.project_id ? h("code", { text: s.project_id }) : null);
    row("Region", s.region ? h("code", { text: s.region }) : null);
    row("Created", timeEl(s.created_at));
    row("Updated", timeEl(s.updated_at));
    row("Description", s.description);
    row("Tags", (s.tags || []).length ? (s.tags || []).join(", ") : null);
    row("Template version", s.template_version);
    if ((s.depth || 0) > 0) {
      row("Nested path", pathEl(s.path || [], ids, state));
      row("Parent", h("a", { href: stackUrl(s.parent_id, state), text: (s.path || [])[(s.path || []).length - 2] || s.parent_id }));
      row("Root", h("a", { href: stackUrl(s.root_id, state), text: (s.path || [])[0] || s.root_id }));
      row("Parent resource", s.parent_resource);
    }
    row("Files", (s.files || []).join(", "));
    row("Stack owner", s.stack_owner);
    row("Indexed", timeEl(s.indexed_at));

    const params = Object.entries(s.parameters || {}).sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [h("code", { text: k }), valueEl(v)]);
    const outputs = (s.outputs || []).map((o) => [h("code", { text: o.key }), o.error ? h("span", { class: "error-text", text: o.error }) : valueEl(o.value), o.description || ""]);
    const resources = (s.resources || []).map((r) => [
      r.nested_stack_id ? h("a", { href: stackUrl(r.nested_stack_id, state), text: r.name }) : h("span", { text: r.name }),
      h("code", { text: r.type || "" }), statusBadge(r.status), r.physical_resource_id ? h("code", { class: "small", text: r.physical_resource_id }) : ""]);
    const nav = h("nav", { class: "toc", "aria-label": "On this page" }, h("ul", {},
      [["summary", "Summary"], ["parameters", "Parameters"], ["outputs", "Outputs"], ["resources", "Resources"],
        ["tree", "Nested tree"], ["template", "Template"], ["environment", "Environment"], ["revisions", "Revisions"]]
        .map(([a, t]) => h("li", {}, h("a", { href: "#" + a, text: t })))));

    app.append(
      h("h1", { class: "stack-name" }, s.name || s.id, " ", statusBadge(s.status)),
      (s.depth || 0) > 0 ? h("p", { class: "nested" }, "Nested stack: ", pathEl(s.path || [], ids, state)) : "",
      nav,
      section("summary", "Summary", dl),
      section("parameters", "Parameters", table("Parameters", ["Name", "Value"], params, "No parameters.")),
      section("outputs", "Outputs", table("Outputs", ["Key", "Value", "Description"], outputs, "No outputs.")),
      section("resources", "Resources", table("Resources", ["Name", "Type", "Status", "Physical id"], resources, "No resources.")),
      section("tree", "Nested tree", node.children && node.children.length
        ? h("ul", { class: "tree stack-tree" }, treeEl(node, s.id, state))
        : h("p", { class: "muted", text: "No nested stacks." })),
      section("template", "Template", yamlBlock(s.template, "Template (YAML)")),
      section("environment", "Environment", yamlBlock(s.environment, "Environment (YAML)")),
      revisions(s.id, state));
  }

  // -- revisions and diffs (GET /v1/search/stacks/{id}/history and /diff) ----------------------
  function shown(v) {
    if (v === null || v === undefined) return h("span", { class: "muted", text: "—" });
    return valueEl(v);
  }

  // states history never observed between two revisions (history/service.py gaps): said, never hidden
  function gapText(gap) {
    return "Not observed: " + gap.unobserved.map((u) => (u.status || u.action) + " at " +
      u.at.slice(0, 19).replace("T", " ") + (u.request_id ? " (" + u.request_id + ")" : "")).join(", ");
  }

  function gapMark(gap) {
    return h("span", { class: "gap", title: gapText(gap), "data-gap": String(gap.unobserved.length),
      text: "gap: " + gap.unobserved.length + " state" + (gap.unobserved.length === 1 ? "" : "s") + " not observed" });
  }

  function diffTable(answer) {
    const changes = answer.changes || [];
    const head = h("p", {}, "Revision " + answer.from.revision + " (", timeEl(answer.from.at), ") → revision " +
      answer.to.revision + " (", timeEl(answer.to.at), "): " + changes.length + " change" + (changes.length === 1 ? "" : "s"));
    const gaps = (answer.gaps || []).map((g) => h("p", { class: "warning gap-note", text: gapText(g) +
      " — between these revisions; revision " + g.revision + " shows what came after." }));
    const rows = changes.map((c) => [h("code", { text: c.path }),
      h("span", { class: "kind kind-" + c.kind, text: c.kind }), shown(c.old), shown(c.new)]);
    return h("div", { class: "diff" }, head, ...gaps,
      table("Changes between the revisions", ["Path", "Change", "Before", "After"], rows, "Nothing changed."));
  }

  function revisions(id, state) {
    const sec = section("revisions", "Revisions", h("p", { class: "muted", text: "Loading revisions…" }));
    const all = state.all ? "all_projects=true" : "";
    const out = h("div", { class: "diff-out", role: "region", "aria-live": "polite", "aria-label": "Diff" });
    const showDiff = async (from, to) => {
      out.replaceChildren(h("p", { class: "muted", text: "Loading the diff…" }));
      const params = new URLSearchParams(location.search);
      params.set("from", String(from)); params.set("to", String(to));
      history.replaceState(null, "", location.pathname + "?" + params + "#revisions");
      try {
        const q = "?from=" + from + "&to=" + to + (all ? "&" + all : "");
        out.replaceChildren(diffTable(await api("/v1/search/stacks/" + encodeURIComponent(id) + "/diff" + q)));
      } catch (e) {
        if (e.status !== 401) out.replaceChildren(errorBox(e.message));
      }
    };
    api("/v1/search/stacks/" + encodeURIComponent(id) + "/history" + (all ? "?" + all : "")).then((hist) => {
      const revs = (hist.revisions || []).slice().sort((a, b) => b.revision - a.revision);
      if (!revs.length) {
        sec.replaceChildren(sec.firstChild, h("p", { class: "muted", text: "No revision kept for this stack." }));
        return;
      }
      const rows = revs.map((r, i) => {
        const prev = revs[i + 1];
        const changed = r.changed || [];
        return [h("span", { text: String(r.revision) }), timeEl(r.at), statusBadge(r.status),
          r.user_name || r.user_id || h("span", { class: "muted", text: "—" }),
          h("span", {}, r.gap ? gapMark(r.gap) : "", r.gap ? " " : "",
            changed.length ? h("span", {}, h("code", { text: changed.slice(0, 5).join(", ") }),
              changed.length > 5 ? " +" + (changed.length - 5) + " more" : "") : h("span", { class: "muted", text: i === revs.length - 1 ? "first kept" : "—" })),
          prev ? h("button", { type: "button", class: "small-btn", "data-diff": prev.revision + ".." + r.revision,
            onclick: () => showDiff(prev.revision, r.revision) }, "Diff with " + prev.revision) : ""];
      });
      const opts = (sel) => revs.map((r) => h("option", { value: String(r.revision), selected: r.revision === sel, text: "revision " + r.revision }));
      const p = new URLSearchParams(location.search);
      const wantFrom = parseInt(p.get("from") || "", 10);
      const wantTo = parseInt(p.get("to") || "", 10);
      const from = h("select", { id: "diff-from" }, opts(wantFrom || (revs[1] || revs[0]).revision));
      const to = h("select", { id: "diff-to" }, opts(wantTo || revs[0].revision));
      const compare = revs.length > 1 ? h("form", { class: "compare", onsubmit: (e) => {
        e.preventDefault(); showDiff(parseInt(from.value, 10), parseInt(to.value, 10));
      } }, h("label", { for: "diff-from", text: "From " }), from, h("label", { for: "diff-to", text: " to " }), to,
      h("button", { type: "submit", text: "Compare" })) : null;
      sec.replaceChildren(sec.firstChild,
        hist.deleted ? h("p", { class: "warning", text: "This stack was deleted; its last revision is kept." }) : "",
        table("Revisions", ["Revision", "When", "Status", "By", "Changed", ""], rows, ""), compare || "", out);
      if (wantFrom && wantTo) showDiff(wantFrom, wantTo);
    }).catch((e) => {
      if (e.status === 401) return;
      sec.replaceChildren(sec.firstChild, e.status === 404
        ? h("p", { class: "muted", text: "No revision is kept for this stack (history may be off on this server)." })
        : errorBox(e.message));
    });
    return sec;
  }

  // -- start ------------------------------------------------------------------------------------
  const app = document.getElementById("app");
  const m = /^\/ui\/stacks\/([^/]+)$/.exec(location.pathname);
  (m ? stackPage(app, decodeURIComponent(m[1])) : searchPage(app)).catch((e) => {
    app.append(errorBox(e.message || String(e)));
  });
})();
