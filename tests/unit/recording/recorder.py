"""A HAR 1.2 recorder for tests: an httpx transport that writes down every request it sends and the
response it gets (each redirect hop an entry, as a browser's DevTools records them), and a browser-like
session through the demo service's shop that uses it.

Hosts in ``stubs`` are answered by a local httpx ``MockTransport`` (no network): the third-party
requests a page makes (a CDN script, an analytics beacon) are recorded as the browser would record them.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Accept-Language": "en-GB,en;q=0.9",
    "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-platform": '"Linux"',
}
_TEXT = re.compile(r"^(text/|application/(json|javascript|x-www-form-urlencoded|xml))|\+json$")


class HarRecorder(httpx.BaseTransport):
    def __init__(self, stubs: dict[str, httpx.BaseTransport] | None = None) -> None:
        self.stubs, self.network, self.entries = stubs or {}, httpx.HTTPTransport(), []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, clock = datetime.now(UTC), time.perf_counter()
        sent = request.read()
        response = self.stubs.get(request.url.host, self.network).handle_request(request)
        received = response.read()
        self.entries.append(_entry(request, sent, response, received, started, time.perf_counter() - clock))
        return response

    def har(self) -> dict:
        return {"log": {"version": "1.2", "creator": {"name": "perfpipe test recorder", "version": "1"},
                        "pages": [], "entries": self.entries}}  # fmt: skip

    def close(self) -> None:
        self.network.close()


def _entry(request, sent: bytes, response, received: bytes, started: datetime, seconds: float) -> dict:
    request_type = request.headers.get("content-type", "")
    response_type = response.headers.get("content-type", "")
    content = {"size": len(received), "mimeType": response_type}
    if _TEXT.search(response_type.split(";")[0]):
        content["text"] = received.decode("utf-8", "replace")
    elif received:
        content.update(text=base64.b64encode(received).decode("ascii"), encoding="base64")
    entry = {
        "startedDateTime": started.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "time": round(seconds * 1000, 3),
        "request": {
            "method": request.method,
            "url": str(request.url),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in request.headers.multi_items()],
            "queryString": [{"name": k, "value": v} for k, v in request.url.params.multi_items()],
            "headersSize": -1,
            "bodySize": len(sent),
        },
        "response": {
            "status": response.status_code,
            "statusText": response.reason_phrase,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in response.headers.multi_items()],
            "content": content,
            "redirectURL": response.headers.get("location", ""),
            "headersSize": -1,
            "bodySize": len(received),
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(seconds * 1000, 3), "receive": 0},
    }
    if sent:
        entry["request"]["postData"] = {"mimeType": request_type, "text": sent.decode("utf-8", "replace")}
    return entry


def write_har(recorder: HarRecorder, path: Path) -> Path:
    path.write_text(json.dumps(recorder.har(), indent=1), encoding="utf-8")
    return path


def _third_parties(request: httpx.Request) -> httpx.Response:
    if request.url.host == "cdn.example.com":
        return httpx.Response(200, text="window.widgets = {};\n", headers={"Content-Type": "application/javascript"})
    return httpx.Response(204)  # analytics.example.net/collect


def record_shop(base_url: str, path: Path, user: int = 1) -> Path:
    """A shopper's session, recorded: the newsletter form (a CSRF hidden input, posted, redirected) with
    its stylesheet and two third-party requests, the login, then twice: list items, open one, add it to
    the cart (a cookie session), show the cart, order it and read the order back by its id."""
    stub = httpx.MockTransport(_third_parties)
    recorder = HarRecorder({"cdn.example.com": stub, "analytics.example.net": stub})
    page = f"{base_url}/newsletter"
    document = {"Accept": "text/html", "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
    api = {"Accept": "application/json", "Origin": base_url, "Referer": f"{base_url}/shop", "Sec-Fetch-Mode": "cors"}
    with httpx.Client(transport=recorder, headers=BROWSER, follow_redirects=True, timeout=10) as browser:
        form = browser.get(page, headers=document)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        browser.get(f"{base_url}/static/shop.css", headers={"Accept": "text/css", "Referer": page})
        browser.get("https://cdn.example.com/js/widgets.js", headers={"Accept": "*/*", "Referer": page})
        browser.post(
            "https://analytics.example.net/collect", content=b'{"event": "page_view"}', headers={"Referer": page}
        )
        posted = browser.post(
            page, data={"csrf_token": token, "email": f"user-{user}@example.com"},
            headers={**document, "Origin": base_url, "Referer": page},
        )  # fmt: skip
        assert posted.status_code == 200 and posted.url.path == "/newsletter/thanks", posted.text
        login = browser.post(
            f"{base_url}/auth/login", json={"username": f"user-{user}", "password": f"pw-{user}"}, headers=api
        )
        auth = {**api, "Authorization": f"Bearer {login.json()['token']}"}
        for pick in (1, 2):
            items = browser.get(f"{base_url}/items", params={"limit": 5, "offset": 100}, headers=auth).json()
            item = items[pick]["id"]
            browser.get(f"{base_url}/items/{item}", headers=auth).raise_for_status()
            browser.post(f"{base_url}/cart/items", json={"item_id": item}, headers=auth).raise_for_status()
            browser.get(f"{base_url}/cart", headers=auth).raise_for_status()
            order = browser.post(f"{base_url}/orders", json={"item_id": item, "quantity": 1}, headers=auth)
            assert order.status_code == 201, order.text
            browser.get(f"{base_url}/orders/{order.json()['id']}", headers=auth).raise_for_status()
    return write_har(recorder, path)
