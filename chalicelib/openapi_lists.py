"""The OpenAPI description of the admin API's lists (issue 18), added to chalicelib/openapi.py's
table: sources, agencies, segments, a segment's members, campaigns."""
from __future__ import annotations

_NEXT = {"type": ["string", "null"], "description": "the cursor of the next page (null: the last)"}
_SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"}
_PAGE = [{"name": "limit", "in": "query", "required": False, "description": "page size, 1 to 100 (default 25)",
          "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
         {"name": "cursor", "in": "query", "required": False, "description": "`next` of the previous page",
          "schema": {"type": "string", "maxLength": 600}}]


def _list(name: str, item: dict, *, paged: bool = True) -> dict:
    properties = {name: {"type": "array", "items": item}, **({"next": _NEXT} if paged else {})}
    return {"type": "object", "required": [name, "next"] if paged else [name], "properties": properties}


SCHEMAS = {
    "SourceListed": {"allOf": [{"$ref": "#/components/schemas/SourceStatus"}, {
        "type": "object", "required": ["kind", "webhook_url", "last_delivery_at"], "properties": {
            "kind": {"type": "string", "enum": ["webhook", "polled"]},
            "webhook_url": {"type": ["string", "null"], "description": "where the vendor sends webhooks (null: polled)"},
            # e20-sources: the delivery log's newest delivery from the vendor, and the state it gives
            "last_delivery_at": {"type": ["string", "null"], "description": "null: none in the log's 14 days"},
            "state": {"type": "string", "enum": ["ok", "failing", "never_delivered"]},
            "state_reason": {"type": ["string", "null"]}}}]},
    "AgencyListed": {"type": "object", "required": ["slug", "name", "paused", "paused_until", "slot_balance"], "properties": {
        "slug": _SLUG, "name": {"type": "string"}, "legal_name": {"type": "string"}, "country": {"type": "string"},
        "endpoint": {"type": "string"}, "auth_type": {"type": "string"}, "consent_version": {"type": "string"},
        "secrets": {"type": "object", "properties": {"auth": {"type": "boolean"}}},
        "paused": {"type": "boolean"}, "paused_until": {"type": ["string", "null"]},
        "paused_why": {"type": ["string", "null"], "enum": ["failures", "agency_asked_to_wait", None]},
        "consecutive_failures": {"type": "integer", "minimum": 0}, "slot_balance": {"type": "integer"}}},
    "SegmentListed": {"type": "object", "required": ["segment", "expression", "description", "count"], "properties": {
        "segment": _SLUG, "expression": {"type": "string"}, "description": {"type": ["string", "null"]},
        "version": {"type": "integer"}, "read_through": {"type": "array", "items": {"type": "string"}},
        "count": {"type": ["integer", "null"], "minimum": 0,
                  "description": "null when counting needs more than a bounded read: GET the segment"}}},
    "CampaignListed": {"type": "object", "required": ["campaign", "segment", "template_kind", "cadence", "paused"],
                       "properties": {
                           "campaign": _SLUG, "segment": _SLUG, "template_kind": {"type": "string"},
                           "cadence": {"type": "object"}, "active": {"type": "boolean"}, "paused": {"type": "boolean"},
                           "next_run": {"type": "null", "description": "not tracked: the nurture job runs daily"},
                           "sent": {"type": "integer"}, "deferred": {"type": "integer"}, "skipped": {"type": "integer"},
                           "stats": {"type": "object"}, "version": {"type": "integer"}}},
}

_T = "/admin/tenants/{tenant}"
OPERATIONS: list[tuple[str, str, str, dict]] = [
    ("get", f"{_T}/sources", "The tenant's connected sources: each one's state (ok, or failing with a reason and since "
     "when), kind (webhook or polled), the webhook URL to give the vendor, which secrets are stored (never their values)",
     {"answer": _list("sources", {"$ref": "#/components/schemas/SourceListed"}, paged=False)}),
    ("get", f"{_T}/agencies", "The tenant's agencies: configuration, paused (until when, why), free slots",
     {"query": _PAGE, "answer": _list("agencies", {"$ref": "#/components/schemas/AgencyListed"})}),
    ("get", f"{_T}/segments", "The saved segments, each with its count when a bounded read gives it",
     {"query": _PAGE, "answer": _list("segments", {"$ref": "#/components/schemas/SegmentListed"})}),
    ("get", f"{_T}/segments/{{segment}}/members", "A page of the segment's members (as the people search shows them; "
     "audited as segment.members). Bounded reads: a page may be short while next is not null",
     {"query": _PAGE, "answer": {"allOf": [{"$ref": "#/components/schemas/Page"}, {
         "type": "object", "required": ["segment", "people"], "properties": {
             "segment": _SLUG, "people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}}]}}),
    ("get", f"{_T}/campaigns", "The campaigns: segment, template, cadence, paused, mails sent, deferred and skipped",
     {"query": _PAGE, "answer": _list("campaigns", {"$ref": "#/components/schemas/CampaignListed"})}),
]
