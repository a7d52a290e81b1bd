"""Stored people, made fast: the items the hub wrote for a few real people (through its own code
paths), copied under new ids straight into the endpoint's table (this process holds moto).

A copy is the template's items with every id that names the person replaced: person id, vendor id,
e-mail address and its digest, delivery id, referral id. Attribute shapes and sizes are the hub's."""
from __future__ import annotations

import json
from typing import Any

from bench import common, endpoint


def person_items(table_name: str, person_id: str, vendor_id: str) -> list[dict]:
    """Every item about one person (profile, timeline, notice, referral, identities, delivery), as JSON."""
    from chalicelib.adapters.dynamo import keys

    tenant = common.TENANT
    owned = {keys.person_pk(tenant, person_id), keys.identity_key(tenant, common.SOURCE, vendor_id)[0],
             keys.email_identity_key(tenant, f"{vendor_id}@example.jp")[0],
             keys.delivery_key(tenant, common.SOURCE, f"msg-{vendor_id}:0")[0]}
    return [item.to_json()["Attributes"] for item in endpoint.table(table_name).all_items() if item.hash_key.value in owned]


class Cloner:
    """Copies one template person n times under fresh ids (n-th copy: vendor id '<prefix>-<n>')."""

    def __init__(self, table_name: str, items: list[dict], person_id: str, vendor_id: str, prefix: str) -> None:
        from chalicelib.adapters.dynamo import referral_id
        from chalicelib.domain.people import email_key

        self.table = endpoint.table(table_name)
        self.prefix, self.vendor_id, self.person_id = prefix, vendor_id, person_id
        self.text = json.dumps(items, ensure_ascii=False)
        self._email_key, self._referral_id = email_key, referral_id
        self.copies = 0

    def _ids(self, vendor_id: str, person_id: str) -> list[tuple[str, str]]:
        return [(self.person_id, person_id), (self._referral_id(common.TENANT, self.person_id, common.AGENCY),
                                              self._referral_id(common.TENANT, person_id, common.AGENCY)),
                (self._email_key(f"{self.vendor_id}@example.jp"), self._email_key(f"{vendor_id}@example.jp")),
                (self.vendor_id, vendor_id)]

    def add(self, n: int) -> None:
        from chalicelib.domain.people import new_person_id

        for _ in range(n):
            vendor_id = f"{self.prefix}-{self.copies}"
            text = self.text
            person_id = new_person_id(common.TENANT, common.SOURCE, vendor_id)
            for old, new in self._ids(vendor_id, person_id):
                text = text.replace(old, new)
            for attrs in self.shape(json.loads(text), person_id):
                _insert(self.table, attrs)
            self.copies += 1

    def shape(self, items: list[dict], person_id: str) -> list[dict]:  # noqa: ARG002 - NamedCloner's hook
        """The copy's items as stored (a subclass may change them); the template's as they are."""
        return items


class NamedCloner(Cloner):
    """Copies that each get a name of their own, with its reading (name_of(n) -> family, given,
    family reading, given reading), and the index items the hub keeps for a stored person: its
    search terms (names and readings by prefix, roles, source, likely-match reading), computed by
    the hub's own domain code from the renamed profile, as a write through the hub would store them."""

    def __init__(self, *args: Any, name_of: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name_of = name_of

    def shape(self, items: list[dict], person_id: str) -> list[dict]:
        from chalicelib.adapters.dynamo import convert, keys
        from chalicelib.adapters.dynamo.models import HubItem, IndexItem, PersonItem
        from chalicelib.domain.people import search_terms

        family, given, family_kana, given_kana = self.name_of(self.copies)
        shaped = []
        for attrs in items:
            item = HubItem.from_raw_data(attrs)
            if isinstance(item, PersonItem):
                item.name, item.family_name, item.given_name = f"{family} {given}", family, given
                item.family_kana, item.given_kana = family_kana, given_kana
                person = convert.person(item, common.TENANT, person_id)
                shaped += [IndexItem(*keys.index_key(common.TENANT, person_id, kind, value), person_id=person_id).serialize()
                           for kind, value in sorted(search_terms(person))]
                attrs = item.serialize()
            shaped.append(attrs)
        return shaped


def _insert(table: Any, attrs: dict) -> None:
    """Put an item into moto's table directly (moto's put_item re-validates sizes, O(attributes^2))."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    item = Item.__new__(Item)
    item.hash_key, item.range_key = DynamoType(attrs[table.hash_key_attr]), DynamoType(attrs[table.range_key_attr])
    values = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(values, ((name, DynamoType(value)) for name, value in attrs.items()))
    item.attrs = values
    table.items[item.hash_key][item.range_key] = item


def delete_partition(table_name: str, pk: str) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    endpoint.table(table_name).items.pop(DynamoType({"S": pk}), None)
