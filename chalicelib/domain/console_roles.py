"""Who may open what in the HR console and the admin API: roles from Cognito groups, and ONE table of
route x minimum role (docs/console.md, docs/security.md "The console").

Groups (the ID token's `cognito:groups`): `platform-admin` (every tenant, and what only the platform
does); per tenant `<tenant>:admin`, `<tenant>:editor`, `<tenant>:viewer`. Each role includes the ones
below it: viewer reads people, KPIs and the audit trail; editor also changes tags, segments,
campaigns, templates and imports; admin also sources, agencies, slots, settings, users, exports and
erasure; platform-admin everything on every tenant.

`ROUTES` names every console route and every admin route (method, Chalice path) with the least it
needs. The console guard (chalicelib/handlers/console.py) reads it on every console request; the
admin API's principals map onto the same ladder (the all-tenants token and platform IAM principals
are `platform-admin`; a tenant token or a granted IAM principal is `<tenant>:admin`), and
tests/unit/test_console_roles.py holds every registered route of app.py to this table for every role."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Level(IntEnum):
    """What a route needs, weakest first. The tenant roles apply to the tenant in the path."""

    PUBLIC = 0     # no session (the sign-in pages)
    SIGNED_IN = 1  # any live session (the tenant chooser, sign-out)
    VIEWER = 2
    EDITOR = 3
    ADMIN = 4
    PLATFORM = 5   # platform-admin only


PLATFORM_GROUP = "platform-admin"
TENANT_ROLES = {"viewer": Level.VIEWER, "editor": Level.EDITOR, "admin": Level.ADMIN}
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class Grants:
    """What a signed-in person holds: platform-admin, and a role per tenant (the strongest group wins)."""

    platform: bool = False
    tenants: Mapping[str, Level] = field(default_factory=dict)

    def level_for(self, tenant: str | None) -> Level:
        """The person's level on a tenant (SIGNED_IN when they hold no role there)."""
        if self.platform:
            return Level.PLATFORM
        return self.tenants.get(tenant, Level.SIGNED_IN) if tenant else Level.SIGNED_IN

    def role_name(self, tenant: str) -> str | None:
        level = self.level_for(tenant)
        if level == Level.PLATFORM:
            return PLATFORM_GROUP
        return next((name for name, value in TENANT_ROLES.items() if value == level), None)


def grants(groups: Iterable[object]) -> Grants:
    """The grants a list of Cognito groups stands for; anything else in it is ignored."""
    platform, tenants = False, dict[str, Level]()
    for group in groups:
        if not isinstance(group, str):
            continue
        if group == PLATFORM_GROUP:
            platform = True
            continue
        tenant, _, role = group.rpartition(":")
        if role in TENANT_ROLES and _TENANT.fullmatch(tenant):
            tenants[tenant] = max(tenants.get(tenant, Level.SIGNED_IN), TENANT_ROLES[role])
    return Grants(platform=platform, tenants=tenants)


def allowed(held: Grants, needed: Level, tenant: str | None) -> bool:
    """May someone with `held` use a route that needs `needed`, on `tenant` (None: no tenant in the path)?"""
    if needed <= Level.SIGNED_IN:
        return True
    if needed == Level.PLATFORM:
        return held.platform
    return tenant is not None and held.level_for(tenant) >= needed


P, S, V, E, A, X = Level.PUBLIC, Level.SIGNED_IN, Level.VIEWER, Level.EDITOR, Level.ADMIN, Level.PLATFORM
T = "/admin/tenants/{tenant}"

# (method, path as declared in app.py) -> the least it needs
ROUTES: Mapping[tuple[str, str], Level] = {
    # -- the console ---------------------------------------------------------------------------
    ("GET", "/console/sign-in"): P,
    ("POST", "/console/sign-in"): P,           # local stage only: the password goes to Cognito
    ("GET", "/console/auth/callback"): P,
    ("POST", "/console/sign-out"): S,
    ("GET", "/console"): S,
    ("GET", "/console/t/{tenant}"): V,
    # -- e18-people: the pool and a person (chalicelib/handlers/console_people.py, console_person.py)
    ("GET", "/console/t/{tenant}/people"): V, ("POST", "/console/t/{tenant}/people"): E,
    ("GET", "/console/t/{tenant}/people.csv"): A,
    ("GET", "/console/t/{tenant}/people/{person_id}"): V, ("POST", "/console/t/{tenant}/people/{person_id}/tags"): E,
    ("GET", "/console/t/{tenant}/people/{person_id}/export"): A,
    ("POST", "/console/t/{tenant}/people/{person_id}/erase"): A,
    ("POST", "/console/t/{tenant}/people/{person_id}/merge"): A,
    # -- end e18-people
    # -- e18-admin: import (editor), audit (viewer), users (admin) -------------------------------
    ("GET", "/console/t/{tenant}/import"): E, ("POST", "/console/t/{tenant}/import/preview"): E,
    ("POST", "/console/t/{tenant}/import"): E, ("GET", "/console/t/{tenant}/audit"): V,
    ("GET", "/console/t/{tenant}/users"): A, ("POST", "/console/t/{tenant}/users/invite"): A,
    ("POST", "/console/t/{tenant}/users/role"): A, ("POST", "/console/t/{tenant}/users/disable"): A,
    ("POST", "/console/t/{tenant}/users/enable"): A,
    # -- e20-content: templates (editor), settings (admin) ---------------------------------------
    ("GET", "/console/t/{tenant}/templates"): E, ("GET", "/console/t/{tenant}/templates/{kind}/{locale}"): E,
    ("POST", "/console/t/{tenant}/templates/{kind}/{locale}"): E,
    ("GET", "/console/t/{tenant}/settings"): A, ("POST", "/console/t/{tenant}/settings"): A,
    ("POST", "/console/t/{tenant}/settings/delivery"): A, ("POST", "/console/t/{tenant}/settings/routing"): A,
    # -- e20-programs: agencies and the ledger, segments, campaigns, KPIs (console_programs.py, console_kpis.py)
    ("GET", "/console/t/{tenant}/agencies"): V, ("GET", "/console/t/{tenant}/agencies/{agency}"): V,
    ("POST", "/console/t/{tenant}/agencies/{agency}/slots/use"): A,
    ("GET", "/console/t/{tenant}/segments"): V, ("POST", "/console/t/{tenant}/segments"): E,
    ("GET", "/console/t/{tenant}/segments/{segment}"): V,
    ("GET", "/console/t/{tenant}/campaigns"): V, ("GET", "/console/t/{tenant}/campaigns/{campaign}"): V,
    ("POST", "/console/t/{tenant}/campaigns/{campaign}/pause"): E,
    ("POST", "/console/t/{tenant}/campaigns/{campaign}/resume"): E,
    ("GET", "/console/t/{tenant}/kpis"): V, ("GET", "/console/t/{tenant}/kpis.csv"): V,
    # -- end e20-programs
    # -- the admin API -------------------------------------------------------------------------
    ("GET", "/admin/openapi.json"): V,
    ("GET", f"{T}/people"): V, ("GET", f"{T}/people/{{person_id}}"): V, ("GET", f"{T}/audit"): V,
    ("GET", f"{T}/kpis"): V, ("GET", f"{T}/dashboard"): V, ("GET", f"{T}/settings"): V,
    ("GET", f"{T}/templates/{{kind}}/{{locale}}"): V, ("GET", f"{T}/segments/{{segment}}"): V,
    ("GET", f"{T}/campaigns/{{campaign}}"): V, ("GET", f"{T}/consent_texts/{{version}}"): V,
    ("GET", f"{T}/agencies/{{agency}}"): V, ("GET", f"{T}/agencies/{{agency}}/ledger"): V,
    ("PATCH", f"{T}/people/{{person_id}}"): E, ("POST", f"{T}/imports"): E,
    ("PUT", f"{T}/templates/{{kind}}/{{locale}}"): E, ("POST", f"{T}/templates/{{kind}}/{{locale}}/preview"): E,
    ("PUT", f"{T}/segments/{{segment}}"): E, ("PUT", f"{T}/campaigns/{{campaign}}"): E,
    ("POST", f"{T}/jobs/nurture"): E, ("POST", f"{T}/jobs/kpi_publish"): E,
    ("DELETE", f"{T}/people/{{person_id}}"): A, ("GET", f"{T}/people/{{person_id}}/export"): A,
    ("POST", f"{T}/people/{{person_id}}/notices/requeue"): A, ("GET", f"{T}/provisions"): A,
    ("PUT", f"{T}/sources/{{source}}"): A, ("POST", f"{T}/jobs/poll_sources"): A,
    ("POST", f"{T}/sources/{{source}}/jobs/ats_backfill"): A,
    ("PUT", f"{T}/settings"): A, ("PUT", f"{T}/agencies/{{agency}}"): A, ("POST", f"{T}/jobs/agency_batch"): A,
    ("POST", f"{T}/agencies/{{agency}}/slots/use"): A, ("PUT", f"{T}/routing"): A, ("GET", f"{T}/routing"): V,
    ("POST", f"{T}/tokens"): X, ("GET", f"{T}/tokens"): X, ("DELETE", f"{T}/tokens/{{token_id}}"): X,
    ("POST", f"{T}/principals"): X, ("GET", f"{T}/principals"): X, ("DELETE", f"{T}/principals/{{grant_id}}"): X,
    # -- issue 18, the admin API's lists (docs/admin-api.md "Lists"): segments, their members, campaigns
    # and agencies are read like their single GETs (viewer: members are people, and viewers read people;
    # an agency holds no secret, its auth is a boolean). Sources are the admin's configuration (vendor
    # API addresses, credential failures): admin, like their single GET, which the table had missed.
    ("GET", f"{T}/segments"): V, ("GET", f"{T}/segments/{{segment}}/members"): V, ("GET", f"{T}/campaigns"): V,
    ("GET", f"{T}/agencies"): V, ("GET", f"{T}/sources"): A, ("GET", f"{T}/sources/{{source}}"): A,
    # a merge joins two people for good: the admin decides (docs/security.md); the table had missed it
    ("POST", f"{T}/people/{{person_id}}/merge"): A,
    # -- e20-content: template reads for the console's templates screen (configuration, like GET .../templates/{kind}/{locale})
    ("GET", f"{T}/templates"): V, ("GET", f"{T}/templates/{{kind}}/{{locale}}/versions"): V,
    # -- e20-sources: a source's deliveries, test event and secret; the tenant's dead letters (admin:
    # sources are the admin's configuration, and a redrive sends mail)
    ("GET", f"{T}/sources/{{source}}/deliveries"): A, ("POST", f"{T}/sources/{{source}}/test"): A,
    ("POST", f"{T}/sources/{{source}}/rotate"): A, ("GET", f"{T}/dead_letters"): A,
    ("POST", f"{T}/dead_letters/{{message_id}}/redrive"): A,
    ("GET", "/console/t/{tenant}/sources"): A, ("GET", "/console/t/{tenant}/sources/{source}"): A,
    ("POST", "/console/t/{tenant}/sources/{source}/test"): A, ("POST", "/console/t/{tenant}/sources/{source}/rotate"): A,
    ("POST", "/console/t/{tenant}/sources/{source}/end_previous"): A, ("POST", "/console/t/{tenant}/sources/{source}/poll"): A,
    ("POST", "/console/t/{tenant}/dead_letters/redrive"): A,
    # -- end e20-sources
}


def needed(method: str, path: str) -> Level | None:
    """The least a route needs; None for a route the table does not name (refused: fail closed)."""
    return ROUTES.get((method.upper(), path))
