"""Templates compile once and render per VU; requests with no template keep one pre-built buffer."""

import json
import re
import uuid

import pytest

from include.perfpipe.loadtest.journey.request import RequestTemplate
from include.perfpipe.loadtest.journey.template import Template, TemplateError


class Session:
    def __init__(self, number=3, iteration=7, variables=None, rows=None):
        self.number, self.iteration = number, iteration
        self.vars = variables if variables is not None else {"token": "abc", "id": 42, "q": "a b/c"}
        self.rows = rows if rows is not None else {"users": {"name": "u1"}}


def _split(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return lines[0], dict(line.split(": ", 1) for line in lines[1:]), body


def test_builtins_variables_feeder_fields_and_functions():
    session = Session()
    assert Template("{{vu}}-{{ iteration }}-{{ token }}-{{ users.name }}").render(session) == "3-7-abc-u1"
    assert 5 <= int(Template("{{ random_int(5, 6) }}").render(session)) <= 6
    assert Template("{{ random_choice(red, 'green') }}").render(session) in ("red", "green")
    uuid.UUID(Template("{{ uuid }}").render(session))
    assert re.fullmatch(r"\d{10}", Template("{{ now }}").render(session))
    assert Template("x").is_static and Template("{{ id }}").refs == {"id"}
    assert Template("{{ users.name }}").refs == {"users.name"}


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ random_int(9, 1) }}", "random_int: expected two integers low <= high"),
        ("{{ shuffle(a) }}", "unknown function 'shuffle'"),
        ("{{ a.b.c }}", "expected a variable, feeder.column"),
        ("{{ id ", "unbalanced"),
    ],
)
def test_bad_templates_are_refused_at_compile_time(source, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        Template(source)


def test_unset_variable_fails_the_render_by_name():
    with pytest.raises(TemplateError, match="variable 'order' is not set"):
        Template("/orders/{{ order }}").render(Session())


def test_untemplated_request_is_one_prebuilt_buffer():
    request = RequestTemplate("POST", "http://127.0.0.1:8000/items?a=1", {"X-T": "1"}, json_body={"a": 1})
    assert request.static and request.build(Session()) is request.raw
    line, headers, body = _split(request.raw)
    assert line == "POST /items?a=1 HTTP/1.1"
    assert (headers["Host"], headers["X-T"], headers["Content-Length"], body) == (
        "127.0.0.1:8000",
        "1",
        "7",
        b'{"a":1}',
    )


def test_templated_request_splices_path_headers_body_and_length():
    request = RequestTemplate(
        "POST",
        "http://127.0.0.1:8000/orders/{{ id }}?q={{ q }}",
        {"Authorization": "Bearer {{ token }}"},
        json_body={"item_id": "{{ id }}", "note": 'vu {{ vu }} "x"', "n": [1, "{{ users.name }}"]},
    )
    assert not request.static and request.refs == {"id", "q", "token", "users.name"}
    line, headers, body = _split(request.build(Session()))
    assert line == "POST /orders/42?q=a%20b%2Fc HTTP/1.1"
    assert headers["Authorization"] == "Bearer abc" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"item_id": 42, "note": 'vu 3 "x"', "n": [1, "u1"]}  # a number stays a number
    assert int(headers["Content-Length"]) == len(body)
    _, again, body2 = _split(request.build(Session(variables={"token": "t", "id": 123456, "q": ""})))
    assert int(again["Content-Length"]) == len(body2) and json.loads(body2)["item_id"] == 123456


def test_get_without_body_has_no_length_and_text_bodies_are_templated():
    line, headers, body = _split(RequestTemplate("GET", "http://h:1/i/{{ id }}", {}).build(Session()))
    assert (line, "Content-Length" in headers, body) == ("GET /i/42 HTTP/1.1", False, b"")
    _, headers, body = _split(RequestTemplate("PUT", "http://h:1/x", {}, text_body="id={{ id }}").build(Session()))
    assert (body, headers["Content-Length"]) == (b"id=42", "5")


def test_header_values_may_not_smuggle_crlf_and_hosts_may_not_be_templated():
    request = RequestTemplate("GET", "http://h:1/", {"X-User": "{{ token }}"})
    with pytest.raises(TemplateError, match="CR or LF"):
        request.build(Session(variables={"token": "a\r\nX-Evil: 1"}))
    with pytest.raises(TemplateError, match="not the host"):
        RequestTemplate("GET", "http://{{ host }}:1/", {})
