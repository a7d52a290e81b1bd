"""What erasure removes after the profile is gone (DynamoRelations.erase), and where a person's
link tokens are (their references in the person's partition)."""
from __future__ import annotations

from chalicelib.adapters.dynamo import keys, reads
from chalicelib.adapters.dynamo.models import HubItem, MarkerItem, PersonItem, ReferralItem, TokenItem, TokenRefItem
from chalicelib.domain import referrals
from chalicelib.domain.events import utc


def tokens_of(tenant: str, items: list[HubItem]) -> list[TokenItem]:
    """The link tokens referenced from a person's partition (its items as read)."""
    wanted = [keys.token_key_of(tenant, keys.token_digest_of_ref(item.sk)) for item in items if isinstance(item, TokenRefItem)]
    return [item for item in reads.batch_get(wanted).values() if isinstance(item, TokenItem)]


def erase_rest(tenant: str, items: list[HubItem], now: str) -> None:
    """Delete the rest of an erased person's partition and their link tokens. Referrals that never
    left the hub go; those an agency has stay, minimal, queued for a withdrawal notice (APPI Art. 35)
    and kept as long as the provision records."""
    doomed: list[HubItem] = [item for item in items if not isinstance(item, (PersonItem, ReferralItem, MarkerItem))]
    doomed += tokens_of(tenant, items)
    for referral in items:
        if not isinstance(referral, ReferralItem):
            continue
        if referral.status in ("queued", "withdrawn") or (referral.status == referrals.HELD and not referral.batch_id):
            doomed.append(referral)  # nothing left the hub
        elif not referral.withdrawn_at and referral.gsi1pk is None:  # the agency has the data: tell it
            person_id = keys.person_id_of(referral.pk)
            referral.update(actions=[ReferralItem.gsi1pk.set(keys.withdrawals_pk(tenant, referral.agency)),
                                     ReferralItem.gsi1sk.set(keys.waiting_person_sk(now, person_id)),
                                     ReferralItem.expires_at.set(referrals.keep_until(utc(now)))])
    with HubItem.batch_write() as batch:
        for item in doomed:
            batch.delete(item)
