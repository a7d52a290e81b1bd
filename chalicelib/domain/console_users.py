"""The HR console's users as a tenant admin manages them (issue 18, the users screen): the people of
the console's Cognito user pool, their groups, whether they may sign in. The ConsoleUsers port is
the pool's admin API (AdminCreateUser, AdminAddUserToGroup, ...): the boto3 adapter is
chalicelib/adapters/console_users.py, the fake tests/fakes.py (InMemoryConsoleUsers), and
tests/contract/test_ports_console_users.py holds both to the same contract (the adapter on moto).

E-mail addresses are personal data: they are shown to the tenant's admin on the page, never logged
and never written to the audit trail (its target is the user's Cognito `sub`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.console_roles import PLATFORM_GROUP, TENANT_ROLES

ROLE_NAMES = tuple(TENANT_ROLES)  # viewer, editor, admin (weakest first)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")+")


@dataclass(frozen=True)
class ConsoleUser:
    """One user of the pool: its username (the e-mail for users invited here), its `sub`, its e-mail,
    whether it may sign in, Cognito's status (FORCE_CHANGE_PASSWORD until the first sign-in), its groups."""

    username: str
    subject: str
    email: str | None
    enabled: bool
    status: str
    groups: tuple[str, ...]

    def role_on(self, tenant: str) -> str | None:
        """The strongest of the tenant's roles the user holds (None: none)."""
        held = [role for role in ROLE_NAMES if f"{tenant}:{role}" in self.groups]
        return held[-1] if held else None

    def beyond(self, tenant: str) -> bool:
        """Whether the user holds anything outside the tenant: platform-admin or another tenant's group."""
        return any(group == PLATFORM_GROUP or not group.startswith(f"{tenant}:") for group in self.groups)


def tenant_groups(tenant: str) -> tuple[str, ...]:
    return tuple(f"{tenant}:{role}" for role in ROLE_NAMES)


def valid_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.fullmatch(text))


class ConsoleUsers(Protocol):
    """The console's user pool, through its admin API. Usernames are the pool's (case-insensitive
    pools compare them case-insensitively); groups must exist already."""

    def in_groups(self, groups: tuple[str, ...]) -> list[ConsoleUser]:
        """The users in any of these groups, each once, with all of their groups."""

    def user(self, username: str) -> ConsoleUser | None:
        """One user with all of its groups; None when the pool has no such user."""

    def create(self, email: str) -> ConsoleUser:
        """A new user named by the e-mail (verified attribute `email`); Cognito mails the temporary
        password. An existing user of that name: returned as it is (nothing is sent)."""

    def add_to_group(self, username: str, group: str) -> None: ...

    def remove_from_group(self, username: str, group: str) -> None: ...

    def set_enabled(self, username: str, enabled: bool) -> None:
        """AdminEnableUser / AdminDisableUser."""
