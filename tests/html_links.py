"""The files a rendered page links to, for tests that check a published report is self-contained."""

from __future__ import annotations

from html.parser import HTMLParser


class _Links(HTMLParser):
    """Every href and src of the page's tags (script bodies are not tags)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


def linked_files(html: str) -> list[str]:
    """Every href and src of ``html`` but inline data and in-page anchors."""
    parser = _Links()
    parser.feed(html)
    return [link for link in parser.links if not link.startswith(("data:", "#"))]
