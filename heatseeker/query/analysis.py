"""The engine-independent rules of matching and scoring, each written once.

Every engine, the conformance suite's reference evaluator, the highlighter, reverse lookup and the
request parser used to restate these; when one copy moved, answers differed by engine. So they
live here, and everything else imports them:

* how text becomes words (``words``): runs of letters and digits (``WORD_CHARS``), lower-cased,
  words of 40 bytes (UTF-8) or more dropped. It is tantivy's "simple" tokenizer with its
  ``remove_long(40)`` and ``lowercase`` filters; OpenSearch gets the words from here;
* which fields are analysed (``is_analysed``): text fields and the full text; a Text or Phrase on
  any other field is an exact Term on it;
* the ``_score`` sort key (``SCORE``, ``BY_SCORE``): score order, best first;
* Elasticsearch's ``minimum_should_match`` default (``minimum_should_match``).

Pure: imports nothing of heatseeker but ``query/``.
"""

from __future__ import annotations

import re

from heatseeker.query import fields as F
from heatseeker.query.tree import Bool, SortKey

WORD_CHARS = r"[^\W_]"  # a letter or a digit (Unicode): the characters words are made of
WORD = re.compile(WORD_CHARS + "+")
MAX_WORD_BYTES = 40  # words this long (UTF-8) or longer are not indexed

SCORE = "_score"  # the pseudo-field of score order
BY_SCORE = SortKey(SCORE, descending=True)  # what "_score" means as a sort key: best first


def words(text: str) -> list[str]:
    """The analysed words of ``text``, in order (repeats kept: phrases need positions)."""
    if text.isascii():
        # the same words, faster (OpenSearch's documents are analysed here): in ASCII, lowering
        # maps letters to letters one for one, and a character is a byte
        return [w for w in WORD.findall(text.lower()) if len(w) < MAX_WORD_BYTES]
    return [w.lower() for w in WORD.findall(text) if len(w.encode()) < MAX_WORD_BYTES]


def is_analysed(field: str | None) -> bool:
    """Whether a Text/Phrase on ``field`` (None: anywhere) searches analysed words."""
    return field is None or field == F.FULLTEXT or F.resolve(field)[1] == F.TEXT


def minimum_should_match(node: Bool) -> int:
    """How many should clauses must match: the given number, else Elasticsearch's default (1 for
    a bool with should clauses and no must/filter clause, else 0)."""
    if node.minimum_should_match is not None:
        return max(0, node.minimum_should_match)
    return 0 if (node.must or node.filter) else (1 if node.should else 0)
