"""The ConsoleUsers port on the console's Cognito user pool (boto3 cognito-idp, its admin API):
ListUsersInGroup, AdminGetUser, AdminListGroupsForUser, ListUsers (by e-mail), AdminCreateUser,
AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminDisableUser, AdminEnableUser. The Lambda role
may call these on the console's pool only (infra/stacks/console.py, `grant_user_admin`).

Invited users get a generated username and the e-mail as a verified attribute: the deployed pool
signs in by username or e-mail alias, and such a pool refuses a username shaped like an address."""
from __future__ import annotations

import secrets
from typing import Any

from chalicelib.domain.console_users import ConsoleUser


class CognitoConsoleUsers:
    def __init__(self, pool_id: str, region: str, client: Any = None) -> None:
        self._pool_id = pool_id
        self._region = region
        self._given = client

    def _idp(self) -> Any:
        if self._given is None:
            import boto3  # on first use (cold start)

            self._given = boto3.client("cognito-idp", region_name=self._region)
        return self._given

    def _groups(self, username: str) -> tuple[str, ...]:
        groups: list[str] = []
        for page in self._idp().get_paginator("admin_list_groups_for_user").paginate(UserPoolId=self._pool_id, Username=username):
            groups.extend(group["GroupName"] for group in page.get("Groups", ()))
        return tuple(sorted(groups))

    def _user(self, found: dict[str, Any], attributes_key: str) -> ConsoleUser:
        attributes = {a["Name"]: a["Value"] for a in found.get(attributes_key, ())}
        username = found["Username"]
        return ConsoleUser(username=username, subject=attributes.get("sub", ""), email=attributes.get("email"),
                           enabled=bool(found.get("Enabled", True)), status=found.get("UserStatus", ""),
                           groups=self._groups(username))

    def in_groups(self, groups: tuple[str, ...]) -> list[ConsoleUser]:
        idp, seen = self._idp(), dict[str, ConsoleUser]()
        for group in groups:
            try:
                for page in idp.get_paginator("list_users_in_group").paginate(UserPoolId=self._pool_id, GroupName=group):
                    for found in page.get("Users", ()):
                        if found["Username"] not in seen:
                            seen[found["Username"]] = self._user(found, "Attributes")
            except idp.exceptions.ResourceNotFoundException:
                continue  # the tenant's group was never made: no one holds it
        return list(seen.values())

    def user(self, username: str) -> ConsoleUser | None:
        idp = self._idp()
        try:
            found = idp.admin_get_user(UserPoolId=self._pool_id, Username=username)
        except idp.exceptions.UserNotFoundException:
            return None
        return self._user(found, "UserAttributes")

    def create(self, email: str) -> ConsoleUser:
        idp = self._idp()
        quoted = email.replace("\\", "").replace('"', "")
        listed = idp.list_users(UserPoolId=self._pool_id, Filter=f'email = "{quoted}"', Limit=2).get("Users", [])
        same = [u for u in listed if any(a["Name"] == "email" and a["Value"].lower() == email.lower()
                                         for a in u.get("Attributes", ()))]
        if same:
            return self._user(same[0], "Attributes")
        created = idp.admin_create_user(
            UserPoolId=self._pool_id, Username="hr-" + secrets.token_hex(8), DesiredDeliveryMediums=["EMAIL"],
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])["User"]
        return self._user(created, "Attributes")

    def add_to_group(self, username: str, group: str) -> None:
        self._idp().admin_add_user_to_group(UserPoolId=self._pool_id, Username=username, GroupName=group)

    def remove_from_group(self, username: str, group: str) -> None:
        self._idp().admin_remove_user_from_group(UserPoolId=self._pool_id, Username=username, GroupName=group)

    def set_enabled(self, username: str, enabled: bool) -> None:
        call = self._idp().admin_enable_user if enabled else self._idp().admin_disable_user
        call(UserPoolId=self._pool_id, Username=username)
