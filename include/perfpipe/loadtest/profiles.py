"""The load profiles file (``include/config/profiles.yaml``): named profiles, the hard caps of ``limits``
and an optional target allowlist."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from include.perfpipe.config_files import CONFIG_DIR, read_yaml
from include.perfpipe.durations import parse_duration
from include.perfpipe.errors import from_validation

PROFILES_FILE = CONFIG_DIR / "profiles.yaml"


def load_profiles(path: str | Path | None = None) -> dict:
    """``{"profiles", "limits", "target_allowlist"?, "document"}`` of a profiles file (``document``: its
    ``config_files.Document``, for errors that name a line)."""
    document = read_yaml(path or PROFILES_FILE)
    data = document.data or {}
    if not isinstance(data, dict):
        raise document.error(None, "expected a mapping with 'profiles' and 'limits'", data)
    if not isinstance(data.get("profiles"), dict):
        raise document.error("profiles", "must be a mapping of profile name to profile", data.get("profiles"))
    try:
        data["limits"] = Limits.model_validate(data.get("limits") or {})
    except ValidationError as exc:
        raise from_validation(exc, file=document.path, prefix="limits", document=document) from None
    return {**data, "document": document}


class Limits(BaseModel):
    """The hard caps of ``limits`` in profiles.yaml, whatever a profile, Param or flag asks for."""

    model_config = ConfigDict(extra="forbid")
    max_vus: int = Field(5000, ge=1)
    max_rate: float = Field(50000, gt=0, allow_inf_nan=False)
    max_duration: str = "2h"

    @field_validator("max_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value, "max_duration", positive=True)
        return value

    @property
    def max_duration_s(self) -> float:
        return parse_duration(self.max_duration)
