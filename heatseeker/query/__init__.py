"""Queries, pure: what users write, parsed into one engine-neutral tree, and what is done around it.

Imports nothing of heatseeker but itself. Each concept has one home:

    tree.py         the nodes every grammar produces and every engine translates
    fields.py       the fields a query can name and their types; UnknownField, the one message for
                    a name that is none of them (it says where and suggests the closest name)
    values.py       how a value written for a field is read (integer, date, text, boolean; term,
                    range-bound and match semantics) and "any of"; grammars only word the errors
    datemath.py     dates as users type them (ISO 8601, epoch millis, date math)
    querystring.py  the query-string grammar (the CLI, the UI, ``query_string``)
    simple.py       the ``simple_query_string`` grammar
    dsl.py          the Elasticsearch DSL subset of ``POST /v1/search``, one ``@_clause`` per type
    limits.py       what a DSL query may cost and contain (depth, clauses, terms, scripts)
    request.py      the rest of a search body (paging, sort, _source, highlight, aggregations)
    analysis.py     engine-independent rules of matching and scoring (words, analysed fields)
    scope.py, visibility.py   tenant isolation and admin-only fields, applied to every tree
    highlight.py, rollup.py, source.py   what is done with the hits

Adding a query operator (checked by tests where it says so):

1. Over the existing nodes, a DSL clause: a method of ``dsl._Parser`` decorated with
   ``@_clause("name")`` (``dsl.SUPPORTED``, the "supported:" message and the DSL fuzz of
   ``tests/unit/test_dsl.py`` follow from it); read fields with ``self.field`` and values with
   ``self.exact``/``self.bound``/``self.analysed`` (values.py's rules, the DSL's messages); add it
   to the table in dsl.py's docstring, ``api/openapi.yaml`` (the query description) and tests.
2. Over the existing nodes, query-string syntax: the grammar in ``querystring.py`` (``parse_*``,
   ``value``), values through ``values.py`` (``_bad_value`` words errors with the offset); its
   table in the docstring, the UI's help (``ui/static/app.js``) and ``tests/unit/test_querystring.py``.
   The same syntax in ``simple_query_string``, if Elasticsearch has it there, goes to ``simple.py``.
3. Only when no node expresses it, a new node type: a frozen dataclass in ``tree.py`` added to
   ``tree.Node``, its field (if it names one) in an attribute called ``field`` (``Visibility``
   hides nodes on admin-only fields by that attribute); then every reader of trees, each listed by
   ``test_every_node_type_is_handled`` (``engines/conformance/coverage.py``): each engine's
   translation table (``Engine.node_types``), the reference evaluator (``MATCHERS``, ``SCORERS``),
   the random trees (``LEAF_BUILDERS``) and ``highlight.LEAF_SPECS``; ``limits.check_tree`` if it
   carries a list of values; the engines' ``SCHEMA_VERSION`` only if the index must change.
"""
