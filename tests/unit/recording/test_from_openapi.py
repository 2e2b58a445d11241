"""``scenario from-openapi`` on a small spec: links and id names order the calls, ``$ref``/``allOf``/
examples fill them, what cannot be filled is left out and listed (and what depended on it refilled)."""

import pytest
import yaml

from include.perfpipe.cli import main
from include.perfpipe.loadtest.journey.scenario import read_scenario
from include.perfpipe.recording.schema_values import Resolver, Unfillable, sample
from tests.unit.recording.fixed_secrets import fixed_secrets

SPEC = """\
openapi: 3.0.3
info: {title: pets, version: '1'}
servers:
- url: https://pets.test/{base}
  variables:
    base: {default: api/v2}
paths:
  /pets/{pet_id}:
    parameters:
    - name: pet_id
      in: path
      required: true
      schema: {type: integer}
    get:
      operationId: getPet
      responses:
        '200': {description: a pet}
    delete:
      operationId: deletePet
      responses:
        '204': {description: gone}
  /pets:
    post:
      operationId: addPet
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewPet'}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
          links:
            toys:
              operationId: listToys
              parameters: {owner: $response.body#/owner/key}
  /toys:
    get:
      operationId: listToys
      parameters:
      - name: owner
        in: query
        required: true
        schema: {type: string}
      - name: size
        in: query
        schema:
          type: string
          enum: [s, m]
      - name: colour
        in: query
        required: true
        schema: {type: string}
        example: red
      - name: X-Api-Key
        in: header
        required: true
        schema: {type: string}
        example: a-key-in-the-spec
      responses:
        '200': {description: toys}
  /photos:
    post:
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object}
      responses:
        '201': {description: stored}
  /photos/{photo_id}:
    get:
      parameters:
      - name: photo_id
        in: path
        required: true
        schema: {type: integer}
      responses:
        '200': {description: a photo}
  /session:
    get:
      parameters:
      - name: sid
        in: cookie
        required: true
        schema: {type: string}
      responses:
        '200': {description: the session}
  /health:
    get:
      responses:
        '200': {description: up}
  /auth/token:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [login, password]
              properties:
                login: {type: string}
                password: {type: string}
                remember: {type: boolean}
      responses:
        '200':
          description: a token
          content:
            application/json:
              schema:
                type: object
                properties:
                  access_token: {type: string}
components:
  schemas:
    NewPet:
      allOf:
      - type: object
        required: [name]
        properties:
          name: {type: string, minLength: 10}
      - properties:
          kind:
            type: string
            enum: [cat, dog]
          age: {type: integer, minimum: 1, default: 2}
    Pet:
      type: object
      properties:
        id: {type: integer}
        owner: {type: object}
"""


@pytest.fixture
def converted(tmp_path, capsys):
    spec = tmp_path / "pets.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "pets.yaml"
    assert main(["scenario", "from-openapi", str(spec), "-o", str(out)]) == 0
    return out, capsys.readouterr().err


def test_calls_are_ordered_by_links_and_id_names_and_filled_from_the_schemas(converted):
    out, _ = converted
    journey = read_scenario(out).journey
    steps = {s.name: s for s in journey.steps}
    assert [s.name for s in journey.steps] == ["post_pets", "get_pet", "get_toys", "get_health", "delete_pet"]
    add = steps["post_pets"]
    assert (
        add.path == "/api/v2/pets" and add.json_body == {"name": "examplexxx", "age": 2} and add.expect_status == [201]
    )
    assert {k: v.json_path for k, v in add.extract.items()} == {"pet_id": "$.id", "owner": "$.owner.key"}
    assert steps["get_pet"].path == "/api/v2/pets/{{ pet_id }}" and steps["delete_pet"].expect_status == [204]
    assert steps["get_toys"].path == "/api/v2/toys?owner={{ owner }}&colour=red"  # optional size left out
    assert steps["get_health"].class_name == "health"
    assert steps["get_toys"].headers == {"X-Api-Key": "{{ credentials.x_api_key }}"}  # a key is never fixed
    assert fixed_secrets(yaml.safe_load(out.read_text())) == []


def test_the_login_runs_once_with_users_from_a_feeder(converted):
    out, _ = converted
    journey = read_scenario(out).journey
    (login,) = journey.setup
    assert login.json_body == {"login": "{{ credentials.login }}", "password": "{{ credentials.password }}"}
    assert login.extract["token"].json_path == "$.access_token"
    assert journey.headers == {"Authorization": "Bearer {{ token }}"}
    assert (out.parent / "pets.credentials.csv").read_text() == (
        "login,password,x_api_key\nexample-login,example-password,example-x_api_key\n"
    )
    assert (
        "Fill pets.credentials.csv with real credentials (login, password, x_api_key), a row per user."
        in out.read_text()
    )


def test_what_cannot_be_filled_is_left_out_and_listed(converted):
    out, err = converted
    text = yaml.safe_load(out.read_text())
    assert all("photo" not in s["path"] and "session" not in s["path"] for s in text["journey"]["steps"])
    assert "left out: POST /photos: its request body is multipart/form-data" in err
    assert "left out: GET /session: the required cookie 'sid'" in err
    assert "left out: GET /photos/{photo_id}: no call creates its photo_id and the spec gives no example" in err
    assert "Left out (could not fill): POST /photos" in out.read_text()


def test_a_credentials_file_must_have_the_login_fields(tmp_path, capsys):
    spec = tmp_path / "pets.yaml"
    spec.write_text(SPEC)
    users = tmp_path / "users.csv"
    users.write_text("username,password\nu,p\n")
    assert (
        main(["scenario", "from-openapi", str(spec), "-o", str(tmp_path / "s.yaml"), "--credentials", str(users)]) == 3
    )
    assert (
        "--credentials: the calls send ['login', 'password', 'x_api_key']; "
        "the file's columns lack ['login', 'x_api_key']" in capsys.readouterr().err
    )
    users.write_text("login,password,x_api_key\nu,p,k\n")
    assert (
        main(["scenario", "from-openapi", str(spec), "-o", str(tmp_path / "s.yaml"), "--credentials", str(users)]) == 0
    )
    assert read_scenario(tmp_path / "s.yaml").feeders["credentials"].file.endswith("users.csv")


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"swagger": "2.0", "paths": {}}', "expected an OpenAPI 3.x description"),
        ("{not json", "not JSON or YAML"),
        ('{"openapi": "3.1.0", "paths": {}}', "paths: expected at least one path"),
        ('{"openapi": ' + "[" * 3000 + "]" * 3000 + "}", "nested too deeply"),
        ("openapi: " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ],
)
def test_bad_specs_are_one_line(tmp_path, capsys, content, message):
    spec = tmp_path / "bad.json"
    spec.write_text(content)
    assert main(["scenario", "from-openapi", str(spec), "-o", str(tmp_path / "s.yaml")]) == 3
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "schema, value",
    [
        ({"type": "integer"}, 1),
        ({"type": "integer", "minimum": 5, "exclusiveMinimum": True}, 6),  # OpenAPI 3.0
        ({"type": "integer", "exclusiveMinimum": 5}, 6),  # OpenAPI 3.1
        ({"type": "integer", "maximum": 0}, 0),
        ({"type": "number", "maximum": 1, "exclusiveMaximum": True}, 0.5),
        ({"type": "string", "minLength": 9, "maxLength": 9}, "examplexx"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"type": "string", "format": "email"}, "user@example.com"),
        ({"type": "string", "pattern": "^(cpu|io)$"}, "cpu"),
        ({"type": "array", "items": {"type": "boolean"}}, [True]),
        ({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]}, 3),
        ({"type": ["null", "string"], "enum": ["a", "b"]}, "a"),
    ],
)
def test_values_the_schema_allows(schema, value):
    assert sample({"schema": schema}, Resolver({})) == value


def test_a_pattern_beyond_the_generator_is_unfillable():
    with pytest.raises(Unfillable, match="pattern"):
        sample({"schema": {"type": "string", "pattern": "^[0-9]{4}-x$"}}, Resolver({}), "code")
