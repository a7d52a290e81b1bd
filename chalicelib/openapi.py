"""The OpenAPI 3 description of every route the hub serves (GET /admin/openapi.json).

One table, OPERATIONS, lists each route with what it takes and answers; tests check it against
the app's routes and run schemathesis against it, so it cannot drift from the code."""
from __future__ import annotations

from functools import cache

TENANT = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$", "example": "default"}
SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"}
PERSON_ID = {"type": "string", "pattern": "^p_[0-9a-f]{24}$", "example": "p_0123456789abcdef01234567"}
ERROR = {"$ref": "#/components/schemas/Error"}
ANY_OBJECT = {"type": "object"}
NO_CONTROLS = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$"  # header-safe text
TAGS = {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "maxLength": 50}}
ROLES = ["applicant", "rejected", "offer_declined", "employee", "alumni", "referrer"]
TEMPLATE_KINDS = ["rejection", "alumni_farewell", "nurture", "alumni_nurture", "relay_invitation"]

SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "message"],
              "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
    "Person": {"type": "object", "required": ["id", "roles", "tags"], "properties": {
        "id": PERSON_ID, "name": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
        "roles": {"type": "array", "items": {"type": "string", "enum": ROLES}}, "tags": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"}, "last_contact_at": {"type": ["string", "null"]},
        "timeline": {"type": "array", "items": ANY_OBJECT}}},
    "Page": {"type": "object", "required": ["next"], "properties": {"next": {"type": ["string", "null"]}}},
    "Settings": {"type": "object", "additionalProperties": False,
                 "required": ["company_name", "sender_email", "postal_address", "contact"], "properties": {
                     "company_name": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": NO_CONTROLS,
                                      "description": "in the From header and subjects: no control characters"},
                     "sender_email": {"type": "string", "format": "email", "pattern": NO_CONTROLS,
                                      "description": "with SES, its domain is registered for the tenant alone (409 if "
                                                     "another holds it)"},
                     "postal_address": {"type": "string", "minLength": 1, "maxLength": 500,
                                        "description": "body only: line breaks allowed"},
                     "contact": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": NO_CONTROLS},
                     "default_locale": {"type": "string", "enum": ["ja", "en"]},
                     "mail_transport": {"type": "string", "enum": ["ses", "smtp"]},
                     "notice_delay_minutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 10080,
                                              "description": "hub_notice mode: minutes after a rejection before its notice "
                                                             "(null: the hub's default)"},
                     "nurture_interval_days": {"type": "integer", "minimum": 1, "maximum": 3650,
                                               "description": "at most one nurture mail per person in this many days (90)"},
                     "time_zone": {"type": "string", "maxLength": 64, "description":
                                   "IANA time zone (Asia/Tokyo for ja, else UTC): KPI days, segment windows, nurture "
                                   "cadences, dates in mails and pages"},
                     "phone_region": {"type": "string", "pattern": "^[A-Z]{2}$",
                                      "description": "ISO 3166 alpha-2 region a phone without a country code is read in (JP)"},
                     "smtp": {"type": "object", "description":
                              "a mail server on the public internet, over TLS (STARTTLS, or implicit TLS on port 465); a new "
                              "host or port without a new password drops the stored one", "properties": {
                         "host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                         "username": {"type": "string", "pattern": NO_CONTROLS}, "password": {"type": "string"},
                         "starttls": {"type": "boolean"}}}}},
    "SettingsAnswer": {"type": "object", "required": ["company_name", "sender_email", "mail_transport"], "properties": {
        "company_name": {"type": "string"}, "sender_email": {"type": "string"}, "mail_transport": {"type": "string"},
        "time_zone": {"type": "string"},
        "sender_domain": {"type": ["string", "null"], "description": "SES transport only"},
        "sender_status": {"type": "string", "enum": ["pending", "verified", "failed", "unregistered"],
                          "description": "SES transport only: notices wait until it is verified"},
        "dns_records": {"type": "array", "description": "the DKIM CNAME records to publish", "items": {
            "type": "object", "required": ["type", "name", "value"], "properties": {
                "type": {"const": "CNAME"}, "name": {"type": "string"}, "value": {"type": "string"}}}},
        "notices_waiting": {"type": "integer", "minimum": 0, "description": "notices waiting for the sender"}}},
    "Template": {"type": "object", "additionalProperties": False, "required": ["subject", "text"], "properties": {
        "subject": {"type": "string", "minLength": 1}, "text": {"type": "string", "minLength": 1},
        "html": {"type": ["string", "null"]}}},
    "Agency": {"type": "object", "additionalProperties": False,
               "description": "auth is required for a new agency; an update may leave it out while the endpoint stays "
                              "(a new endpoint without new auth drops the stored credentials)",
               "required": ["name", "legal_name", "country", "endpoint", "data_items"], "properties": {
                   "name": {"type": "string", "minLength": 1, "maxLength": 200},
                   "legal_name": {"type": "string", "minLength": 1, "maxLength": 200},
                   "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                   "endpoint": {"type": "string", "format": "uri", "example": "https://agency.example/v1",
                                "description": "https:// on a public host (egress_refused otherwise)"},
                   "auth": {"oneOf": [
                       {"type": "object", "additionalProperties": False, "required": ["type", "secret"], "properties": {
                           "type": {"const": "standard_webhooks"},
                           "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]{8,100}$"}}},
                       {"type": "object", "additionalProperties": False, "required": ["type", "token"], "properties": {
                           "type": {"const": "bearer"}, "token": {"type": "string", "minLength": 8, "maxLength": 4096}}}]},
                   "data_items": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": [
                       "name", "email", "phone", "desired_roles", "job_title", "stage", "locale"]}},
                   "batch_size": {"type": "integer", "minimum": 1, "maximum": 100},
                   "referrals_per_slot": {"type": "integer", "minimum": 1, "maximum": 1000},
                   "foreign_regime_note": {"type": "string", "maxLength": 500},
                   "purpose": {"type": "string", "minLength": 1, "maxLength": 300,
                               "description": "what the agency uses the data for, shown on the consent page "
                                              "(default: job placement)"},
                   "client": {"type": "string", "enum": ["career_relay"]}, "sandbox": {"type": "boolean"}}},
    "Source": {"type": "object", "additionalProperties": False, "properties": {
        "webhook_secret": {"type": "string"}, "api_key": {"type": "string"},
        "api_base_url": {"type": "string", "format": "uri", "description":
                         "https:// on one of the vendor's documented API hosts (the platform operator: any public host); "
                         "a new api_base_url without a new api_key drops the stored key"},
        "revoke_previous": {"type": "boolean", "description": "end the replaced webhook secret now (default: it "
                                                               "verifies for 24 hours)"},
        "account_token": {"type": "string", "description": "merge: the linked account's token (X-Account-Token)"},
        "oauth": {"type": "object", "additionalProperties": False, "required": ["client_id", "client_secret"],
                  "description": "freee_hr (refresh_token required; rotated on each refresh) and smartrecruiters "
                                 "(client credentials); dropped with the api key when api_base_url changes",
                  "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"},
                                 "refresh_token": {"type": "string"}, "access_token": {"type": "string"},
                                 "expires_in": {"type": "integer", "minimum": 1},
                                 "token_url": {"type": "string", "format": "uri"}}},
        "delivery": {"$ref": "#/components/schemas/Delivery"}}},
    "Delivery": {"type": "object", "additionalProperties": False, "description":
                 "how a rejected candidate gets the Career Relay link (docs/sources.md); alone in the body it changes "
                 "only the delivery of a connected source", "properties": {
                     "mode": {"type": "string", "enum": ["hub_notice", "ats_field", "invitation"]},
                     "field": {"type": ["string", "null"], "maxLength": 200, "description": "the ATS field's key"},
                     "on_behalf_of": {"type": ["string", "null"], "maxLength": 200, "description": "the ATS user id"},
                     "invitation_delay_days": {"type": "integer", "minimum": 0, "maximum": 365}}},
    "SourceStatus": {"type": "object", "required": ["tenant", "source", "secrets", "status"], "properties": {
        "tenant": {"type": "string"}, "source": {"type": "string"},
        "secrets": {"type": "object", "description": "which secrets are stored: booleans, never values",
                    "additionalProperties": {"type": "boolean"}},
        "api_base_url": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["ok", "failing"]},
        "reason": {"type": "string", "enum": ["credentials_refused", "refresh_refused", "ats_field_unknown"]},
        "message": {"type": "string"}, "since": {"type": "string"},
        "delivery": {"$ref": "#/components/schemas/Delivery"}}},
    "TagEdit": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
        "tags": TAGS, "add": TAGS, "remove": TAGS}},
    "Routing": {"type": "object", "additionalProperties": False, "required": ["rules"], "properties": {
        "rules": {"type": "array", "maxItems": 50, "description": "ordered: the first rule that matches decides (docs/routing.md)",
                  "items": {"type": "object", "additionalProperties": False, "required": ["action"], "properties": {
                      "match": {"type": "object", "additionalProperties": False, "properties": {
                          name: {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 20}]}
                          for name in ("reason", "reason_type", "stage", "source")}},
                      "action": {"type": "string", "enum": ["relay", "nurture_only", "none"]}}}}}},
    "Segment": {"type": "object", "additionalProperties": False, "required": ["expression"], "properties": {
        "expression": {"type": "string", "minLength": 1, "maxLength": 2000,
                       "description": "terms role:, tag:, source:, stage:, reason:, rejected_within:Nd, exited_within:Nd, "
                                      "applied_within:Nd, rejected_after/before:YYYY-MM-DD, exited_after/before:, "
                                      "applied_after: with AND, OR, NOT and parentheses; every OR branch needs a role:, "
                                      "tag: or source: term not under NOT (docs/nurture.md)",
                       "example": "role:rejected AND tag:engineer AND rejected_within:365d AND NOT tag:do-not-contact"},
        "description": {"type": "string", "maxLength": 500, "description": "what the segment is for (optional)"}}},
    "SegmentCount": {"type": "object", "required": ["expression", "count"], "properties": {
        "segment": SLUG, "expression": {"type": "string"}, "count": {"type": "integer", "minimum": 0},
        "description": {"type": ["string", "null"]},
        "complete": {"type": "boolean", "description": "false when the count stopped at the preview's read budget"}}},
    "Campaign": {"type": "object", "additionalProperties": False, "required": ["segment", "template_kind", "cadence"],
                 "properties": {"segment": SLUG, "template_kind": {"type": "string", "enum": TEMPLATE_KINDS},
                                "cadence": {"oneOf": [
                                    {"type": "object", "additionalProperties": False, "required": ["after", "days"],
                                     "properties": {"after": {"type": "string", "enum": ["rejection", "exit"]},
                                                    "days": {"type": "integer", "minimum": 0, "maximum": 3650}}},
                                    {"type": "object", "additionalProperties": False, "required": ["every", "on"],
                                     "properties": {"every": {"type": "string", "enum": ["year"]},
                                                    "on": {"type": "string", "enum": ["rejection", "exit"]}}}],
                                    "example": {"after": "rejection", "days": 180}},
                                "active": {"type": "boolean"}}},
    "PrincipalGrant": {"type": "object", "required": ["id", "principal", "granted_at", "granted_by"], "properties": {
        "id": {"type": "string"}, "principal": {"type": "string", "description": "the canonical ARN: a role or a user "
                                                                                  "without its path"},
        "granted_at": {"type": "string"}, "granted_by": {"type": "string"}}},
    "NurtureReport": {"type": "object", "required": ["due", "queued"], "properties": {
        "tenant": {"type": "string"}, "campaigns": {"type": "integer"}, "members": {"type": "integer"},
        "scheduled": {"type": "integer"}, "due": {"type": "integer"}, "queued": {"type": "integer"}}},
}


def _param(name: str, where: str, schema: dict, required: bool | None = None, description: str = "") -> dict:
    param = {"name": name, "in": where, "required": where == "path" if required is None else required, "schema": schema}
    return {**param, "description": description} if description else param


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return _param(name, "query", schema or {"type": "string", "maxLength": 300}, False, description)


PAGE = [_query("limit", "page size, 1 to 100 (default 25)", {"type": "integer", "minimum": 1, "maximum": 100}),
        _query("cursor", "`next` of the previous page")]

# (method, path, summary, {"query": [...], "body": schema or media map, "ok": status, "answer": schema, "public": bool})
OPERATIONS: list[tuple[str, str, str, dict]] = [
    ("get", "/health", "Liveness", {"public": True}),
    ("post", "/webhooks/{tenant}/{source}", "Receive a vendor webhook (signed by the vendor's scheme)",
     {"public": True, "body": {"application/json": ANY_OBJECT}, "ok": 202,
      "unverified": "a bad signature, an unknown tenant or an unknown source: the same answer"}),
    ("get", "/r/{token}", "The Career Relay consent page (HTML)", {"public": True, "html": True}),
    ("post", "/r/{token}", "Record the choices made on the consent page", {"public": True, "html": True, "form": True}),
    ("get", "/r/{token}/seen", "The consent page's beacon image: a browser showing the page loads it, which counts "
     "the link as opened (mail scanners fetch the page, not its images); 204 for any token", {"public": True, "ok": 204}),
    ("get", "/u/{token}", "The unsubscribe page (HTML)", {"public": True, "html": True}),
    ("post", "/u/{token}", "One-click unsubscribe (RFC 8058)", {"public": True, "html": True, "form": True}),
    ("get", "/admin/openapi.json", "This description", {"tenantless": True}),
    ("put", "/admin/tenants/{tenant}/sources/{source}", "Connect a source (secrets stored in Secrets Manager)",
     {"body": SCHEMAS["Source"]}),
    ("get", "/admin/tenants/{tenant}/sources/{source}", "A connected source: which secrets are stored (never their "
     "values) and whether its credentials work (status ok, or failing with a reason and since when)",
     {"answer": {"$ref": "#/components/schemas/SourceStatus"}}),
    ("get", "/admin/tenants/{tenant}/people", "Search people by e-mail, phone, name prefix, tag and role (all given must hold)",
     {"query": [_query("email", "exact address"),
                _query("phone", "a phone number as typed (read in the tenant's phone_region unless it names its country)"),
                _query("name", "name prefix (case and width folded)"),
                _query("tag", "a tag"), _query("role", "a role", {"type": "string", "enum": ROLES}), *PAGE],
      "answer": {"allOf": [{"$ref": "#/components/schemas/Page"}, {"type": "object", "required": ["people"], "properties": {
          "people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}}]},
      "csv": "with `Accept: text/csv`: the page as CSV (UTF-8 with BOM; cells a spreadsheet would run as formulas "
             "start with '); the next page's cursor in `X-Next-Cursor`"}),
    ("get", "/admin/tenants/{tenant}/people/{person_id}", "One person with roles, tags, consents and timeline",
     {"answer": {"$ref": "#/components/schemas/Person"}}),
    ("patch", "/admin/tenants/{tenant}/people/{person_id}", "Edit a person's tags ({tags} replaces, {add, remove} edits)",
     {"body": SCHEMAS["TagEdit"], "answer": {"$ref": "#/components/schemas/Person"}}),
    ("delete", "/admin/tenants/{tenant}/people/{person_id}",
     "Erase a person: profile, timeline and links go; counters and provision records (until their date) stay", {}),
    ("get", "/admin/tenants/{tenant}/people/{person_id}/export",
     "Everything held about a person, provision records included (disclosure request)", {}),
    ("post", "/admin/tenants/{tenant}/people/{person_id}/merge",
     "Merge another person of this tenant into this one (docs/people.md): both timelines, tracks, consents, "
     "identities; the other id then leads here. Asked again: the same answer. 409: erased, merged already, or "
     "the other has referrals", {"body": {"type": "object", "additionalProperties": False, "required": ["other"],
                                         "properties": {"other": PERSON_ID}},
                                "answer": {"type": "object", "required": ["person_id", "merged", "merged_at"], "properties": {
                                    "person_id": PERSON_ID, "merged": PERSON_ID, "merged_at": {"type": "string"}}}}),
    ("post", "/admin/tenants/{tenant}/people/{person_id}/notices/requeue",
     "Put the person's failed notices (failed after 8 attempts, or for a reason such as template_error; "
     "shown with the reason in the export) back in the outbox, due now, their attempts forgotten",
     {"answer": {"type": "object", "required": ["requeued"], "properties": {"requeued": {"type": "integer"}}}}),
    ("get", "/admin/tenants/{tenant}/audit", "The audit trail, newest first: who, when, what, which record",
     {"query": PAGE + [_query("who", "only this actor's entries (user:<sub>, admin, token:<id>, an ARN)"),
                       _query("action", "only this action's entries (person.tags, people.import, ...)")]}),
    ("post", "/admin/tenants/{tenant}/tokens", "Issue an admin token scoped to this tenant (platform only)",
     {"ok": 201, "body": {"type": "object", "additionalProperties": False, "properties": {
         "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 366, "description": "default 90"}}},
      "optional_body": True,
      "answer": {"type": "object", "required": ["id", "token", "expires_at"], "properties": {
          "id": {"type": "string"}, "token": {"type": "string"}, "expires_at": {"type": "string"}}}}),
    ("get", "/admin/tenants/{tenant}/tokens", "The tenant's tokens: id, issuer, expiry, last use; never a secret (platform only)",
     {"answer": {"type": "object", "required": ["tokens"], "properties": {"tokens": {"type": "array", "items": {
         "type": "object", "required": ["id", "created_at", "created_by", "expires_at", "expired", "last_used_at"],
         "properties": {"id": {"type": "string"}, "created_at": {"type": "string"}, "created_by": {"type": "string"},
                        "expires_at": {"type": "string"}, "expired": {"type": "boolean"},
                        "last_used_at": {"type": ["string", "null"], "description": "to the hour"}}}}}}}),
    ("delete", "/admin/tenants/{tenant}/tokens/{token_id}", "Revoke a tenant token (platform only)", {}),
    ("post", "/admin/tenants/{tenant}/principals",
     "Let an IAM role or user act for this tenant in AWS (platform only; granting again changes nothing)",
     {"ok": 201, "body": {"type": "object", "additionalProperties": False, "required": ["principal"], "properties": {
         "principal": {"type": "string", "maxLength": 1100, "example": "arn:aws:iam::123456789012:role/hub-acme-admin"}}},
      "answer": {"$ref": "#/components/schemas/PrincipalGrant"}}),
    ("get", "/admin/tenants/{tenant}/principals", "The IAM principals that may act for this tenant (platform only)",
     {"answer": {"type": "object", "required": ["principals"], "properties": {
         "principals": {"type": "array", "items": {"$ref": "#/components/schemas/PrincipalGrant"}}}}}),
    ("delete", "/admin/tenants/{tenant}/principals/{grant_id}", "Withdraw a principal's grant (platform only)", {}),
    ("post", "/admin/tenants/{tenant}/jobs/poll_sources", "Poll the tenant's polled sources now", {}),
    ("post", "/admin/tenants/{tenant}/sources/{source}/jobs/ats_backfill", "Write the Career Relay links of the "
     "applications open at the ATS (ats_field delivery): one bounded run, resumed from its cursor", {}),
    ("post", "/admin/tenants/{tenant}/imports", "Import people from a CSV file (UTF-8, UTF-16 or Shift_JIS; headers "
     "in Japanese or English, docs/import.md); with dry_run=true, a preview that stores nothing",
     {"body": {"text/csv": {"type": "string"}},
      "query": [_query("dry_run", "true: a preview that stores nothing", {"type": "string", "enum": ["true", "false"]})]}),
    ("put", "/admin/tenants/{tenant}/settings",
     "Set the tenant's mail settings and sender block; with SES, register the sender's domain for this tenant "
     "(409 when another holds it) and answer the DKIM records to publish",
     {"body": SCHEMAS["Settings"], "answer": {"$ref": "#/components/schemas/SettingsAnswer"}}),
    ("get", "/admin/tenants/{tenant}/settings", "The tenant's settings, with the sender's status (SES) and the notices "
     "waiting for it", {"answer": {"$ref": "#/components/schemas/SettingsAnswer"}}),
    ("put", "/admin/tenants/{tenant}/templates/{kind}/{locale}", "Store a mail template (a new version)",
     {"body": SCHEMAS["Template"]}),
    ("get", "/admin/tenants/{tenant}/templates/{kind}/{locale}", "The template in use (the default when none is stored)", {}),
    ("post", "/admin/tenants/{tenant}/templates/{kind}/{locale}/preview", "Render a template with sample data",
     {"body": SCHEMAS["Template"], "optional_body": True}),
    ("put", "/admin/tenants/{tenant}/agencies/{agency}",
     "Configure a partner agency; an edit to what candidates are told of it makes a new consent_version, and "
     "referrals consented under another are held until the person consents again", {"body": SCHEMAS["Agency"]}),
    ("get", "/admin/tenants/{tenant}/agencies/{agency}", "A partner agency's configuration, with its consent_version", {}),
    ("post", "/admin/tenants/{tenant}/jobs/agency_batch", "Send the queued referrals now", {}),
    ("get", "/admin/tenants/{tenant}/agencies/{agency}/ledger",
     "The agency's slot ledger; each slot_earned entry names the accepted referrals that earned it (earned_by), "
     "and toward_next_slot the ones counted toward the next (e20-programs)", {}),
    ("post", "/admin/tenants/{tenant}/agencies/{agency}/slots/use", "Record the use of one free referral slot",
     {"body": {"type": "object", "properties": {"note": {"type": "string", "maxLength": 500}}}, "optional_body": True, "ok": 201}),
    ("get", "/admin/tenants/{tenant}/provisions", "Provision records of one person (APPI Art. 29)",
     {"query": [_param("person_id", "query", PERSON_ID, True)]}),
    ("get", "/admin/tenants/{tenant}/consent_texts/{version}",
     "What a consent version stands for, kept as evidence: a page's exact text, or the facts told about an agency", {}),
    ("get", "/admin/tenants/{tenant}/kpis", "The relationship KPIs for a period, optionally cut",
     {"query": [_query("from", "first day, YYYY-MM-DD", {"type": "string", "format": "date"}),
                _query("to", "last day, YYYY-MM-DD", {"type": "string", "format": "date"}),
                _query("by", "cut", {"type": "string", "enum": ["source", "stage", "reason"]})]}),
    ("post", "/admin/tenants/{tenant}/jobs/kpi_publish", "Publish today's KPIs (once a day)", {}),
    ("get", "/admin/tenants/{tenant}/dashboard", "The KPI dashboard (HTML)",
     {"html": True, "query": [_query("lang", "ja or en", {"type": "string", "enum": ["ja", "en"]})]}),
    # routing (docs/routing.md)
    ("put", "/admin/tenants/{tenant}/routing", "Save the ordered routing rules (at most 50): relay, nurture_only or none",
     {"body": SCHEMAS["Routing"]}),
    ("get", "/admin/tenants/{tenant}/routing", "The routing rules and the default table used when none matches", {}),
    # nurture (docs/nurture.md)
    ("put", "/admin/tenants/{tenant}/segments/{segment}", "Save a segment expression (400 names the position of an error)",
     {"body": SCHEMAS["Segment"]}),
    ("get", "/admin/tenants/{tenant}/segments/{segment}", "A segment and how many people it holds now",
     {"answer": {"$ref": "#/components/schemas/SegmentCount"}}),
    ("put", "/admin/tenants/{tenant}/campaigns/{campaign}",
     "Save a campaign (segment, template kind, cadence) and enrol the segment's opted-in members",
     {"body": SCHEMAS["Campaign"]}),
    ("get", "/admin/tenants/{tenant}/campaigns/{campaign}", "A campaign and what it did: sent, deferred, skipped by reason", {}),
    ("post", "/admin/tenants/{tenant}/jobs/nurture",
     "Run the nurture job now: enrol, then queue the mail that is due (read from the due index alone)",
     {"answer": {"$ref": "#/components/schemas/NurtureReport"}}),
]

# -- tables of their own, added to this one: the console's pages, the admin API's lists, the template
# reads of the templates screen, the sources screen's routes (chalicelib/openapi_<part>.py)
from chalicelib import openapi_console, openapi_content, openapi_lists, openapi_sources  # noqa: E402

SCHEMAS.update(openapi_lists.SCHEMAS)
SCHEMAS.update(openapi_sources.SCHEMAS)
OPERATIONS += openapi_console.OPERATIONS + openapi_lists.OPERATIONS + openapi_content.OPERATIONS + openapi_sources.OPERATIONS

_PATH_PARAMS = {"tenant": TENANT, "person_id": PERSON_ID, "source": SLUG, "agency": SLUG, "token": {"type": "string"},
                "kind": {"type": "string", "enum": TEMPLATE_KINDS},
                "locale": {"type": "string", "enum": ["ja", "en"]}, "token_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                "grant_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                "segment": SLUG, "campaign": SLUG,
                "version": {"type": "string", "pattern": "^(ja|en|r)-[0-9a-f]{16}$"}}
_PATH_PARAMS.update(openapi_sources.PATH_PARAMS)


def _responses(spec: dict, public: bool) -> dict:
    ok = spec.get("ok", 200)
    if spec.get("html"):
        body = {"text/html": {"schema": {"type": "string"}}}
    else:
        body = {"application/json": {"schema": spec.get("answer", ANY_OBJECT)}}
    if spec.get("csv"):
        body["text/csv"] = {"schema": {"type": "string", "description": spec["csv"]}}
    answers = {str(ok): {"description": "done", "content": body},
               "400": {"description": "bad request", "content": {"application/json": {"schema": ERROR}}},
               "404": {"description": "no such record (or tenant)", "content": {"application/json": {"schema": ERROR}}}}
    if spec.get("unverified"):
        answers["401"] = {"description": spec["unverified"], "content": {"application/json": {"schema": ERROR}}}
    if not public:
        answers["401"] = {"description": "no valid token", "content": {"application/json": {"schema": ERROR}}}
        answers["403"] = {"description": "the token or IAM principal is for another tenant, or not the platform's",
                          "content": {"application/json": {"schema": ERROR}}}
    return answers


def _path_param(name: str) -> dict:
    if name == "source":  # the registered ones: anything else is a 404
        from integrations.registry import POLLED, SOURCES

        return _param(name, "path", {"type": "string", "enum": sorted({*SOURCES, *POLLED})})
    return _param(name, "path", _PATH_PARAMS[name])


def _operation(method: str, path: str, summary: str, spec: dict) -> dict:
    public = spec.get("public", False)
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    operation = {"operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
                 "summary": summary, "tags": ["public" if public else "admin"],
                 "parameters": [_path_param(name) for name in names] + spec.get("query", []),
                 "responses": _responses(spec, public)}
    body = spec.get("body")
    if spec.get("form"):
        body = {"application/x-www-form-urlencoded": {"type": "object", "additionalProperties": {"type": "string"}}}
    if body is not None:
        media = body if all("/" in key for key in body) else {"application/json": body}
        operation["requestBody"] = {"required": not spec.get("optional_body"),
                                    "content": {kind: {"schema": schema} for kind, schema in media.items()}}
    if public:
        operation["security"] = []
    return operation


@cache
def document() -> dict:
    paths: dict[str, dict] = {}
    for method, path, summary, spec in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relations hub", "version": "1",
                 "description": "Admin API (bearer token locally, IAM SigV4 in AWS) and the public routes: vendor "
                                "webhooks, the Career Relay and unsubscribe pages. Errors are JSON: {error, message}."},
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "HUB_ADMIN_TOKEN (all tenants) or a tenant token"}}},
        "security": [{"bearer": []}],
    }


def routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every described operation."""
    return {(method.upper(), path) for method, path, _, _ in OPERATIONS}
