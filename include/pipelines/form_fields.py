"""Field kinds of the DAGs' trigger forms shared by more than one form."""

from __future__ import annotations

from airflow.sdk import Param


def switch(default: bool, title: str, description: str, section: str | None = None) -> Param:
    """An on/off field (in the form's ``section`` when given)."""
    placed = {"section": section} if section else {}
    return Param(default, type="boolean", title=title, description=description, **placed)
