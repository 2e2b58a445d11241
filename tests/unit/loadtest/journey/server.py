"""A loopback server with a tiny login, items and orders API that logs every request it gets.

``POST /login {"user"}`` → ``{"token": "tok-<user>"}``; ``GET /items`` → three items (401 without a
Bearer token); ``POST /orders {"item_id"}`` → 201 ``{"id", "item_id"}``; ``GET /orders/<id>`` → 200
or 404; everything else as ``LoopbackServer``. ``log``: ``(method, path, headers, body)`` per request.
"""

from __future__ import annotations

import json

from tests.unit.loadtest.server import LoopbackServer


class JourneyServer(LoopbackServer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log: list[tuple[str, str, dict, bytes]] = []
        self.orders: dict[int, int] = {}

    async def _respond(self, path, writer, head, body) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ")[0]
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        self.log.append((method, path, headers, body))
        authorised = headers.get("authorization", "").startswith("Bearer tok-")
        if path == "/login" and method == "POST":
            return self._send(writer, 200, {"token": "tok-" + json.loads(body)["user"]})
        if path.startswith("/items"):
            return (
                self._send(writer, 200, [{"id": 11}, {"id": 12}, {"id": 13}])
                if authorised
                else self._send(writer, 401, {"detail": "no token"})
            )
        if path == "/orders" and method == "POST":
            order = len(self.orders) + 1
            self.orders[order] = json.loads(body)["item_id"]
            return self._send(writer, 201, {"id": order, "item_id": self.orders[order]})
        if path.startswith("/orders/"):
            order = int(path.rsplit("/", 1)[1])
            return self._send(writer, 200, {"id": order}) if order in self.orders else self._send(writer, 404, {})
        return await super()._respond(path, writer, head, body)

    @staticmethod
    def _send(writer, status: int, document) -> bool:
        body = json.dumps(document).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return True
