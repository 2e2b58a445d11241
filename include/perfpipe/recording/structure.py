"""The journey's shape from the order of the recorded calls: ``setup`` (up to the login), the loop
(``steps``: a sequence recorded twice or more in a row, kept once) and ``teardown`` (what followed it).
``--setup N`` and ``--steps A-B`` (1-based call numbers) override the choice."""

from __future__ import annotations

from dataclasses import dataclass

from include.perfpipe.errors import ConfigError


@dataclass
class Shape:
    setup: list[int]
    steps: list[int]
    teardown: list[int]
    repeats: int = 1  # how many times the loop was recorded in a row
    repeated: list[int] | None = None  # the loop's later repeats (left out: the loop is kept once)
    partial: list[int] | None = None  # calls after the repeats that began the loop again (left out)
    why: str = ""


def shape(
    signatures: list[tuple],
    uses: list[set[str]],
    extracts: list[set[str]],
    logins: set[int],
    setup: int | None = None,
    steps: tuple[int, int] | None = None,
) -> Shape:
    """``uses``/``extracts``: the variables each call templates / extracts; ``logins``: calls that sent a
    typed password."""
    n = len(signatures)
    if setup is not None or steps is not None:
        return _given(n, setup, steps)
    login = _login(uses, extracts, logins)
    start, period, repeats = _loop(signatures, login + 1)
    if repeats < 2:
        body = list(range(login + 1, n))
        if not body:  # nothing after the login: the whole recording is the loop
            return Shape([], list(range(n)), [], why="every call is a step: nothing followed the login")
        why = (
            f"setup is calls 1-{login + 1}, up to the login; no sequence repeats"
            if login >= 0
            else ("no login and no repeated sequence: every call is a step")
        )
        return Shape(list(range(login + 1)), body, [], why=why)
    after = list(range(start + period * repeats, n))
    partial = 0
    while partial < len(after) and partial < period and signatures[after[partial]] == signatures[start + partial]:
        partial += 1
    why = f"calls {start + 1}-{start + period} were recorded {repeats} times in a row: kept once as the steps"
    if start:
        why = f"setup is calls 1-{start}, once per VU; " + why
    return Shape(
        setup=list(range(start)),
        steps=list(range(start, start + period)),
        teardown=after[partial:],
        repeats=repeats,
        repeated=list(range(start + period, start + period * repeats)),
        partial=after[:partial] or None,
        why=why,
    )


def _login(uses: list[set[str]], extracts: list[set[str]], logins: set[int]) -> int:
    """The last call of the setup: a call that sent a typed password, or whose extracted value every later
    call uses (with two or more later calls); -1 when there is none."""
    n = len(uses)
    for k in range(n):
        later = uses[k + 1 :]
        if len(later) >= 2 and any(all(var in used for used in later) for var in extracts[k]):
            return max([k, *(i for i in logins if i < k)])
    return max(logins, default=-1)


def _loop(signatures: list[tuple], begin: int, longest: int = 200) -> tuple[int, int, int]:
    """(start, period, repeats) of the consecutive repeat covering the most calls from ``begin`` on (then the
    earliest, then the shortest), periods up to ``longest`` calls. For each period one backward pass gives,
    at every start, how far ``signature[k] == signature[k + period]`` holds: the repeats at once (O(n) a
    period; a 1,800-call recording takes well under a second instead of 39 s rescanning every block)."""
    best = (0, begin, 0, 0)  # (-covered, start, period, repeats): most covered, earliest, shortest
    ids = {sig: i for i, sig in enumerate(dict.fromkeys(signatures))}
    codes = [ids[sig] for sig in signatures]
    n = len(codes)
    for period in range(1, min(longest, (n - begin) // 2) + 1):
        run = 0
        runs = [0] * n
        for k in range(n - period - 1, begin - 1, -1):
            run = run + 1 if codes[k] == codes[k + period] else 0
            runs[k] = run
        for start in range(begin, n - period):
            repeats = 1 + runs[start] // period
            if repeats >= 2 and (-(repeats * period), start, period) < best[:3]:
                best = (-(repeats * period), start, period, repeats)
    return best[1], best[2], best[3]


def _given(n: int, setup: int | None, steps: tuple[int, int] | None) -> Shape:
    first, last = steps if steps is not None else ((setup or 0) + 1, n)
    if not 1 <= first <= last <= n:
        raise ConfigError(f"expected A-B within the {n} calls kept, 1-{n}", field="--steps", value=f"{first}-{last}")
    setup = first - 1 if setup is None else setup
    if not 0 <= setup < first:
        raise ConfigError(f"expected a number of calls before the steps ({first - 1} at most)", field="--setup")
    return Shape(list(range(setup)), list(range(first - 1, last)), list(range(last, n)), why="as given")
