"""A response as extraction, checks and metrics read it: status, headers and body, parsed on demand.

Built straight from what the connection read (raw header pairs and body bytes): a step that only
extracts or checks never pays for an ``httpx.Response``. JSON is parsed by msgspec (RFC 8259: no
NaN or Infinity). ``response()`` builds one when something
needs it (a ``module:function`` check, a Python journey). A compressed body was decoded by the connection
as it arrived, under the cap (``loadtest.http.decoding``).
"""

from __future__ import annotations

import httpx
import msgspec

from include.perfpipe.loadtest.http.decoding import DecodedResponse

NOT_JSON = object()
_decode_json = msgspec.json.Decoder().decode  # 3-4x the standard library's json.loads on this path


class Answer:
    __slots__ = ("status", "headers", "raw", "request", "_response", "_body", "_json")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]] = (),
        raw: bytes = b"",
        request: httpx.Request | tuple[str, str] | None = None,
    ) -> None:
        """``headers`` as read (name, value) byte pairs; ``raw`` the body, decoded (``BodyDecoder``)."""
        self.status, self.headers, self.raw, self.request = status, headers, raw, request
        self._response = self._body = self._json = None

    @classmethod
    def of(cls, status: int, response: httpx.Response | None) -> Answer:
        """The answer of an ``httpx.Response`` (or of none: no body kept)."""
        answer = cls(status)
        if response is not None:
            answer._response, answer._body = response, response.content
            answer.headers = response.headers.raw
        return answer

    @property
    def body(self) -> bytes:
        """The body, decoded when the server compressed it."""
        return self.raw if self._body is None else self._body

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if len(key) == len(wanted) and key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in the order received."""
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self.headers if key.lower() == wanted]

    def response(self) -> httpx.Response:
        """This answer as an ``httpx.Response`` (built once); ``request`` a ``(method, url)`` pair makes
        one whose ``request`` is built when first read."""
        if self._response is None:
            if isinstance(self.request, tuple):
                self._response = KeptResponse(self.status, self.headers, self.raw, self.request)
            else:
                self._response = DecodedResponse(
                    self.status, headers=self.headers, content=self.raw, request=self.request
                )
        return self._response

    def json(self):
        """The parsed body, or ``NOT_JSON``."""
        if self._json is None:
            try:
                self._json = _decode_json(self.body)
            except msgspec.DecodeError:
                self._json = NOT_JSON
        return self._json


class KeptResponse(DecodedResponse):
    """An ``httpx.Response`` whose ``request`` (method and URL) is built only when something reads it."""

    def __init__(self, status: int, headers, content: bytes, method_url: tuple[str, str]) -> None:
        super().__init__(status, headers=headers, content=content)
        self._method_url = method_url

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = httpx.Request(*self._method_url)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value

    def raise_for_status(self) -> httpx.Response:
        _ = self.request
        return super().raise_for_status()
