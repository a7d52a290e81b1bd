"""Console sign-in and sessions on the fakes: one path after the tokens, a new id at every sign-in,
8 h absolute and 30 min idle, sign-out, CSRF, and the managed login's state taken once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.console import digest
from chalicelib.domain.errors import Forbidden, Unauthorized
from chalicelib.services.console import code_challenge


def signed_in(services, *groups: str, subject: str = "sub-1"):
    id_token = services.ports.id_tokens.issue(subject, *groups, username="hanako")
    return services.console.open(id_token)


def test_sign_in_opens_a_new_session_each_time_and_stores_only_its_hash(services):
    first = signed_in(services, "acme:viewer")
    second = signed_in(services, "acme:viewer")

    assert first.session_id != second.session_id and first.session.csrf != second.session.csrf
    stored = services.ports.sessions.sessions
    assert set(stored) == {digest(first.session_id), digest(second.session_id)}
    assert first.session_id not in repr(stored) and len(first.session_id) >= 43
    assert services.console.session(first.session_id).identity.groups == ("acme:viewer",)


def test_a_session_ends_after_30_idle_minutes(services):
    opened = signed_in(services)
    clock = services.ports.clock
    clock.advance(minutes=29)
    assert services.console.session(opened.session_id) is not None  # a use moves the idle clock
    clock.advance(minutes=29)
    assert services.console.session(opened.session_id) is not None
    clock.advance(minutes=30)
    assert services.console.session(opened.session_id) is None


def test_a_session_ends_8_hours_after_sign_in_however_busy(services):
    opened = signed_in(services)
    clock = services.ports.clock
    for _ in range(16 * 2 - 1):  # a request every 15 minutes for 7 h 45 min
        clock.advance(minutes=15)
        assert services.console.session(opened.session_id) is not None
    clock.advance(minutes=15)
    assert services.console.session(opened.session_id) is None


def test_sign_out_ends_the_session(services):
    opened = signed_in(services)
    services.console.sign_out(opened.session)
    assert services.console.session(opened.session_id) is None
    assert services.ports.sessions.sessions == {}


def test_unknown_or_absurd_session_ids_are_no_session(services):
    signed_in(services)
    for given in ("", "x", "y" * 500):
        assert services.console.session(given) is None


def test_a_form_without_the_sessions_csrf_token_is_refused(services):
    opened = signed_in(services)
    other = signed_in(services, subject="sub-2")
    services.console.check_csrf(opened.session, opened.session.csrf)
    for given in (None, "", other.session.csrf, opened.session.csrf + "x"):
        with pytest.raises(Forbidden):
            services.console.check_csrf(opened.session, given)


def test_a_token_the_verifier_refuses_opens_nothing(services):
    with pytest.raises(Unauthorized):
        services.console.open("forged")
    assert services.ports.sessions.sessions == {}


def test_the_managed_login_flow_uses_pkce_and_its_state_once(services):
    sign_in = services.ports.sign_in
    started = services.console.start_sign_in()
    [(state, challenge)] = sign_in.authorized
    assert state == started.state
    pending = services.ports.sessions.sign_ins[digest(state)]
    assert challenge == code_challenge(pending.code_verifier) and state not in repr(services.ports.sessions.sign_ins)
    sign_in.codes[("the-code", pending.code_verifier)] = services.ports.id_tokens.issue("sub-1", "acme:admin")

    with pytest.raises(Unauthorized):  # the state in the URL is not the one this browser started with
        services.console.finish_sign_in(state, "another-state", "the-code")
    opened = services.console.finish_sign_in(state, state, "the-code")
    assert opened.session.identity.groups == ("acme:admin",)
    with pytest.raises(Unauthorized):  # taken once
        services.console.finish_sign_in(state, state, "the-code")


def test_an_unfinished_sign_in_lapses_after_ten_minutes(services):
    started = services.console.start_sign_in()
    services.ports.clock.advance(timedelta(minutes=11))
    with pytest.raises(Unauthorized):
        services.console.finish_sign_in(started.state, started.state, "code")


def test_console_actions_are_audited_under_the_users_sub_never_an_address(services):
    opened = signed_in(services, "acme:admin", subject="4f1c-sub")
    services.console.audit(opened.session, "acme", "settings.change")
    entries = services.access.audit_entries("acme", {})["entries"]
    assert entries[0]["who"] == "user:4f1c-sub" and "hanako" not in repr(entries)
