"""The report's statements table: the application's queries of the load window, perfpipe's own hidden."""

from __future__ import annotations

import re

TOP_STATEMENTS = 10
# perfpipe's inspection (catalog and statistics views), its maintenance and its results store
_OWN = re.compile(
    r"\b(pg_\w+|information_schema|perfpipe\.\w+|current_setting)\b|^\s*(vacuum|analyze|set|show)\b", re.I
)


def is_own_statement(query: str) -> bool:
    """True for perfpipe's monitoring and maintenance statements (and the server's catalog chatter)."""
    return bool(_OWN.search(query or ""))


def statements_view(rows: list[dict], top: int = TOP_STATEMENTS) -> dict:
    """``{"shown", "folded", "hidden_own"}``: the application's statements by total time, the top ``top``
    shown and the rest folded, and how many of perfpipe's own were left out."""
    application = [r for r in rows if not is_own_statement(r.get("query"))]
    application.sort(key=lambda r: r.get("total_ms") or 0, reverse=True)
    return {"shown": application[:top], "folded": application[top:], "hidden_own": len(rows) - len(application)}
