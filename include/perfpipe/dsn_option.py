"""DSN options of the command line (``--dsn``, ``--results-db``), which refuse a password: ``ps`` and the shell
history show argv. libpq reads the password from ``$PGPASSWORD`` or ``~/.pgpass`` instead, and a whole DSN may
come from the environment where a command offers it."""

from __future__ import annotations

import argparse
import os
import re

from include.perfpipe.errors import ConfigError

URL_PASSWORD = re.compile(r"://[^/?#]*?:([^/?#]*)@")
KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)")


def carries_password(dsn: str) -> bool:
    """Whether the libpq URL or keyword DSN holds a non-empty password."""
    return any(m.group(1) for m in URL_PASSWORD.finditer(dsn)) or bool(KEYWORD_PASSWORD.search(dsn))


def add_dsn_option(parser: argparse.ArgumentParser, flag: str, help: str, *, env: str | None = None) -> None:
    """``flag`` takes a DSN without a password; with ``env`` it defaults to that variable, else it is required."""
    default = os.environ.get(env) if env else None
    parser.add_argument(flag, action=_DsnWithoutPassword, env=env, default=default, required=env is None, help=help)


class _DsnWithoutPassword(argparse.Action):
    """Stores a DSN given on the command line, refusing one that carries a password (the value is not shown).
    A default from the environment is not argv and is not checked."""

    def __init__(self, *args, env: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.env = env

    def __call__(self, parser, namespace, value, option_string=None):
        if carries_password(value):
            raise ConfigError(
                f"{option_string}: a password on the command line shows in ps and shell history (value not shown); "
                "leave it out of the DSN and set $PGPASSWORD or use ~/.pgpass"
                + (f", or give the whole DSN in ${self.env}" if self.env else "")
            )
        setattr(namespace, self.dest, value)
