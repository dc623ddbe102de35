"""oslo.policy rules of the search API, with documented defaults.

``list_rules()`` feeds ``oslopolicy-sample-generator --namespace heatseeker`` (the sample is
``etc/policy.yaml.sample``; a test keeps it current). Operators override any rule in a
``policy.yaml`` (``[oslo_policy] policy_file``).

Who is a cloud admin (``context_is_admin``): the role admin in the admin project (Keystone's
``is_admin_project``, which heatseeker reads from the token; an absent flag counts as *not* admin —
Searchlight defaulted it to true), or an admin with a system-scoped token.
"""

from __future__ import annotations

from oslo_policy import policy

RULES = [
    policy.RuleDefault(
        "context_is_admin",
        "(role:admin and is_admin_project:True) or (role:admin and system_scope:all)",
        description="A cloud admin: role admin in the admin project, or a system-scoped admin.",
    ),
    policy.RuleDefault(
        "project_reader",
        "role:reader or role:member or role:admin",
        description="Someone who may read their project's stacks.",
    ),
    policy.DocumentedRuleDefault(
        "search:query",
        "rule:project_reader or rule:context_is_admin",
        "Search stacks (always within the caller's project unless all_projects is allowed).",
        [{"path": "/v1/search", "method": "POST"}, {"path": "/v1/search", "method": "GET"},
         {"path": "/v1/search/stacks/{stack_id}", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:history",
        "rule:project_reader or rule:context_is_admin",
        "Read a stack's revisions and the semantic diff between two of them (a stack of another "
        "project is unknown: 404).",
        [{"path": "/v1/search/stacks/{stack_id}/history", "method": "GET"},
         {"path": "/v1/search/stacks/{stack_id}/diff", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:changes",
        "rule:project_reader or rule:context_is_admin",
        "Search the changes of a field over time, within the caller's project unless "
        "all_projects is allowed.",
        [{"path": "/v1/search/changes", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:uses",
        "rule:project_reader or rule:context_is_admin",
        "Reverse lookup: the stacks that use a value, and where (within the caller's project "
        "unless all_projects is allowed).",
        [{"path": "/v1/search/uses", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:query:aggregations",
        "rule:project_reader or rule:context_is_admin",
        "Ask for aggregations in a search (global aggregations are never allowed).",
        [{"path": "/v1/search", "method": "POST"}],
    ),
    policy.DocumentedRuleDefault(
        "search:facets",
        "rule:project_reader or rule:context_is_admin",
        "List the facets of the stacks the caller may see.",
        [{"path": "/v1/search/facets", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:plugins",
        "rule:project_reader or rule:context_is_admin",
        "List the resource types heatseeker indexes.",
        [{"path": "/v1/search/plugins", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:all_projects",
        "rule:context_is_admin",
        "Search, or list facets, across every project (all_projects=true).",
        [{"path": "/v1/search", "method": "POST"}, {"path": "/v1/search/facets", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        "search:admin_fields",
        "rule:context_is_admin",
        "See the admin-only fields of stacks ([api] admin_only_fields).",
        [{"path": "/v1/search", "method": "POST"}],
    ),
]


def list_rules():
    return RULES


def enforcer(conf) -> policy.Enforcer:
    enf = policy.Enforcer(conf)
    enf.register_defaults(RULES)
    return enf


def get_enforcer():
    """For oslopolicy-checker and friends: an enforcer on heatseeker's own options."""
    from heatseeker import config

    conf = config.new_conf()
    conf([], project="heatseeker")
    return enforcer(conf)
