"""The egress policy of the tests that call servers on 127.0.0.1 (pytest-httpserver playing a vendor,
the sandbox agency, aiosmtpd): loopback allowed, as in the local stage. Everything else in the suite runs
with the strict policy (a deployed stage's): tests opt in, explicitly, here or with the
`loopback_egress` fixture (tests/conftest.py) that sets HUB_EGRESS_ALLOW_LOOPBACK=1 for the app."""
from __future__ import annotations

from integrations.egress import EgressPolicy

LOOPBACK = EgressPolicy(allow_loopback=True)
