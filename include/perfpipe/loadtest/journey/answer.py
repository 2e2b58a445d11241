"""A response as extraction and checks read it: status, headers and body, its JSON parsed once."""

from __future__ import annotations

import json

NOT_JSON = object()


class Answer:
    __slots__ = ("status", "response", "_json")

    def __init__(self, status: int, response) -> None:
        """``response``: an ``httpx.Response`` with the (decoded) body, or None when none was kept."""
        self.status, self.response, self._json = status, response, None

    @property
    def body(self) -> bytes:
        return b"" if self.response is None else self.response.content

    def header(self, name: str) -> str | None:
        return None if self.response is None else self.response.headers.get(name)

    def json(self):
        """The parsed body, or ``NOT_JSON``."""
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = NOT_JSON
        return self._json
