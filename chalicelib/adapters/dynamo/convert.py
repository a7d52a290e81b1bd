"""Items <-> domain values, in one place: what a store reads becomes a Person, Referral, Batch,
Schedule, ... (never an item), and what it writes is built here from domain values."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.models import (
    BatchItem,
    HubItem,
    IdentityItem,
    IndexItem,
    NoticeItem,
    NurtureItem,
    PersonItem,
    ProvisionItem,
    ReferralItem,
    TokenItem,
)
from chalicelib.domain import phones
from chalicelib.domain.events import HubEvent, iso, utc
from chalicelib.domain.notices import NoticePlan
from chalicelib.domain.nurture import Schedule
from chalicelib.domain.people import TERMS_FORM, stored_terms
from chalicelib.domain.person import Person, Track
from chalicelib.domain.records import Batch, JsonDict, MailedNotice, NoticeView, Referral, SentMail, TokenInfo


def texts(values: Any) -> tuple[str, ...]:
    """A stored list of strings (PynamoDB types a ListAttribute's items as the attribute class)."""
    return tuple(values or ())


# -- people -----------------------------------------------------------------------------------------


def person(item: PersonItem, tenant: str, person_id: str) -> Person:
    phone, phone_display = item.phone, item.phone_display
    if phone and phone_display is None:  # stored before E.164: the typed number, read in the default region
        phone, phone_display = phones.read(phone).e164, phone
    return Person(
        tenant=tenant, person_id=person_id, name=item.name, email=item.email, phone=phone, phone_display=phone_display,
        locale=item.locale, contact_at=item.contact_at or "",
        tracks={k: Track(**v) for k, v in (item.tracks or {}).items()},
        milestones=dict(item.milestones or {}),
        extra_roles=texts(item.extra_roles), tags=texts(item.tags),
        consents=dict(item.consents or {}), identities=texts(item.identities),
        created_at=item.created_at or "", last_contact_at=item.last_contact_at, version=item.version,
        family_name=item.family_name, given_name=item.given_name, family_kana=item.family_kana, given_kana=item.given_kana,
        terms_form=int(item.terms_form or 1),
    )


def relay_consent_at(person: Person) -> str | None:
    """When relay consent was given, while it stands (a batch's claim checks it in its transaction)."""
    relay = person.consents.get("relay") or {}
    return relay.get("at") if relay.get("given") else None


def person_item(person: Person, *, updated_at: str) -> PersonItem:
    item = PersonItem(
        *keys.profile_key(person.tenant, person.person_id),
        name=person.name, email=person.email, phone=person.phone, phone_display=person.phone_display, locale=person.locale,
        family_name=person.family_name, given_name=person.given_name, family_kana=person.family_kana,
        given_kana=person.given_kana, contact_at=person.contact_at,
        tracks={k: {name: value for name, value in (("status", t.status), ("at", t.at), ("stage", t.stage), ("reason", t.reason))
                    if value is not None} for k, t in person.tracks.items()},
        milestones=person.milestones,
        extra_roles=list(person.extra_roles), roles=list(person.roles), tags=list(person.tags),
        consents=person.consents, identities=list(person.identities), created_at=person.created_at,
        last_contact_at=person.last_contact_at, relay_consent_at=relay_consent_at(person), terms_form=TERMS_FORM,
    )
    if person.version is not None:
        item.version = person.version
    item.updated_at = updated_at
    return item


def pointers(person: Person) -> list[HubItem]:
    """The items outside a person's partition that lead to them: identities and search terms."""
    found: list[HubItem] = [IndexItem(*keys.index_key(person.tenant, person.person_id, kind, value))
                            for kind, value in sorted(stored_terms(person))]
    for identity in person.identities:
        source, _, vendor_id = identity.partition(":")
        found.append(IdentityItem(*keys.identity_key(person.tenant, source, vendor_id)))
    if person.email:
        found.append(IdentityItem(*keys.email_identity_key(person.tenant, person.email)))
    return found


# -- notices ------------------------------------------------------------------------------------------

def notice_item(tenant: str, person_id: str, notice: str, planned: NoticePlan, event: HubEvent) -> NoticeItem:
    due = iso(planned.due_at)
    return NoticeItem(keys.person_pk(tenant, person_id), notice, notice_kind=planned.kind, status="pending",
                      track=planned.track, fact_at=iso(event.occurred_at), due_at=due, source=event.source,
                      job_title=event.job_title, gsi1pk=keys.outbox_pk(tenant), gsi1sk=keys.outbox_sk(due, tenant, person_id, notice))


def notice_view(item: NoticeItem, person: Person) -> NoticeView:
    mailed = item.mailed
    return NoticeView(kind=item.notice_kind, status=item.status, track=item.track, fact_at=item.fact_at,
                      source=item.source, job_title=item.job_title, person=person, waiting=item.waiting,
                      mailed=MailedNotice(kind=mailed["kind"], mail=SentMail(**mailed["mail"]), entry=mailed["entry"])
                      if mailed else None)


def notice_document(item: NoticeItem) -> JsonDict:
    document = {"kind": item.notice_kind, "status": item.status, "due_at": item.due_at, "decided_at": item.decided_at,
                "source": item.source, "job_title": item.job_title}
    if item.waiting:
        document = {**document, "waiting": item.waiting}
    if item.attempts:
        document = {**document, "attempts": item.attempts}
    return {**document, "reason": item.reason} if item.reason else document


# -- referrals, batches, provision records ---------------------------------------------------------

def queued_referral_item(tenant: str, person_id: str, agency: str, when: str, version: str,
                         text_version: str) -> ReferralItem:
    """A new referral queued under the agency's consent version (version) the person consented to."""
    return ReferralItem(*keys.referral_key(tenant, person_id, agency), agency=agency,
                        referral_id=keys.referral_id(tenant, person_id, agency), status="queued", queued_at=when,
                        consent_at=when, consent_version=version, text_version=text_version,
                        gsi1pk=keys.queued_pk(tenant, agency), gsi1sk=keys.waiting_person_sk(when, person_id))


def referral(item: ReferralItem, tenant: str) -> Referral:
    return Referral(tenant=tenant, person_id=keys.person_id_of(item.pk), agency=item.agency,
                    referral_id=item.referral_id, status=item.status, consent_at=item.consent_at,
                    consent_version=item.consent_version, batch_id=item.batch_id, provision=item.provision_sk,
                    text_version=item.text_version or item.consent_version)


def referral_document(item: ReferralItem) -> JsonDict:
    return {"agency": item.agency, "referral_id": item.referral_id, "status": item.status, "queued_at": item.queued_at,
            "decided_at": item.decided_at, "withdrawn_at": item.withdrawn_at, "consent_at": item.consent_at,
            "consent_version": item.consent_version, "text_version": item.text_version or item.consent_version}


def batch(item: BatchItem, tenant: str) -> Batch:
    return Batch(tenant=tenant, agency=item.agency, batch_id=keys.batch_id_of(item.sk),
                 idempotency_key=item.idempotency_key, status=item.status, members=list(texts(item.members)),
                 attempts=int(item.attempts or 0))


def new_batch_item(tenant: str, agency: str, batch_id: str, created_at: str) -> BatchItem:
    return BatchItem(*keys.batch_key(tenant, agency, batch_id), agency=agency, status="sending", members=[],
                     idempotency_key=batch_id, attempts=0, created_at=created_at,
                     gsi1pk=keys.open_batches_pk(tenant, agency), gsi1sk=keys.open_batch_sk(created_at, batch_id))


def provision_item(referral: Referral, batch: Batch, provided_at: str, record: JsonDict) -> ProvisionItem:
    """A provision record (APPI Art. 29) from what the use case says of it: recipient, data items,
    consent, keep_until (and person_name); it expires (TTL) when it need not be kept any more."""
    expires = record.get("expires_at") or record["keep_until"]
    return ProvisionItem(
        keys.provision_pk(referral.tenant, referral.person_id), keys.provision_sk(provided_at, batch.agency, batch.batch_id),
        person_id=referral.person_id, agency=batch.agency, batch_id=batch.batch_id,
        idempotency_key=batch.idempotency_key, referral_id=referral.referral_id, provided_at=provided_at,
        recipient=record["recipient"], data_items=list(record["data_items"]), consent=record["consent"],
        keep_until=record["keep_until"] if isinstance(record["keep_until"], str) else iso(record["keep_until"]),
        person_name=record.get("person_name"), expires_at=expires if isinstance(expires, datetime) else utc(expires))


def provision_document(item: ProvisionItem) -> JsonDict:
    return {"person_id": item.person_id, "agency": item.agency, "recipient": item.recipient,
            "data_items": list(texts(item.data_items)), "consent": item.consent, "provided_at": item.provided_at,
            "batch_id": item.batch_id, "idempotency_key": item.idempotency_key, "referral_id": item.referral_id,
            "agency_answer": item.agency_answer, "keep_until": item.keep_until}


# -- nurture schedules -------------------------------------------------------------------------------

def schedule(item: NurtureItem) -> Schedule:
    return Schedule(campaign=item.campaign, enrolled_at=item.enrolled_at, occurrence=item.occurrence,
                    next_due=item.next_due, last_done=item.last_done, last_outcome=item.last_outcome)


def nurture_item(tenant: str, person_id: str, schedule: Schedule, now: str) -> NurtureItem:
    item = NurtureItem(*keys.nurture_key(tenant, person_id, schedule.campaign), campaign=schedule.campaign,
                       enrolled_at=schedule.enrolled_at, occurrence=schedule.occurrence, next_due=schedule.next_due,
                       last_done=schedule.last_done, last_outcome=schedule.last_outcome, updated_at=now)
    if schedule.next_due:  # listed in the due index while it waits
        item.gsi1pk = keys.nurture_due_pk(tenant)
        item.gsi1sk = keys.nurture_due_sk(schedule.next_due, schedule.campaign, person_id)
    return item


# -- link tokens and raw items ----------------------------------------------------------------------

def token_info(item: TokenItem, tenant: str) -> TokenInfo:
    return TokenInfo(tenant=tenant, person_id=item.person_id, purpose=item.purpose, valid_until=item.valid_until,
                     csrf=item.csrf, notice=item.notice, opened_at=item.opened_at, channel=item.channel or "hub_notice")


def link_document(item: TokenItem) -> JsonDict:
    return {"purpose": item.purpose, "created_at": item.created_at, "valid_until": item.valid_until,
            "opened_at": item.opened_at, "channel": item.channel or "hub_notice"}


def numbers(raw: dict[str, Any]) -> dict[str, int]:
    """The number attributes of a raw item (counters, a ledger), by name."""
    return {name: int(value["N"]) for name, value in raw.items() if "N" in value}
