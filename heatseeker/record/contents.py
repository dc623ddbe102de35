"""Content-addressed parts of documents: what stacks of one tree share is stored once.

A stack document's bulky parts (its template, its environment's sections, its parameters,
outputs, resources …) are written to the ``contents`` table once per distinct content, keyed by
the SHA-256 of their canonical JSON and zlib-compressed; the row of the stack (``stacks.doc``,
and a revision's body) keeps the rest of the document, the *skeleton*, beside a map of the parts
it left out (``parts``: path → digest). Why: Heat's environment endpoint returns, for every nested
stack, the whole resource registry and ``parameter_defaults`` its root was given (TripleO: ~100 KB
for each of ~300 stacks per overcloud), and the members of a ResourceGroup share one template;
stored whole, the record grew to 3.7× the index (issue #16). Stored by content, a tree's registry
is one row.

The skeleton stays plain JSON: the record's own queries read its small fields (``status``,
``name``, ``tags`` … in ``Store.live_summaries``), which are never parts.

Rules:

* a part is a top-level key of ``PARTS`` (``environment``: each of its sections) whose JSON is at
  least ``PART_MIN`` bytes; smaller ones stay inline (a row costs more than it saves);
* a content row never changes (its key is its digest): a reader may cache it, and two writers
  writing the same content write the same row;
* a content is removed only by ``Store.sweep_contents`` once no stack row and no revision refers
  to it (docs/design.md "Content-addressed parts").
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

# the top-level keys that may be parts: the document's dynamic roots and its long lists. Not the
# fields the record queries in SQL (Store.live_summaries: status, name, tags, parent_id …).
PARTS = ("template", "environment", "parameters", "outputs", "resources", "registry_types",
         "registry_map", "resource_types", "files")
SPLIT = frozenset({"environment"})  # stored section by section: its `parameters` are per stack
PART_MIN = 512  # bytes of JSON below which a part stays inline
ZLIB_LEVEL = 1  # as revision bodies (record/store.py)
# in a revision's parts: the content of its file name → digest map (not a part of the document;
# a tree's stacks share their files, so their maps too)
FILE_DIGESTS = "@files"
SEP = "."  # a path: "template", "environment.resource_registry"


def dumps(value) -> str:
    """The canonical JSON the record writes (and digests)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def split(doc: Mapping) -> tuple[dict, dict[str, str], dict[str, str]]:
    """``(skeleton, parts, texts)``: the document without its parts, ``path → digest`` of each
    part, and ``digest → JSON`` of each (for the writer)."""
    skeleton = dict(doc)
    parts: dict[str, str] = {}
    texts: dict[str, str] = {}

    def take(path: str, value) -> bool:
        text = dumps(value)
        if len(text) < PART_MIN:
            return False
        d = digest_of(text)
        parts[path] = d
        texts[d] = text
        return True

    for key in PARTS:
        value = skeleton.get(key)
        if not isinstance(value, dict | list) or not value:
            continue
        if key in SPLIT and isinstance(value, dict):
            rest = dict(value)
            for section, inner in value.items():
                if isinstance(inner, dict | list) and take(f"{key}{SEP}{section}", inner):
                    del rest[section]
            skeleton[key] = rest
        elif take(key, value):
            del skeleton[key]
    return skeleton, parts, texts


def join(skeleton: dict, parts: Mapping[str, str], texts: Mapping[str, str]) -> dict:
    """The whole document again (``texts``: digest → JSON of at least every digest of ``parts``).
    Each part is decoded afresh: callers may change what they get."""
    doc = skeleton
    for path, d in parts.items():
        if path == FILE_DIGESTS:
            continue
        value = json.loads(texts[d])
        key, _, section = path.partition(SEP)
        if section:
            inner = doc.get(key)
            if not isinstance(inner, dict):
                inner = doc[key] = {}
            inner[section] = value
        else:
            doc[key] = value
    return doc


def pack(text: str) -> bytes:
    return zlib.compress(text.encode(), ZLIB_LEVEL)


def unpack(body: bytes) -> str:
    return zlib.decompress(bytes(body)).decode()


# decoded contents a process keeps by default: a tree's shared registry and files are read once
# while its stacks are (a reindex worker keeps less: projection.WORKER_CONTENTS_CACHE)
CACHE_BYTES = 64 * 2**20


class Cache:
    """Decoded contents by digest, least recently used out past ``max_bytes`` (contents never
    change, so a cached one is never stale; one that was swept is simply never asked for)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def texts(self, digests: Iterable[str], fetch: Callable[[list[str]], dict[str, str]]
              ) -> dict[str, str]:
        """digest → JSON for each of ``digests``; the missing ones through ``fetch`` (one call)."""
        out: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for d in dict.fromkeys(digests):
                text = self._texts.get(d)
                if text is None:
                    missing.append(d)
                else:
                    self._texts.move_to_end(d)
                    out[d] = text
        if missing:
            fetched = fetch(missing)
            lost = [d for d in missing if d not in fetched]
            if lost:
                raise LookupError(f"the record lacks content {', '.join(lost[:3])}")
            out.update(fetched)
            with self._lock:
                for d, text in fetched.items():
                    if d not in self._texts:
                        self._texts[d] = text
                        self._size += len(text)
                while self._size > self.max_bytes and self._texts:
                    _, old = self._texts.popitem(last=False)
                    self._size -= len(old)
        return out
