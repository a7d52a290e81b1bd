"""The console's users of one tenant (issue 18, the users screen; docs/console.md "Screens"): who may
sign in to the tenant, inviting an HR user by e-mail with a role, changing a role, disabling and
enabling. Through the ConsoleUsers port (the pool's admin API).

A tenant admin sees and changes only the tenant's own groups (`<tenant>:admin|editor|viewer`): never
`platform-admin`, never another tenant's group. A user who holds platform-admin keeps their role
here unless a platform admin changes it; disabling a user who may open anything beyond this tenant
(another tenant, the platform) is the platform's call, since it shuts them out everywhere. No one
takes their own admin role away or disables themselves (no lock-out)."""
from __future__ import annotations

from chalicelib.domain.console import Identity
from chalicelib.domain.console_roles import PLATFORM_GROUP, Grants
from chalicelib.domain.console_users import ROLE_NAMES, ConsoleUser, ConsoleUsers, tenant_groups, valid_email
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.services.common import check_tenant


class ConsoleTeam:
    def __init__(self, users: ConsoleUsers | None) -> None:
        self._users = users

    def _port(self) -> ConsoleUsers:
        if self._users is None:
            raise BadRequest("this hub has no console user pool (HUB_CONSOLE_ISSUER)")
        return self._users

    def users(self, tenant: str) -> list[ConsoleUser]:
        """The tenant's users, admins first, then by e-mail or username (none without a pool)."""
        check_tenant(tenant)
        found = self._users.in_groups(tenant_groups(tenant)) if self._users is not None else []
        return sorted(found, key=lambda u: (-ROLE_NAMES.index(u.role_on(tenant) or "viewer"), (u.email or u.username).lower()))

    def invite(self, tenant: str, email: str, role: str) -> ConsoleUser:
        """A user for the e-mail (a new one gets Cognito's invitation mail) in the tenant's role group."""
        check_tenant(tenant)
        email = (email or "").strip()
        if not valid_email(email):
            raise BadRequest("email must be an e-mail address (name@example.co.jp)")
        _check_role(role)
        user = self._port().create(email)
        if user.role_on(tenant) is not None:
            raise BadRequest("this person is already a user of this tenant: change their role instead")
        self._port().add_to_group(user.username, f"{tenant}:{role}")
        return user

    def set_role(self, tenant: str, username: str, role: str, *, by: Identity, held: Grants) -> ConsoleUser:
        """The user's one role on the tenant: the new group first, then the others of the tenant go."""
        _check_role(role)
        user = self._member(tenant, username)
        if PLATFORM_GROUP in user.groups and not held.platform:
            raise Forbidden("a platform administrator's roles are changed by the platform")
        if user.subject == by.subject and role != "admin" and not held.platform:
            raise BadRequest("you cannot take away your own admin role: ask another admin")
        self._port().add_to_group(user.username, f"{tenant}:{role}")
        for group in tenant_groups(tenant):
            if group != f"{tenant}:{role}" and group in user.groups:
                self._port().remove_from_group(user.username, group)
        return user

    def set_enabled(self, tenant: str, username: str, enabled: bool, *, by: Identity, held: Grants) -> ConsoleUser:
        """AdminDisableUser / AdminEnableUser: for the whole pool, so only for users of this tenant alone."""
        user = self._member(tenant, username)
        if user.beyond(tenant) and not held.platform:
            raise Forbidden("this user may open more than this tenant: the platform disables or enables them")
        if user.subject == by.subject and not enabled:
            raise BadRequest("you cannot disable yourself: ask another admin")
        self._port().set_enabled(user.username, enabled)
        return user

    def _member(self, tenant: str, username: str) -> ConsoleUser:
        """A user of this tenant; anyone else (another tenant's, or no one) is refused alike: 403."""
        check_tenant(tenant)
        user = self._port().user(username) if username and len(username) <= 128 else None
        if user is None or user.role_on(tenant) is None:
            raise Forbidden("not a user of this tenant")
        return user


def _check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        raise BadRequest(f"role must be one of {', '.join(ROLE_NAMES)}")
