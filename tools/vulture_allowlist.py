"""Names that are used although no code of ours reads them, so that vulture never counts them as dead.

`make lint` runs `vulture --min-confidence 80 app.py chalicelib integrations tools bench`; this file is in
tools/, so it is always read with the code. At 80, vulture reports only what is certain: unused imports,
unused arguments and variables, unreachable code. Below that (60, vulture's floor) it also reports every
function, class, attribute and constant that no code reads; a sweep at 60 is worth running now and then:

    .venv/bin/vulture --min-confidence 60 app.py chalicelib integrations tools bench

Chalice entry points (routes, schedules, queue consumers, middleware: every `@app.*` function) are ignored
through `ignore_decorators` in pyproject.toml. What else is read by a framework, a library or the tests is
named here, each with the reason it is used. vulture matches names, not owners: `_.name` marks `name` as
used wherever it is defined. Add a name only with its reason; delete dead code instead of listing it.
"""


class _Anything:
    """Stands for the objects that own the names below."""


_ = _Anything()

# Lambda handlers: Chalice calls them with the event and the Lambda context, used or not.
_.event
_.context

# Per-vendor module attributes, read by name (getattr) through integrations.registry: the contract tests
# (tests/contract/test_sources.py) and docs/sources.md check them for every source.
_.EVENT_FIELD  # where the event type sits in a delivery
_.SIGNING      # how a delivery is signed

# http.server calls these on the sandbox agency's handler and server (tools/sandbox_agency.py).
_.do_GET
_.do_POST
_.log_message
_.daemon_threads

# requests calls the transport's hook with these keywords (integrations/egress.py PinnedAdapter: no proxy is
# ever used, the connection goes to the checked address).
_.proxies

# PynamoDB reads model declarations through its metaclass (chalicelib/adapters/dynamo.py).
_.projection      # an index's projection (Meta)
_.received_at     # attributes set through the model's keyword arguments
_.created_by
_.person_name
_._connection     # reset so that the models reconnect to another endpoint

# Used by the tests only: product code that the tests drive directly.
_.inject          # tools/sandbox_agency.py: faults for the agency batch tests
_.body_signature  # integrations/sources/lever.py: Lever's body signature, checked against its known answer
_.routes          # chalicelib/openapi.py: every described operation, compared with the app's routes

# Kept for the core refactor (chalicelib/adapters will call it).
_.slots_for       # chalicelib/domain/referrals.py
