"""e20-content: the OpenAPI description of the admin API's template reads the console's templates screen
shows (every kind and locale with its version; a template's kept versions), added to chalicelib/openapi.py's table."""
from __future__ import annotations

TEMPLATE_KINDS = ["rejection", "alumni_farewell", "nurture", "alumni_nurture", "relay_invitation"]
OPERATIONS: list[tuple[str, str, str, dict]] = [
    ("get", "/admin/tenants/{tenant}/templates", "Every template kind and locale with the version in use (0: the default)",
     {"answer": {"type": "object", "required": ["templates"], "properties": {"templates": {"type": "array", "items": {
         "type": "object", "required": ["kind", "locale", "version", "default"], "properties": {
             "kind": {"type": "string", "enum": TEMPLATE_KINDS}, "locale": {"type": "string", "enum": ["ja", "en"]},
             "version": {"type": "integer", "minimum": 0}, "default": {"type": "boolean"}}}}}}}),
    ("get", "/admin/tenants/{tenant}/templates/{kind}/{locale}/versions",
     "The template's last versions (at most 10), newest first: when, by whom (an actor as the audit trail names it), "
     "the parts, and which parts changed from the version before (null when that one is no longer kept)",
     {"answer": {"type": "object", "required": ["kind", "locale", "version", "kept", "versions"], "properties": {
         "kind": {"type": "string"}, "locale": {"type": "string"}, "version": {"type": "integer", "minimum": 0},
         "kept": {"type": "integer"}, "versions": {"type": "array", "items": {
             "type": "object", "required": ["version", "at", "by", "subject", "text", "html", "changed"], "properties": {
                 "version": {"type": "integer", "minimum": 1}, "at": {"type": "string"}, "by": {"type": ["string", "null"]},
                 "subject": {"type": "string"}, "text": {"type": "string"}, "html": {"type": ["string", "null"]},
                 "changed": {"type": ["array", "null"], "items": {"type": "string", "enum": ["subject", "text", "html"]}}}}}}}}),
]
