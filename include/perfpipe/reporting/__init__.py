"""Run reports: ``report.html`` (self-contained, offline), ``summary.md``, ``summary.json`` and ``junit.xml``."""

from include.perfpipe.reporting.render import render_report

__all__ = ["render_report"]
