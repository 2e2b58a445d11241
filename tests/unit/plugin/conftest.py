"""Airflow puts plugins/ on sys.path; the tests do the same."""

import sys
from pathlib import Path

PLUGINS = str(Path(__file__).resolve().parents[3] / "plugins")
if PLUGINS not in sys.path:
    sys.path.insert(0, PLUGINS)
