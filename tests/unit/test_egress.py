"""The egress policy: which URLs and mail servers the hub may call (chalicelib/domain/egress.py,
integrations/egress.py), that a connection goes to the address that was checked, and that a
redirect is never followed. Resolution is injected (tests.fakes.FakeResolver): no DNS."""
from __future__ import annotations

import ipaddress
import ssl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from chalicelib.domain import egress as rules
from chalicelib.domain.errors import EgressRefused, PermanentError, RetryableError
from integrations.egress import EgressPolicy
from integrations.http import VendorApi
from tests.fakes import FakeResolver
from tests.tls import authority

PUBLIC = FakeResolver.PUBLIC

REFUSED_URLS = [
    "http://agency.example.com/v1",          # plain http
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.1", "https://172.16.0.1", "https://192.168.1.1", "https://100.64.0.1",
    "https://127.0.0.1", "https://127.1", "https://[::1]", "https://[::]", "https://0.0.0.0",
    "https://0x7f000001", "https://2130706433", "https://017700000001", "https://0177.0.0.1", "https://0x7f.1",
    "https://[::ffff:127.0.0.1]", "https://[::ffff:7f00:1]", "https://[::ffff:169.254.169.254]",
    "https://[64:ff9b::a9fe:a9fe]",           # NAT64 of 169.254.169.254
    "https://[2002:7f00:1::]",                # 6to4 of 127.0.0.1
    "https://[fe80::1]", "https://[fd00:ec2::254]", "https://[fec0::1]", "https://[ff02::1]",
    "https://224.0.0.1", "https://240.0.0.1", "https://255.255.255.255", "https://192.0.2.1",
    "https://[fe80::1%25eth0]",
    "https://user:pw@api.example.com", "https://api.example.com@evil.example",
    "https://api.example.com\\@evil.example", "https://api.exa mple.com", "https://api.example.com:0",
    "https://api.example.com:99999", "ftp://api.example.com", "javascript:alert(1)", "//api.example.com",
    "https://bücher.example", "https://-bad-.example", "", "https://",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_outside_the_local_stage_these_urls_are_refused(url):
    with pytest.raises(EgressRefused):
        EgressPolicy(resolve=FakeResolver()).check_url(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "::ffff:127.0.0.1", "fd00::1",
                                     "0.0.0.0", "224.0.0.251", "100.100.100.200"])
def test_a_name_that_resolves_to_a_refused_address_is_refused(address):
    resolver = FakeResolver({"vendor.example.com": [PUBLIC, address]})  # one bad address among good ones is enough
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy(resolve=resolver).check_url("https://vendor.example.com/api")
    assert refused.value.code == "egress_refused" and "public internet" in refused.value.message


def test_a_name_that_does_not_resolve_reads_the_same_as_a_private_one():
    policy = EgressPolicy(resolve=FakeResolver({"nowhere.example.com": [], "inside.example.com": ["10.1.2.3"]}))
    messages = set()
    for url in ("https://nowhere.example.com", "https://inside.example.com"):
        with pytest.raises(EgressRefused) as refused:
            policy.check_url(url, what="endpoint")
        messages.add(refused.value.message)
    assert messages == {"endpoint must name a host on the public internet"}  # no oracle for internal names


@pytest.mark.parametrize("url", ["https://api.lever.co/v1", "https://acme.smarthr.jp/api", "https://8.8.8.8/x",
                                 "https://[2001:4860:4860::8888]/", "https://agency.example.com:8443/v1",
                                 "https://api.example.com./v1", "https://[64:ff9b::808:808]"])
def test_public_https_urls_pass(url):
    EgressPolicy(resolve=FakeResolver()).check_url(url)


def test_the_local_stage_allows_loopback_http_and_nothing_else_private():
    local = EgressPolicy(allow_loopback=True, resolve=FakeResolver({"localhost": ["127.0.0.1", "::1"]}))
    for url in ("http://127.0.0.1:8123/v1", "http://localhost:9000", "https://[::1]:8443", "http://[::ffff:127.0.0.1]:80"):
        local.check_url(url)
    for url in ("http://10.0.0.1", "https://169.254.169.254", "http://api.example.com", "https://[fd00::1]",
                "https://0x7f000001"):  # a loopback address written as a number is still refused
        with pytest.raises(EgressRefused):
            local.check_url(url)
    strict = EgressPolicy(resolve=FakeResolver({"localhost": ["127.0.0.1"]}))
    for url in ("http://127.0.0.1:8123/v1", "http://localhost:9000", "https://localhost", "https://[::1]:8443"):
        with pytest.raises(EgressRefused):
            strict.check_url(url)


def test_mail_servers_are_checked_the_same_way_and_need_tls_outside_the_local_stage():
    strict = EgressPolicy(resolve=FakeResolver({"mail.internal.example": ["10.0.0.25"]}))
    strict.check_mail_server("smtp.example.com", 587, tls=True)
    for host, port, tls in (("smtp.example.com", 25, False), ("127.0.0.1", 587, True), ("mail.internal.example", 465, True),
                            ("0x7f000001", 587, True), ("smtp.example.com/x", 587, True), ("[::1]", 587, True)):
        with pytest.raises(EgressRefused):
            strict.check_mail_server(host, port, tls=tls)
    local = EgressPolicy(allow_loopback=True, resolve=FakeResolver())
    local.check_mail_server("127.0.0.1", 1025, tls=False)
    with pytest.raises(EgressRefused):
        local.check_mail_server("smtp.example.com", 25, tls=False)  # plain SMTP only to loopback


@pytest.mark.parametrize("host,expected", [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"), ("0177.0.0.01", "127.0.0.1"), ("10.1", "10.0.0.1"), ("169.254.43518", "169.254.169.254"),
    ("8.8.8.8", "8.8.8.8"), ("4294967296", None), ("1.2.3.4.5", None), ("09.1.1.1", None), ("256.1.1.1", None)])
def test_numeric_hosts_are_read_as_resolvers_read_them(host, expected):
    found = rules.numeric_ipv4(host)
    assert (str(found) if found else None) == expected


def test_documented_host_patterns_match_one_label_only():
    patterns = ("api.lever.co", "*.smarthr.jp")
    assert rules.host_matches("api.lever.co", patterns) and rules.host_matches("acme.smarthr.jp", patterns)
    assert rules.host_matches("ACME.smarthr.jp.", patterns)
    for host in ("smarthr.jp", "a.b.smarthr.jp", "evilsmarthr.jp", "api.lever.co.evil.example", "lever.co", ".smarthr.jp"):
        assert not rules.host_matches(host, patterns), host


# -- any input: an answer or a clean refusal, never an exception ------------------------------------

URLISH = st.one_of(
    st.text(max_size=120),
    st.builds(lambda scheme, host, rest: f"{scheme}://{host}{rest}",
              st.sampled_from(["https", "http", "HTTPS", "ftp", ""]),
              st.one_of(st.text(max_size=40), st.ip_addresses().map(lambda a: f"[{a}]" if a.version == 6 else str(a)),
                        st.integers(min_value=0, max_value=2**40).map(str), st.integers(min_value=0, max_value=2**32).map(hex),
                        st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True)),
              st.text(max_size=30)),
)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=URLISH, addresses=st.lists(st.ip_addresses().map(str), max_size=3), loopback=st.booleans())
def test_any_string_is_allowed_or_cleanly_refused(url, addresses, loopback):
    policy = EgressPolicy(allow_loopback=loopback, resolve=lambda host, port: addresses)
    try:
        destination = policy.destination(url)
    except EgressRefused as refused:
        assert refused.status == 400 and refused.message
        return
    # what passed is https (or loopback http in the local stage) to checked addresses only
    assert destination.addresses and destination.endpoint.scheme in ("https", "http")
    for address in destination.addresses:
        assert rules.refusal(address) is None or (loopback and rules.is_loopback(address))
    if destination.endpoint.scheme == "http":
        assert loopback and all(rules.is_loopback(a) for a in destination.addresses)


@settings(max_examples=300, deadline=None, database=None)
@given(host=st.text(max_size=60), port=st.integers(min_value=-5, max_value=70000), tls=st.booleans())
def test_any_mail_server_is_allowed_or_cleanly_refused(host, port, tls):
    try:
        EgressPolicy(resolve=lambda h, p: [PUBLIC]).check_mail_server(host, port, tls=tls)
    except EgressRefused as refused:
        assert refused.status == 400


@given(number=st.integers(min_value=0, max_value=2**128 - 1))
def test_every_address_is_judged_without_error(number):
    address = ipaddress.IPv6Address(number) if number >= 2**32 else ipaddress.IPv4Address(number)
    reason = rules.refusal(address)
    assert reason is None or isinstance(reason, str)
    if any(a.is_loopback or a.is_private or a.is_link_local for a in rules.carried(address)):
        assert reason is not None


# -- the connection goes to the checked address; redirects are not followed ----------------------------

@pytest.fixture
def server():
    found = HTTPServer(host="127.0.0.1", port=0)
    found.start()
    yield found
    found.clear()
    found.stop()


def test_a_name_is_resolved_once_and_the_connection_goes_to_the_address_that_was_checked(server):
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])  # a rebinding DNS: good first, bad afterwards
    asked = []

    def rebinding(host, port):
        asked.append(host)
        return next(answers)

    server.expect_request("/api/ping").respond_with_json({"ok": True})
    api = VendorApi(vendor="acme", base_url=f"http://vendor.test:{server.port}/api", egress=EgressPolicy(allow_loopback=True,
                                                                                                          resolve=rebinding))
    assert api.get("/ping") == {"ok": True}
    assert asked == ["vendor.test"]  # one resolution per call: the address checked is the address connected to
    [(request, _)] = server.log
    assert request.headers["Host"] == f"vendor.test:{server.port}"  # the name, not the address, travels
    with pytest.raises(PermanentError, match="could not be reached"):
        api.get("/ping")  # the next call resolves again and is refused: DNS can change
    assert len(server.log) == 1


def test_https_connects_to_the_checked_address_and_verifies_the_certificate_for_the_name(tmp_path):
    ca = authority(tmp_path, hosts=("vendor.test",))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=ca.server_context)
    server.expect_request("/api/ping").respond_with_json({"ok": True})
    server.start()
    try:
        policy = EgressPolicy(allow_loopback=True, resolve=lambda host, port: ["127.0.0.1"])
        api = VendorApi(vendor="acme", base_url=f"https://vendor.test:{server.port}/api", egress=policy)
        api.session.verify = str(ca.ca_file)
        assert api.get("/ping") == {"ok": True}  # SNI and the certificate for vendor.test, connected to 127.0.0.1
        other = VendorApi(vendor="acme", base_url=f"https://other.test:{server.port}/api", egress=policy)
        other.session.verify = str(ca.ca_file)
        with pytest.raises(RetryableError):  # the certificate does not name other.test: nothing is sent
            other.get("/ping")
        assert len(server.log) == 1
        assert isinstance(ca.server_context, ssl.SSLContext)
    finally:
        server.clear()
        server.stop()


def test_a_redirect_is_not_followed_and_the_auth_header_goes_nowhere_else(server):
    elsewhere = HTTPServer(host="127.0.0.1", port=0)
    elsewhere.expect_request("/steal").respond_with_json({"stolen": True})
    elsewhere.start()
    try:
        server.expect_request("/api/ping").respond_with_data("", status=302,
                                                             headers={"Location": elsewhere.url_for("/steal")})
        api = VendorApi(vendor="smartrecruiters", base_url=server.url_for("/api"), headers={"X-SmartToken": "platform-key"},
                        egress=EgressPolicy(allow_loopback=True))
        with pytest.raises(PermanentError, match="redirect"):
            api.get("/ping")
        assert elsewhere.log == []  # only the no-redirect rule stopped it: loopback is allowed here
        with pytest.raises(PermanentError, match="another host"):
            api.get(elsewhere.url_for("/steal"))  # a whole URL off the configured origin is not called either
        assert elsewhere.log == []
    finally:
        elsewhere.clear()
        elsewhere.stop()
