"""Target credentials: a spec names them, only the running load generator holds their values.

A ``LoadSpec`` records where its credentials come from (``credentials_conn_id``, an Airflow
connection id) and the NAMES of the headers they fill (``secret_headers``). The values are resolved
when a load test worker starts and reach the engine as ``run_load_test(..., secret_headers=...)``
(and its worker processes over their stdin pipe), so no spec, XCom, bundle, summary, report or store
row ever holds them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping

from include.perfpipe.errors import ConfigError
from include.perfpipe.loadtest.http.headers import check_headers
from include.perfpipe.loadtest.http.target import split_url

# header names whose values are masked in logs (Airflow's secrets masker) wherever they could reach one
_SECRET_NAME = re.compile(r"auth|key|token|secret|passw|cookie|session|signature|credential", re.IGNORECASE)


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def looks_secret(name: str) -> bool:
    """Whether a header of this name probably carries a credential."""
    return bool(_SECRET_NAME.search(name))


def checked_headers(headers: Mapping, where: str) -> dict[str, str]:
    """Credential headers as ``{name: value}`` strings; a bad one is refused naming the header, never its value."""
    if not isinstance(headers, Mapping):
        raise ConfigError(f"{where}: expected a mapping of header name to value, got a {type(headers).__name__}")
    return dict(check_headers(headers, where))


def for_origin(secret_headers: Mapping[str, str], url: str, target: str) -> dict[str, str]:
    """The credentials a request to ``url`` carries: all of them on the target's own scheme, host and
    port, none anywhere else (another allow-listed host, another port or scheme of the same host)."""
    return dict(secret_headers) if secret_headers and split_url(url) == split_url(target) else {}


def unless_set(secret_headers: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    """The credentials a request's own ``headers`` do not set already (any case): a header the scenario
    sets itself wins."""
    own = {name.lower() for name in headers}
    return {name: value for name, value in secret_headers.items() if name.lower() not in own}


def resolve(names: Iterable[str], values: Mapping[str, str] | None) -> dict[str, str]:
    """The values for a spec's ``secret_headers``: exactly those names must be given."""
    names, values = list(names), dict(values or {})
    if {n.lower() for n in names} != {n.lower() for n in values}:
        raise ConfigError(
            f"secret_headers: the spec names {sorted(names)} but the worker was given "
            f"{sorted(values)}: resolve them from the spec's credentials_conn_id"
        )
    return values
