"""The connection on its own: llhttp framing split anywhere, named errors, bounds, request safety."""

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.perfpipe.loadtest.clients.endpoints import FlatEndpoint
from include.perfpipe.loadtest.contract import Endpoint
from include.perfpipe.loadtest.http.connection import HttpConnection
from include.perfpipe.loadtest.http.cookies import CookieJar
from include.perfpipe.loadtest.http.framing import MAX_HEADER_BYTES, PreparedRequest, serialise
from tests.unit.loadtest.framing import HOSTILE, UNTIL_CLOSE, VALID

CHECKED = "tests.unit.loadtest.test_connection:any_response"


def any_response(response: httpx.Response) -> bool:
    return response is not None


class Owner:
    def __init__(self):
        self.events = []

    def completed(self, conn, status, body):
        self.events.append(("completed", status, body))

    def failed(self, conn, error):
        self.events.append(("failed", error))

    def lost(self, conn):
        self.events.append(("lost",))


class Transport:
    def __init__(self):
        self.written, self.closed = [], False

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True

    abort = close


def _endpoint(**kwargs):
    return FlatEndpoint(Endpoint(name="e", url="http://127.0.0.1:1/x", **kwargs)).request


def _conn(endpoint=None, cookies=None, follow_redirects=False):
    owner, conn = Owner(), None
    conn = HttpConnection(owner, cookies, follow_redirects)
    conn.connection_made(Transport())
    conn.send(endpoint or _endpoint(check=CHECKED), 0.0)
    return owner, conn


def _feed(conn, data: bytes, cuts=()):
    edges = [0, *sorted(set(cuts)), len(data)]
    for a, b in zip(edges, edges[1:], strict=False):
        if b > a:
            conn.data_received(data[a:b])


def _outcome(raw: bytes, cuts=(), close=False, checked=True):
    owner, conn = _conn(None if checked else _endpoint(), CookieJar(), True)
    _feed(conn, raw, cuts)
    if close:
        conn.connection_lost(None)
    return owner.events, conn.closed


def test_request_bytes_come_from_httpx_with_our_default_headers():
    request = httpx.Request("POST", "http://127.0.0.1:8000/items?a=1", headers={"X-T": "1"}, json={"a": 1})
    raw = serialise(request)
    assert raw.startswith(b"POST /items?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-T: 1\r\n")
    assert raw.endswith(b'Content-Type: application/json\r\n\r\n{"a":1}')
    prepared = _endpoint()
    assert prepared.raw == prepared.head + prepared.tail and prepared.tail == b"\r\n"
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in prepared.head


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_framing_completes_and_keeps_the_connection_when_allowed(name):
    raw, status, body = VALID[name]
    events, closed = _outcome(raw)
    assert events == [("completed", status, body)]
    assert closed == (b"close" in raw.lower())


@pytest.mark.parametrize("name", sorted(UNTIL_CLOSE))
def test_a_body_read_until_the_close(name):
    raw, status, body = UNTIL_CLOSE[name]
    events, _ = _outcome(raw)
    assert events == []  # not over before the close
    events, closed = _outcome(raw, close=True)
    assert events == [("completed", status, body), ("lost",)] and closed


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_framing_fails_with_a_named_error_and_drops_the_connection(name):
    raw, error = HOSTILE[name]
    events, closed = _outcome(raw, close=True)
    assert events[0] == ("failed", error) and closed
    assert [e for e in events if e[0] != "lost"] == [("failed", error)]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(VALID) + sorted(UNTIL_CLOSE)), data=st.data(), checked=st.booleans())
def test_any_split_parses_like_no_split(name, data, checked):
    """Either parser: a body kept for a check (full), or not kept and the head in one piece (lean)."""
    raw = {**VALID, **UNTIL_CLOSE}[name][0]
    cuts = data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=12))
    close = name in UNTIL_CLOSE
    assert _outcome(raw, cuts, close, checked) == _outcome(raw, (), close, checked)


@pytest.mark.parametrize("name", sorted(VALID) + sorted(UNTIL_CLOSE) + sorted(HOSTILE))
def test_the_lean_and_the_full_parser_agree(name):
    raw = {**VALID, **UNTIL_CLOSE, **HOSTILE}[name][0]
    (lean, lean_closed), (full, full_closed) = (_outcome(raw, close=True, checked=c) for c in (False, True))
    assert [e[:2] for e in lean] == [e[:2] for e in full] and lean_closed == full_closed  # status or error


def test_a_vus_cookies_go_with_its_next_requests_and_only_when_it_has_some():
    jar = CookieJar()
    owner, conn = _conn(_endpoint(), jar)
    assert conn.transport.written == [conn.request.raw]  # an empty jar: the pre-built bytes untouched
    conn.data_received(b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 0\r\n\r\n")
    conn.send(conn.request, 0.0)
    assert conn.transport.written[-1] == conn.request.head + b"Cookie: sid=1\r\n" + conn.request.tail
    conn.data_received(b"HTTP/1.1 200 OK\r\nSET-COOKIE: sid=2\r\nContent-Length: 0\r\n\r\n")  # any case
    conn.send(conn.request, 0.0)
    assert conn.transport.written[-1] == conn.request.head + b"Cookie: sid=2\r\n" + conn.request.tail
    owner, other = _conn(_endpoint(), CookieJar())
    other.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    other.send(other.request, 0.0)
    assert other.transport.written[-1] == other.request.raw  # another VU's jar: nothing of the first
    owner, off = _conn(_endpoint())  # cookies off
    off.data_received(b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nContent-Length: 0\r\n\r\n")
    off.send(off.request, 0.0)
    assert off.transport.written[-1] == off.request.raw


def test_a_redirect_leaves_its_location_only_when_redirects_are_followed():
    response = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"
    for follow, location in ((True, b"/next"), (False, None)):
        owner, conn = _conn(_endpoint(), follow_redirects=follow)
        conn.data_received(response)
        assert owner.events == [("completed", 302, None)] and conn.location == location


def test_two_responses_in_a_row_on_one_connection():
    owner, conn = _conn(_endpoint())
    conn.data_received(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    conn.send(conn.request, 0.0)
    conn.data_received(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
    assert owner.events == [("completed", 201, None), ("completed", 503, None)] and not conn.closed


def test_bytes_beyond_the_response_drop_the_connection_after_it():
    owner, conn = _conn(_endpoint())
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert owner.events == [("completed", 200, None)] and conn.closed
    owner, conn = _conn(_endpoint())
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    conn.data_received(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # nothing asked: not a response to us
    assert owner.events == [("completed", 200, None)] and conn.closed


def test_head_has_no_body_and_the_connection_stays_usable():
    owner, conn = _conn(FlatEndpoint(Endpoint(name="h", url="http://127.0.0.1:1/", method="HEAD")).request)
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    conn.send(conn.request, 0.0)
    conn.data_received(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert owner.events == [("completed", 200, None), ("completed", 404, None)] and not conn.closed


def test_headers_are_capped_in_lines_and_in_one_endless_line():
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\n")
    for _ in range(MAX_HEADER_BYTES // 1000 + 1):
        conn.data_received(b"X-A: " + b"a" * 1000 + b"\r\n")
    assert owner.events == [("failed", "HeadersTooLarge")] and conn.closed
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\nX-A: ")
    for _ in range(MAX_HEADER_BYTES // 4096 + 1):
        conn.data_received(b"a" * 4096)
    assert owner.events == [("failed", "HeadersTooLarge")] and conn.closed


def test_a_kept_body_is_capped_and_other_bodies_are_not_kept():
    checked = FlatEndpoint(Endpoint(name="c", url="http://127.0.0.1:1/", check=CHECKED), max_body_bytes=1000)
    owner, conn = _conn(checked.request)
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
    conn.data_received(b"a" * 999)
    assert owner.events == [] and conn._kept == 999
    conn.data_received(b"a" * 2)
    assert owner.events == [("failed", "BodyTooLarge")] and conn.closed
    owner, conn = _conn(_endpoint())
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n")
    for _ in range(50):
        conn.data_received(b"a" * 100_000)
    assert owner.events == [("completed", 200, None)] and conn._parts is None and conn._kept == 0


def test_failures_are_reported_once():
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    conn.connection_lost(ConnectionResetError())
    assert owner.events == [("failed", "ReadError"), ("lost",)]
    owner, conn = _conn()
    conn.fail("ReadTimeout")
    conn.fail("ReadTimeout")
    assert owner.events == [("failed", "ReadTimeout")] and conn.transport.closed


def test_expected_status_and_checks_judge_success():
    plain = FlatEndpoint(Endpoint(name="c", url="http://127.0.0.1:1/", expect_status=[201, 202]))
    assert plain.judge(202, None) and not plain.judge(200, None)
    checked = FlatEndpoint(
        Endpoint(name="c", url="http://127.0.0.1:1/", check="tests.unit.loadtest.test_connection:is_hello")
    )
    ok = httpx.Response(200, content=b"hello")
    assert checked.judge(200, ok) and not checked.judge(200, httpx.Response(200, content=b"bye"))
    with pytest.raises(ValueError, match=r"check: cannot import 'nowhere:fn'"):
        FlatEndpoint(Endpoint(name="c", url="http://127.0.0.1:1/", check="nowhere:fn"))


def test_every_client_sends_one_request_shape_that_judges_nothing():
    """A flat endpoint's request and one built from bytes (a journey's) are one type; the judging is the
    client's (``FlatEndpoint.judge``, ``journey.session.Exchange``), not the request's."""
    raw = b"HEAD /a?b=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    built = PreparedRequest("s", "api", raw, "127.0.0.1", 8, None, ("HEAD", "http://127.0.0.1:8/a?b=1"), True, 10)
    assert (
        built.no_body and built.head == raw[:-2] and built.tail == b"\r\n" and built.url == "http://127.0.0.1:8/a?b=1"
    )
    assert type(_endpoint()) is type(built) is PreparedRequest
    assert [name for name in ("judge", "respond", "expect", "check") if hasattr(built, name)] == []


def is_hello(response: httpx.Response) -> bool:
    return response.text == "hello"


@pytest.mark.parametrize(
    "headers, named",
    [
        ({"X-Token": "a\r\nX-Injected: 1"}, "'X-Token'"),
        ({"X-Token": "a\nb"}, "'X-Token'"),
        ({"X-Token": "a\rb"}, "'X-Token'"),
        ({"X-Bad\r\nName": "1"}, r"'X-Bad\\r\\nName'"),
        ({"X Space": "1"}, "'X Space'"),
    ],
)
def test_cr_or_lf_in_a_header_is_refused_naming_it(headers, named):
    with pytest.raises(ValueError, match=f"endpoint 'e'.*{named}"):
        FlatEndpoint(Endpoint(name="e", url="http://127.0.0.1:1/", headers=headers))


def test_sending_on_a_connection_the_server_closed_fails_at_once():
    owner, conn = Owner(), None
    conn = HttpConnection(owner)
    conn.connection_made(Transport())
    conn.connection_lost(None)
    conn.send(_endpoint(), 0.0)
    assert owner.events == [("lost",), ("failed", "RemoteProtocolError")] and not conn.busy
    assert conn.transport.written == []
