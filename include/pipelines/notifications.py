"""Telling people about a run that did not pass: an optional Slack webhook and an optional SMTP connection."""

from __future__ import annotations

import html
import logging

log = logging.getLogger(__name__)

SLACK_CONN = "perf_notify_slack"  # a Slack incoming-webhook connection (apache-airflow-providers-slack)
SMTP_CONN = "perf_notify_smtp"  # an SMTP connection; extra {"to": "a@x, b@y"} lists the recipients


def _connection(conn_id: str):
    """The Airflow connection, or None when it is not configured."""
    from airflow.sdk.bases.hook import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


def alert_for(verdict: str, gate: dict, fail_on_regression: bool) -> str:
    """What to notify about: the verdict, or ``regression`` for a passing run that regressed where that fails it."""
    return "regression" if verdict == "pass" and gate.get("regressed") and fail_on_regression else verdict


def notify(summary_md: str, verdict: str, subject: str) -> list[str]:
    """Send ``summary.md`` when the verdict is not pass, through each configured notifier; returns their names."""
    if verdict == "pass":
        return []
    sent = []
    if _connection(SLACK_CONN) is not None:
        try:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
        except ImportError:
            log.warning("connection %s is set but apache-airflow-providers-slack is not installed", SLACK_CONN)
        else:
            SlackWebhookHook(slack_webhook_conn_id=SLACK_CONN).send_text(summary_md)
            sent.append("slack")
    smtp = _connection(SMTP_CONN)
    if smtp is not None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        recipients = [a.strip() for a in str(smtp.extra_dejson.get("to", "")).split(",") if a.strip()]
        if not recipients:
            log.warning('connection %s has no recipients: set its extra to {"to": "a@example.com"}', SMTP_CONN)
        else:
            with SmtpHook(smtp_conn_id=SMTP_CONN) as hook:
                hook.send_email_smtp(
                    to=recipients, subject=subject, html_content=f"<pre>{html.escape(summary_md)}</pre>"
                )
            sent.append("smtp")
    return sent
