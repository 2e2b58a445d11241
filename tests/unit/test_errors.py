"""The error family: messages name the file, the field and the value once; pydantic errors join it."""

import pytest
from pydantic import BaseModel, ValidationError

from include.perfpipe.errors import ConfigError, PerfpipeError, StoreError, TargetError, from_validation, one_line
from include.perfpipe.loadtest import TargetNotAllowed, TargetUnreachable


def test_message_names_file_field_and_the_kind_of_a_value_read_from_it():
    error = ConfigError("expected a number", file="p.yaml", field="limits.max_vus", value="lots")
    assert str(error) == "p.yaml: limits.max_vus: expected a number (got a string)"
    assert str(ConfigError("expected a number", field="vus", value="lots")) == "vus: expected a number (got 'lots')"
    assert (error.file, error.field, error.value) == ("p.yaml", "limits.max_vus", "lots")
    assert str(ConfigError("vus: got 'x'", field="vus", value="x")) == "vus: got 'x'"
    assert isinstance(error, ValueError) and isinstance(error, PerfpipeError)


def test_target_errors_keep_their_old_bases():
    assert issubclass(TargetNotAllowed, TargetError) and issubclass(TargetNotAllowed, ValueError)
    assert issubclass(TargetUnreachable, TargetError) and issubclass(TargetUnreachable, ConnectionError)
    assert not issubclass(StoreError, ValueError)


class _Limits(BaseModel):
    max_vus: int
    names: list[str] = []


def test_validation_error_becomes_a_config_error_with_field_and_the_kind_of_value():
    with pytest.raises(ValidationError) as caught:
        _Limits.model_validate({"max_vus": "lots", "names": [1]})
    error = from_validation(caught.value, file="profiles.yaml", prefix="limits")
    assert (error.file, error.field, error.value) == ("profiles.yaml", "limits.max_vus", "lots")
    assert str(error).startswith("profiles.yaml: limits.max_vus: Input should be a valid integer")
    assert "(got a string)" in str(error) and "limits.names[0]" in str(error) and "lots" not in str(error)


def test_one_line_joins_a_message_of_several_lines():
    assert one_line(ConfigError("a: bad\nb: worse\n")) == "a: bad; b: worse"
