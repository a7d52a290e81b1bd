"""The OpenAPI description of the HR console's pages (docs/console.md), added to chalicelib/openapi.py's
table."""
from __future__ import annotations

OPERATIONS: list[tuple[str, str, str, dict]] = [
    # the HR console (docs/console.md): a session cookie, not a bearer token; every POST carries its CSRF token
    ("get", "/console/sign-in", "Console sign-in: the managed login (AWS, 302) or the local password form",
     {"public": True, "html": True}),
    ("post", "/console/sign-in", "Console sign-in with a password (local stage only)",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("get", "/console/auth/callback", "The managed login's callback (authorization code + PKCE)",
     {"public": True, "html": True, "ok": 303}),
    ("post", "/console/sign-out", "End the console session", {"public": True, "html": True, "form": True, "ok": 303}),
    ("get", "/console", "The tenants the signed-in person may open", {"public": True, "html": True}),
    ("get", "/console/t/{tenant}", "A tenant's console home", {"public": True, "html": True}),
    # -- e18-people: the people pool and a person (docs/console.md, "People")
    ("get", "/console/t/{tenant}/people", "The people pool: search by name, reading, e-mail, phone, tag, role, segment",
     {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/people", "Add or remove a tag on the selected people (editor)",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("get", "/console/t/{tenant}/people.csv", "The pool's search results as CSV (admin)", {"public": True, "html": True}),
    ("get", "/console/t/{tenant}/people/{person_id}", "One person: profile, roles, timeline, consents, provisions, notices",
     {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/people/{person_id}/tags", "Edit the person's tags (editor)",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("get", "/console/t/{tenant}/people/{person_id}/export", "The person's export as a JSON download (admin)",
     {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/people/{person_id}/merge", "Merge a suggested person into this one (admin)",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/people/{person_id}/erase", "Erase the person after a typed confirmation (admin)",
     {"public": True, "html": True, "form": True}),
    # e18-admin: the console's import (editor), audit (viewer) and users (admin) screens
    ("get", "/console/t/{tenant}/import", "Console: the CSV upload form", {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/import/preview", "Console: a CSV's dry run (multipart/form-data), nothing stored",
     {"public": True, "html": True, "form": True}),
    ("post", "/console/t/{tenant}/import", "Console: import the previewed CSV", {"public": True, "html": True, "form": True}),
    ("get", "/console/t/{tenant}/audit", "Console: the audit trail (who, action filters)", {"public": True, "html": True}),
    ("get", "/console/t/{tenant}/users", "Console: the tenant's console users", {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/users/invite", "Console: invite a user by e-mail with a role",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/users/role", "Console: change a user's role", {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/users/disable", "Console: disable a user", {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/users/enable", "Console: enable a user", {"public": True, "html": True, "form": True, "ok": 303}),
    # -- e20-content: the templates (editor) and settings (admin) screens
    ("get", "/console/t/{tenant}/templates", "Console: every mail template by kind and language, with the version in use",
     {"public": True, "html": True}),
    ("get", "/console/t/{tenant}/templates/{kind}/{locale}", "Console: a template's editor, preview on a sample person, "
     "variables, history (?version=N loads a kept version)", {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/templates/{kind}/{locale}", "Console: preview (op=preview) or save (op=save) a template; "
     "a refused one answers 400 with the message at its line", {"public": True, "html": True, "form": True}),
    ("get", "/console/t/{tenant}/settings", "Console: the tenant's settings, sender status and DNS records, delivery per "
     "source, routing rules", {"public": True, "html": True}),
    ("post", "/console/t/{tenant}/settings", "Console: save the settings (each refused field named beside it)",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/settings/delivery", "Console: a source's delivery mode",
     {"public": True, "html": True, "form": True, "ok": 303}),
    ("post", "/console/t/{tenant}/settings/routing", "Console: the routing rules (JSON)",
     {"public": True, "html": True, "form": True, "ok": 303}),
]
