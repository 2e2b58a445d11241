"""A VU's cookie jar keeps to the browsers' limits (issue 23, finding 11): 4,096 bytes a cookie, 50 a
domain, 3,000 in all, the oldest evicted; and storing never rescans the jar."""

import http.cookiejar
import time

from include.perfpipe.loadtest.http.cookies import MAX_COOKIE_BYTES, MAX_COOKIES, MAX_PER_DOMAIN, CookieJar


def _set(jar: CookieJar, host: str, names: range, extra: str = "") -> None:
    jar.store(f"http://{host}/x", [f"c{i}=v{i}; Path=/{extra}".encode() for i in names])


def test_responses_of_50_new_cookies_each_keep_the_newest_50_and_a_bounded_line(monkeypatch):
    jar = CookieJar()

    def rescan(_jar):
        raise AssertionError("a store rescanned the jar")

    with monkeypatch.context() as patched:  # storing reads only what it stores
        patched.setattr(http.cookiejar.CookieJar, "__iter__", rescan)
        for response in range(40):
            _set(jar, "shop.test", range(response * 50, response * 50 + 50))
    assert jar.names() == sorted(f"c{i}" for i in range(39 * 50, 40 * 50))
    line = jar.header_line("http://shop.test/x")
    assert line.count(b"=") == MAX_PER_DOMAIN and len(line) < 1024


def test_a_cookie_over_4096_bytes_is_ignored_and_the_oldest_go_past_3000_in_all():
    jar = CookieJar()
    jar.store("http://big.test/", [b"big=" + b"x" * MAX_COOKIE_BYTES, b"small=1"])
    assert jar.names() == ["small"]
    for domain in range(MAX_COOKIES // MAX_PER_DOMAIN + 1):  # one domain more than the total holds
        _set(jar, f"d{domain}.test", range(MAX_PER_DOMAIN))
    assert len(jar.names()) == MAX_COOKIES
    assert jar.header_line("http://big.test/") == b"" and jar.header_line("http://d0.test/x") == b""
    assert jar.header_line("http://d1.test/x").count(b"=") == MAX_PER_DOMAIN  # big.test's one and d0's 50 went


def test_a_deleted_cookie_leaves_the_count():
    jar = CookieJar()
    _set(jar, "a.test", range(MAX_PER_DOMAIN))
    gone = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - 10))
    jar.store("http://a.test/x", [f"c0=v; Path=/; Expires={gone}".encode()])  # in the past: deletes c0
    _set(jar, "a.test", range(100, 101))
    assert len(jar.names()) == MAX_PER_DOMAIN and "c1" in jar.names()  # c0's slot freed: c1 not evicted
