"""Credentials a user typed (a login's username and password, an API key, a token no response gave)
move from the recording to a feeder file beside the scenario, and the scenario templates them: no
secret stands in the scenario as a fixed value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from include.perfpipe.loadtest.http.credentials import looks_secret
from include.perfpipe.recording.correlation import unique, variable_name
from include.perfpipe.recording.slots import Request, Slot

FEEDER = "credentials"
_PASSWORD = re.compile(r"pass(word)?|passwd|pwd|passphrase", re.IGNORECASE)
_USER = re.compile(r"^(user(_?name)?|login|e_?mail|account)$", re.IGNORECASE)


@dataclass
class Credentials:
    columns: dict[str, str] = field(default_factory=dict)  # column -> recorded value
    logins: set[int] = field(default_factory=set)  # calls that sent a typed password
    where: dict[str, list[tuple[int, Slot]]] = field(default_factory=dict)  # column -> its slots


def move_credentials(requests: list[Request]) -> Credentials:
    """Template every typed secret still fixed after correlation from the ``credentials`` feeder."""
    found = Credentials()
    by_value: dict[str, str] = {}
    for i, request in enumerate(requests):
        fixed = [slot for slot in request.slots() if slot not in request.templates and isinstance(slot.value, str)]
        body = [slot for slot in fixed if slot.kind in ("json", "form")]
        login = any(_PASSWORD.search(slot.name) for slot in body)
        if login:
            found.logins.add(i)
        for slot in fixed:
            typed = login and slot in body and (_PASSWORD.search(slot.name) or _USER.match(slot.name))
            if not (typed or _secret(slot)):
                continue
            column = by_value.get(slot.value)
            if column is None:
                column = unique(variable_name(slot.name), found.columns)
                by_value[slot.value] = column
                found.columns[column] = slot.value
            found.where.setdefault(column, []).append((i, slot))
            request.templates[slot] = "{{ " + f"{FEEDER}.{column}" + " }}"
    return found


def _secret(slot: Slot) -> bool:
    if slot.kind == "path" or not slot.value:
        return False
    return looks_secret(slot.name) or (slot.kind == "header" and slot.name.lower() == "authorization")
