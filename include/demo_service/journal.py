"""What the demo service saw, kept in memory so a test can prove a journey was real: logins and
their tokens, 401s, distinct items read, orders created and read (and reads of missing orders), carts,
and the newsletter form's CSRF tokens (accepted, refused)."""

from __future__ import annotations

import secrets


class Journal:
    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}  # token -> user
        self.tokens_used: set[str] = set()
        self.unauthorised = 0
        self.items_read: set[int] = set()
        self.orders_created = self.order_reads = self.order_reads_missing = 0
        self.carts: dict[str, list[int]] = {}
        self.csrf_open: set[str] = set()  # issued by GET /newsletter, not used yet
        self.csrf_accepted = self.csrf_refused = 0

    def login(self, user: str) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = user
        return token

    def user_of(self, authorization: str | None) -> str | None:
        token = (authorization or "").removeprefix("Bearer ")
        user = self.tokens.get(token)
        if user is None:
            self.unauthorised += 1
        else:
            self.tokens_used.add(token)
        return user

    def add_to_cart(self, cart: str | None, item_id: int) -> tuple[str, list[int]]:
        if cart not in self.carts:
            cart = secrets.token_urlsafe(8)
            self.carts[cart] = []
        self.carts[cart].append(item_id)
        return cart, self.carts[cart]

    def issue_csrf(self) -> str:
        token = secrets.token_urlsafe(16)
        self.csrf_open.add(token)
        return token

    def use_csrf(self, token: str) -> bool:
        """Whether ``token`` was issued and not used yet (it is used up now)."""
        fresh = token in self.csrf_open
        self.csrf_open.discard(token)
        if fresh:
            self.csrf_accepted += 1
        else:
            self.csrf_refused += 1
        return fresh

    def counts(self) -> dict:
        return {
            "logins": len(self.tokens),
            "distinct_tokens_used": len(self.tokens_used),
            "unauthorised": self.unauthorised,
            "distinct_items_read": len(self.items_read),
            "orders_created": self.orders_created,
            "order_reads": self.order_reads,
            "order_reads_missing": self.order_reads_missing,
            "carts": len(self.carts),
            "cart_items": sum(len(items) for items in self.carts.values()),
            "csrf_accepted": self.csrf_accepted,
            "csrf_refused": self.csrf_refused,
        }
