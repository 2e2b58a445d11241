"""``scenario from-har``: a HAR recording becomes a journey that runs against a live service with no
edits, its session values correlated (docs/scenarios.md, *From a recording*)."""

from __future__ import annotations

import re
from pathlib import Path

from include.perfpipe.recording.correlation import Correlation, correlate, signature
from include.perfpipe.recording.credentials import FEEDER, Credentials, move_credentials
from include.perfpipe.recording.har import read_har
from include.perfpipe.recording.selection import Call, Selection, select
from include.perfpipe.recording.slots import Request, request_of
from include.perfpipe.recording.structure import Shape, shape
from include.perfpipe.recording.writer import Draft, DraftStep, step_names


def convert(
    har: str | Path,
    output: str | Path,
    host: str | None = None,
    keep_static: bool = False,
    keep_user_agent: bool = False,
    setup: int | None = None,
    steps: tuple[int, int] | None = None,
) -> Draft:
    """The draft of the scenario for ``output`` (the feeder file is named after it)."""
    har, output = Path(har), Path(output)
    selection = select(read_har(har), host, keep_static)
    calls = selection.calls
    requests = [request_of(call, keep_user_agent) for call in calls]
    correlation = correlate(calls, requests)
    credentials = move_credentials(requests)
    uses = [set(re.findall(r"\{\{ ([A-Za-z_]\w*) \}\}", str(r.templates))) for r in requests]
    extracts = [set(correlation.extracts.get(i, {})) for i in range(len(calls))]
    journey = shape([signature(r) for r in requests], uses, extracts, credentials.logins, setup, steps)
    names = step_names([(r.method, r.path()) for r in requests])
    kept = set(journey.setup + journey.steps + journey.teardown)
    drafts = {i: _step(i, calls[i], requests[i], names, correlation, credentials, kept) for i in kept}
    draft = Draft(
        notes=_notes(har, selection, requests, journey, credentials, output),
        setup=[drafts[i] for i in journey.setup],
        steps=[drafts[i] for i in journey.steps],
        teardown=[drafts[i] for i in journey.teardown],
    )
    if credentials.columns:
        feeder_file = f"{output.stem}.credentials.csv"
        draft.feeders = {FEEDER: {"file": feeder_file, "strategy": "circular", "per": "vu"}}
        draft.feeder_rows = {feeder_file: (list(credentials.columns), [list(credentials.columns.values())])}
    _lift_headers(draft)
    return draft


def _step(
    i: int,
    call: Call,
    request: Request,
    names: list[str],
    correlation: Correlation,
    credentials: Credentials,
    kept: set[int],
) -> DraftStep:
    fields: dict = {"name": names[i]}
    if request.method != "GET":
        fields["method"] = request.method
    fields["path"] = request.path()
    headers = request.written_headers()
    if headers:
        fields["headers"] = headers
    if request.json_body is not None:
        fields["json"] = request.written_json()
    elif request.written_body() is not None:
        fields["body"] = request.written_body()
    status = 200 if call.final.status == 304 else call.final.status
    if status != 200:
        fields["expect_status"] = status
    path = fields["path"].partition("?")[0]  # templated: a recorded token in a segment is not repeated here
    recorded = f"call {i + 1} (HAR entry {call.entries}): {request.method} {path} -> {call.final.status}"
    notes = [recorded + (f", {call.hops} redirect(s) followed as one step" if call.hops else "")]
    extracted = correlation.extracts.get(i, {})
    if extracted:
        fields["extract"] = {name: binding.source.extract for name, binding in extracted.items()}
        json_paths = [b.source.json_path for b in extracted.values() if b.source.json_path]
        if json_paths:
            fields["checks"] = [{"json": path} for path in json_paths]
        for name, binding in extracted.items():
            places: dict[str, set[str]] = {}
            for u, slot in binding.uses:
                if u in kept:
                    places.setdefault(slot.where, set()).add(names[u])
            used = "; ".join(
                f"{where} of {', '.join(sorted(steps)) if len(steps) <= 3 else f'{len(steps)} steps'}"
                for where, steps in sorted(places.items())
            )
            notes.append(f"{name} <- {binding.source.label}; used in {used or 'no kept step'}")
    for column, places in credentials.where.items():
        if any(u == i for u, _ in places):
            notes.append(f"{{{{ {FEEDER}.{column} }}}}: typed in the recording, from the feeder file (not shown here)")
    return DraftStep(fields, notes)


def _lift_headers(draft: Draft) -> None:
    """Headers every request sends alike go to the file's ``headers``; those every step and teardown
    step send alike (a templated token) to the journey's."""
    everywhere = [*draft.setup, *draft.steps, *draft.teardown]
    looped = [*draft.steps, *draft.teardown]
    draft.headers = {k: v for k, v in _common(everywhere).items() if "{{" not in v}
    draft.journey_headers = {k: v for k, v in _common(looped).items() if k not in draft.headers}
    for step in everywhere:
        lifted = draft.headers if step not in looped else {**draft.headers, **draft.journey_headers}
        headers = {k: v for k, v in step.fields.get("headers", {}).items() if k not in lifted}
        if headers:
            step.fields["headers"] = headers
        else:
            step.fields.pop("headers", None)


def _common(steps: list[DraftStep]) -> dict:
    if not steps:
        return {}
    first = steps[0].fields.get("headers", {})
    return {k: v for k, v in first.items() if all(s.fields.get("headers", {}).get(k) == v for s in steps[1:])}


def _notes(
    har: Path, selection: Selection, requests: list[Request], journey: Shape, credentials: Credentials, output: Path
) -> list[str]:
    notes = [
        f"From the recording {har.name} by `python -m include.perfpipe scenario from-har`",
        "(docs/scenarios.md, *From a recording*). Look at the lines marked below.",
        f"Target: {selection.target}; run with --target (paths are relative). {len(selection.calls)} calls kept.",
    ]
    if selection.other_hosts:
        hosts = ", ".join(f"{h} ({n})" for h, n in sorted(selection.other_hosts.items()))
        notes.append(f"Left out: requests to other hosts: {hosts}.")
    if selection.static:
        notes.append(f"Left out: the target's static assets (--keep-static keeps them): {', '.join(selection.static)}.")
    if selection.unanswered:
        notes.append(f"Left out: {selection.unanswered} request(s) the browser got no answer to (status 0 or 101).")
    if selection.preflights:
        notes.append(f"Left out: {selection.preflights} CORS preflight(s) (OPTIONS).")
    dropped = sorted({why for r in requests for why in r.dropped})
    if dropped:
        notes.append("Headers dropped: " + "; ".join(dropped) + ".")
    notes.append("Structure: " + journey.why + ".")
    if journey.partial:
        notes.append(f"Left out: calls {_span(journey.partial)}, a partial repeat of the loop.")
    kept = set(journey.setup + journey.steps + journey.teardown)
    skipped = [
        i for i in range(len(requests)) if i not in kept and i not in (journey.partial or []) + (journey.repeated or [])
    ]
    if skipped:
        notes.append(f"Left out: calls {_span(skipped)} (outside --setup/--steps).")
    if credentials.columns:
        notes.append(
            f"Credentials typed in the recording ({', '.join(credentials.columns)}) are in "
            f"{output.stem}.credentials.csv: add a row per user (VUs take the rows in turn)."
        )
    if _sanitized(selection.calls, requests, credentials):
        notes.append(SANITIZED)
    notes.append("Correlated values: see `<-` under each step. No think time: add `think_time` for a user's pace.")
    return notes


SANITIZED = (
    "WARNING: the login answered a token but no later request sent an Authorization header: a sanitized export "
    "(Chrome's default 'Save all as HAR') drops it. Record again with 'Save all as HAR (with sensitive data)'."
)


def _sanitized(calls: list[Call], requests: list[Request], credentials: Credentials) -> bool:
    """A login whose JSON answer holds a token, and no Authorization header after it."""
    for i in sorted(credentials.logins):
        answer = calls[i].final.response_body
        if re.search(r'"(access_?token|token|jwt|id_token)"\s*:', answer, re.IGNORECASE):
            return not any("authorization" in (h.lower() for h in r.headers) for r in requests[i + 1 :])
    return False


def _span(indices: list[int]) -> str:
    return f"{indices[0] + 1}-{indices[-1] + 1}" if len(indices) > 1 else str(indices[0] + 1)
