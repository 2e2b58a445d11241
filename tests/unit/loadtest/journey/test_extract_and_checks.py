"""JSON-path subset, extraction into variables, declarative checks and their tally."""

import httpx
import pytest

from include.perfpipe.loadtest.http.framing import PreparedRequest
from include.perfpipe.loadtest.journey.answer import NOT_JSON, Answer
from include.perfpipe.loadtest.journey.checks import CheckRule, CheckTally
from include.perfpipe.loadtest.journey.compiled import CompiledJourney
from include.perfpipe.loadtest.journey.extract import Extractor
from include.perfpipe.loadtest.journey.jsonpath import JsonPath
from include.perfpipe.loadtest.journey.models import Check, Extract
from include.perfpipe.loadtest.journey.scenario import read_scenario
from include.perfpipe.loadtest.journey.session import Exchange

DOC = {"items": [{"id": 7, "tags": ["a"]}, {"id": 8, "tags": []}], "user": {"first-name": "Ada"}, "n": None}
BODY = httpx.Response(200, json=DOC, headers={"Location": "/orders/5", "X-Csrf": "tok"})


@pytest.mark.parametrize(
    "path, found",
    [
        ("$", [DOC]),
        ("$.items[0].id", [7]),
        ("$.items[-1].id", [8]),
        ("$.items[*].id", [7, 8]),
        ("$['user']['first-name']", ["Ada"]),
        ("$.user.*", ["Ada"]),
        ("$.items[5].id", []),
        ("$.nope", []),
        ("$.n", [None]),
        ("$.items.id", []),
    ],
)
def test_json_path_subset(path, found):
    assert JsonPath(path).find(DOC) == found


@pytest.mark.parametrize("path", ["items[0]", "$.items[?(@.id)]", "$..id", "$.items[0"])
def test_unsupported_json_paths_are_refused(path):
    with pytest.raises(ValueError, match="JSON path|starting with"):
        JsonPath(path)


def _extract(answer, **model):
    return Extractor(Extract.model_validate(model)).value(answer)


def test_extract_from_json_header_regex_and_status():
    answer = Answer.of(201, BODY)
    assert _extract(answer, json="$.items[0].id") == 7
    assert _extract(answer, json="$.items[*].id", pick="last") == 8
    assert _extract(answer, json="$.items[*].id", pick="all") == [7, 8]
    assert _extract(answer, json="$.items[*].id", pick="random") in (7, 8)
    assert _extract(answer, header="location") == "/orders/5"
    assert _extract(answer, regex=r'"id":\s*(\d+)') == "7"
    assert _extract(answer, status=True) == 201
    assert _extract(answer, json="$.missing") is None
    assert _extract(answer, json="$.missing", default=0) == 0
    assert _extract(Answer.of(200, httpx.Response(200, content=b"<html>")), json="$.id") is None


def test_a_regex_beside_a_header_reads_every_value_of_that_header():
    cookies = [(b"Set-Cookie", b"sid=1; Path=/"), (b"set-cookie", b"XSRF-TOKEN=t0k; Path=/")]
    answer = Answer(200, cookies, b"XSRF-TOKEN=body")
    assert _extract(answer, header="Set-Cookie", regex="XSRF-TOKEN=([^;]*)") == "t0k"
    assert _extract(answer, header="Set-Cookie", regex="^[^=]+=([^;]*)", pick="all") == ["1", "t0k"]
    assert _extract(answer, header="Location", regex="/orders/(\\d+)") is None
    with pytest.raises(ValueError, match="exactly one"):
        Extract.model_validate({"regex": "x", "json": "$.a"})


def _check(answer, **model):
    return CheckRule(Check.model_validate(model), "step").passed(answer)


def test_declarative_checks():
    answer = Answer.of(200, BODY)
    assert _check(answer, status=[200, 201]) and not _check(answer, status=404)
    assert _check(answer, json="$.items[0].id") and not _check(answer, json="$.items[3]")
    assert _check(answer, json="$.items[3]", exists=False)
    assert _check(answer, json="$.items[1].id", equals=8) and not _check(answer, json="$.items[1].id", equals="8")
    assert _check(answer, json="$.n", equals=None) and not _check(answer, json="$.gone", equals=None)
    assert _check(answer, json="$.items", length=2) and not _check(answer, json="$.items[0].id", length=1)
    assert _check(answer, body_contains="Ada") and not _check(answer, body_contains="Bob")


def test_check_labels_and_a_tally_that_merges():
    rule = CheckRule(Check.model_validate({"json": "$.items", "length": 2}), "list")
    assert rule.key == "list: len($.items) == 2"
    one, two = CheckTally(), CheckTally()
    for passed in (True, True, False):
        one.add(rule.key, passed)
    two.add(rule.key, False)
    merged = CheckTally.merge([CheckTally.from_dict(one.to_dict()), two])
    assert merged.to_dict() == {rule.key: {"passed": 2, "failed": 2, "pass_rate": 0.5}}


def test_an_answer_reads_the_decoded_body_and_headers_in_any_case():
    """The connection decoded the body as it arrived (``BodyDecoder``): neither the answer nor its
    ``httpx.Response`` decodes it again, and Content-Encoding is still there to read."""
    answer = Answer(200, [(b"Content-Encoding", b"gzip"), (b"X-Csrf", b"tok")], b'{"id": 9}', ("GET", "http://h/"))
    assert answer.body == b'{"id": 9}' and answer.json() == {"id": 9}
    assert answer.response().content == b'{"id": 9}' and answer.response().headers["content-encoding"] == "gzip"
    assert answer.header("x-csrf") == "tok" and answer.header("missing") is None
    assert Answer(200, [], b"NaN").json() is NOT_JSON and Answer(204).json() is NOT_JSON


def _judged_by(check: str, tmp_path):
    (tmp_path / "s.yaml").write_text(f"journey: {{steps: [{{name: s, path: /x, check: '{check}'}}]}}")
    scenario = read_scenario(tmp_path / "s.yaml")
    step = CompiledJourney(scenario, "http://127.0.0.1:1").steps[0]
    request = PreparedRequest("s", "api", b"GET /x HTTP/1.1\r\n\r\n", "127.0.0.1", 1, None, step.model, True, 1000)
    exchange = Exchange(request, step.expect, step)
    exchange.evaluate(200, Answer(200, [(b"Content-Type", b"application/json")], b'{"ok": true}', step.model))
    return exchange


def test_a_module_function_check_gets_an_httpx_response_and_can_fail_the_step(tmp_path):
    assert _judged_by("tests.unit.loadtest.journey.journeys:says_ok", tmp_path).ok
    failed = _judged_by("tests.unit.loadtest.journey.journeys:says_no", tmp_path)
    assert not failed.ok and failed.label is None
    raised = _judged_by("tests.unit.loadtest.journey.journeys:raises", tmp_path)
    assert not raised.ok and raised.label == "CheckError"
