"""The raw HTTP/1.1 parser: framing by Content-Length, chunks and close, split anywhere across reads."""
import httpx
import pytest

from include.perfpipe.loadtest.connection import HttpConnection, Prepared, serialise
from include.perfpipe.loadtest.spec import Endpoint


class Owner:
    def __init__(self):
        self.events = []

    def completed(self, conn, status, response):
        self.events.append(("completed", status, response))

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


def _conn(endpoint=None):
    owner, conn = Owner(), None
    conn = HttpConnection(owner)
    conn.connection_made(Transport())
    conn.send(Prepared(endpoint or Endpoint(name="e", url="http://127.0.0.1:1/x")), 0.0)
    return owner, conn


def _feed(conn, data: bytes, step: int):
    for i in range(0, len(data), step):
        conn.data_received(data[i:i + step])


def test_request_bytes_come_from_httpx():
    request = httpx.Request("POST", "http://127.0.0.1:8000/items?a=1", headers={"X-T": "1"}, json={"a": 1})
    raw = serialise(request)
    assert raw.startswith(b"POST /items?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-T: 1\r\n")
    assert raw.endswith(b"Content-Type: application/json\r\n\r\n{\"a\":1}")


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
@pytest.mark.parametrize("response", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length:5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
])
def test_framing_split_anywhere(response, step):
    owner, conn = _conn(Endpoint(name="e", url="http://127.0.0.1:1/x", check="tests.unit.loadtest.test_connection:is_hello"))
    _feed(conn, response, step)
    ((kind, status, parsed),) = owner.events
    assert (kind, status, parsed.content, conn.busy, conn.closed) == ("completed", 200, b"hello", False, False)


def is_hello(response: httpx.Response) -> bool:
    return response.text == "hello"


def test_two_responses_in_a_row_on_one_connection():
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    conn.send(conn.endpoint, 0.0)
    conn.data_received(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
    assert [e[:2] for e in owner.events] == [("completed", 201), ("completed", 503)]


def test_connection_close_and_read_until_close():
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx")
    assert owner.events[0][:2] == ("completed", 200) and conn.closed and conn.transport.closed
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.0 200 OK\r\n\r\nbody without length")
    assert owner.events == []
    conn.connection_lost(None)
    assert [e[:2] for e in owner.events] == [("completed", 200), ("lost",)]


def test_head_and_204_have_no_body():
    owner, conn = _conn(Endpoint(name="h", url="http://127.0.0.1:1/", method="HEAD"))
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
    owner2, conn2 = _conn()
    conn2.data_received(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert owner.events[0][:2] == ("completed", 200) and owner2.events[0][:2] == ("completed", 204)


def test_failures_are_reported_once():
    owner, conn = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    conn.connection_lost(ConnectionResetError())
    assert owner.events == [("failed", "ReadError"), ("lost",)]
    owner, conn = _conn()
    conn.data_received(b"garbage\r\n\r\n")
    conn.connection_lost(None)
    assert owner.events == [("failed", "RemoteProtocolError"), ("lost",)]
    owner, conn = _conn()
    conn.fail("ReadTimeout")
    conn.fail("ReadTimeout")
    assert owner.events == [("failed", "ReadTimeout")] and conn.transport.closed


def test_expected_status_and_checks_judge_success():
    plain = Prepared(Endpoint(name="c", url="http://127.0.0.1:1/", expect_status=[201, 202]))
    assert plain.judge(202, None) and not plain.judge(200, None)
    checked = Prepared(Endpoint(name="c", url="http://127.0.0.1:1/", check="tests.unit.loadtest.test_connection:is_hello"))
    ok = httpx.Response(200, content=b"hello")
    assert checked.judge(200, ok) and not checked.judge(200, httpx.Response(200, content=b"bye"))
    with pytest.raises(ValueError, match=r"check: cannot import 'nowhere:fn'"):
        Prepared(Endpoint(name="c", url="http://127.0.0.1:1/", check="nowhere:fn"))


def test_sending_on_a_connection_the_server_closed_fails_at_once():
    owner, conn = Owner(), None
    conn = HttpConnection(owner)
    conn.connection_made(Transport())
    conn.connection_lost(None)
    conn.send(Prepared(Endpoint(name="e", url="http://127.0.0.1:1/x")), 0.0)
    assert owner.events == [("lost",), ("failed", "RemoteProtocolError")] and not conn.busy
    assert conn.transport.written == []
