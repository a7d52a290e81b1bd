"""e20-sources: the OpenAPI description of a source's deliveries, test event and secret rotation and
of the tenant's dead letters (issue 20), added to chalicelib/openapi.py's table; and the console's
sources screen."""
from __future__ import annotations

_AT = {"type": "string", "description": "ISO 8601, UTC"}
PATH_PARAMS = {"message_id": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,100}$"}}

SCHEMAS = {
    "Delivery": {"type": "object", "required": ["at", "event", "outcome", "reason"], "properties": {
        "at": _AT,
        "event": {"type": ["string", "null"], "description": "the vendor's event name (null: not read, e.g. refused)"},
        "outcome": {"type": "string", "enum": ["accepted", "duplicate", "ignored", "refused"]},
        "reason": {"type": ["string", "null"], "enum": ["signature", "malformed", "unstorable", "retry", None]},
        "test": {"type": "boolean", "description": "a test event the hub sent itself"}}},
    "TestEvent": {"type": "object", "required": ["tenant", "source", "at", "event", "outcome", "reason", "test"],
                  "properties": {"tenant": {"type": "string"}, "source": {"type": "string"}, "at": _AT,
                                 "event": {"type": ["string", "null"]},
                                 "outcome": {"type": "string", "enum": ["accepted", "ignored", "refused"]},
                                 "reason": {"type": ["string", "null"]}, "test": {"type": "boolean"}}},
    "SecretRotated": {"type": "object", "required": ["tenant", "source", "webhook_secret", "previous_ended"], "properties": {
        "tenant": {"type": "string"}, "source": {"type": "string"},
        "webhook_secret": {"type": "string", "description": "the new secret: shown in this answer only"},
        "previous_ended": {"type": "boolean"}}},
    "DeadLetter": {"type": "object", "required": ["id", "queue", "kind", "sent_at", "age_s", "reason"], "properties": {
        "id": {"type": "string"}, "queue": {"type": "string", "enum": ["notices", "enrich", "writeback", "deliveries"]},
        "kind": {"type": "string", "enum": ["notice", "nurture_mail", "enrichment", "ats_field", "delivery_log"]},
        "source": {"type": ["string", "null"]}, "sent_at": {"type": ["string", "null"]},
        "age_s": {"type": ["integer", "null"]}, "reason": {"type": "string"}, "attempts": {"type": "integer"}}},
}

_T = "/admin/tenants/{tenant}"
_LIMIT = [{"name": "limit", "in": "query", "required": False, "description": "page size, 1 to 100 (default 50)",
           "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
          {"name": "cursor", "in": "query", "required": False, "description": "`next` of the previous page",
           "schema": {"type": "string", "maxLength": 64}}]
OPERATIONS: list[tuple[str, str, str, dict]] = [
    ("get", f"{_T}/sources/{{source}}/deliveries", "The source's delivery log, newest first (14 days): time, event, "
     "outcome and reason; never a body or a personal field",
     {"query": _LIMIT, "answer": {"type": "object", "required": ["deliveries", "next"], "properties": {
         "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
         "next": {"type": ["string", "null"]}}}}),
    ("post", f"{_T}/sources/{{source}}/test", "Send a test event: the vendor's sample, signed with the stored secret, "
     "verified and parsed in-process; nothing recorded (audited as source.test)",
     {"answer": {"$ref": "#/components/schemas/TestEvent"}}),
    ("post", f"{_T}/sources/{{source}}/rotate", "A new webhook secret made by the hub, answered once; the old one works "
     "for a day unless end_previous (audited as source.rotate)",
     {"body": {"type": "object", "additionalProperties": False, "properties": {"end_previous": {"type": "boolean"}}},
      "optional_body": True, "answer": {"$ref": "#/components/schemas/SecretRotated"}}),
    ("get", f"{_T}/dead_letters", "The tenant's failed work in the dead-letter queues: kind, age, reason (no person id)",
     {"answer": {"type": "object", "required": ["dead_letters"], "properties": {
         "dead_letters": {"type": "array", "items": {"$ref": "#/components/schemas/DeadLetter"}}}}}),
    ("post", f"{_T}/dead_letters/{{message_id}}/redrive", "Send one dead letter back to its queue, once "
     "(audited as dead_letter.redrive)", {"answer": {"type": "object"}}),
    # the console's sources screen (admin)
    ("get", "/console/t/{tenant}/sources", "Console: the connected sources, their state and webhook URL, the dead letters",
     {"public": True, "html": True}),
    ("get", "/console/t/{tenant}/sources/{source}", "Console: one source, its actions and delivery log",
     {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/sources/{source}/test", "Console: send a test event", {"public": True, "html": True, "form": True}),
    ("post", "/console/t/{tenant}/sources/{source}/rotate", "Console: rotate the webhook secret",
     {"public": True, "html": True, "form": True}),
    ("post", "/console/t/{tenant}/sources/{source}/end_previous", "Console: end the old webhook secret now",
     {"public": True, "html": True, "form": True}),
    ("post", "/console/t/{tenant}/sources/{source}/poll", "Console: poll a polled source now",
     {"public": True, "html": True, "form": True}),
    ("post", "/console/t/{tenant}/dead_letters/redrive", "Console: redrive one dead letter",
     {"public": True, "html": True, "form": True, "ok": 303}),
]
