"""e20-sources: the sample delivery each vendor's "send a test event" signs and posts (the console's
sources screen, POST /admin/tenants/{t}/sources/{s}/test). Each is the vendor's own documented
shape (the recorded fixture of tests/fixtures/sources/<vendor>/) with a synthetic person: no real
name, a reserved example.invalid address, no phone. The hub verifies and parses it and records
nothing (services/deliveries.py): a test person never reaches the pool, a KPI or a mailbox."""
from __future__ import annotations

import json
from collections.abc import Mapping

_GREENHOUSE = {"action": "reject_candidate", "payload": {"application": {
    "id": 900000001, "rejected_at": "2026-01-01T00:00:00Z", "prospect": False, "status": "rejected",
    "applied_at": "2026-01-01T00:00:00Z", "last_activity_at": "2026-01-01T00:00:00Z",
    "rejection_reason": {"id": 1, "name": "Test", "type": {"id": 1, "name": "Test"}},
    "candidate": {"id": 900000001, "first_name": "Test", "last_name": "Event", "phone_numbers": [],
                  "email_addresses": [{"value": "test-event@example.invalid", "type": "personal"}]},
    "jobs": [{"id": 900000001, "name": "Test event"}]}}}

_STANDARD = {"type": "candidate.rejected", "timestamp": "2026-01-01T00:00:00Z", "data": {
    "person": {"id": "test-event", "name": "Test Event", "email": "test-event@example.invalid", "locale": "ja"},
    "application_id": "test-event", "occurred_at": "2026-01-01T00:00:00Z",
    "job": {"id": "test-event", "title": "Test event"}, "by_candidate": False}}

TEST_EVENTS: Mapping[str, bytes] = {
    "greenhouse": json.dumps(_GREENHOUSE).encode(),
    "standard": json.dumps(_STANDARD).encode(),
}
