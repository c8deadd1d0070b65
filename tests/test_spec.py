"""The Voice API contract, ``openapi/bandwidth-voice.yml``.

Checks its structure against the facts it encodes (operations, statuses, errors, links, webhook
conventions), that every example validates against its schema, and that the tools that consume it
(openapi-spec-validator, schemathesis, the webhook catalogue) load it cleanly.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jsonschema  # type: ignore[import-untyped]
import pytest
import referencing
from referencing.jsonschema import DRAFT202012

from conformance.resources import data_dir, load_spec, load_yaml, spec_path
from conformance.webhooks.events import catalogue

SPEC_URI = "urn:bandwidth-voice-contract"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ERROR_STATUSES = ("400", "401", "403", "404", "405", "415", "429", "500", "503")
VOICE_API_ERROR = "#/components/schemas/voiceApiError"

OPERATION_IDS = frozenset(
    {
        "createCall", "listCalls", "getCallState", "updateCall", "updateCallBxml",
        "listConferences", "getConference", "updateConference", "updateConferenceBxml",
        "getConferenceMember", "updateConferenceMember", "listConferenceRecordings",
        "getConferenceRecording", "downloadConferenceRecording", "listAccountCallRecordings",
        "updateCallRecordingState", "listCallRecordings", "getCallRecording", "deleteRecording",
        "downloadCallRecording", "deleteRecordingMedia", "getRecordingTranscription",
        "transcribeCallRecording", "deleteRecordingTranscription", "getStatistics",
        "listRealTimeTranscriptions", "getRealTimeTranscription", "deleteRealTimeTranscription",
    }
)  # fmt: skip
# Operations that change a live call or conference: the target answers 409 once it has ended.
CONFLICT_OPERATIONS = frozenset(
    {
        "updateCall", "updateCallBxml", "updateCallRecordingState", "updateConference",
        "updateConferenceBxml", "updateConferenceMember", "transcribeCallRecording",
    }
)  # fmt: skip
EMPTY_200 = frozenset({"updateCall", "updateCallRecordingState", "deleteRealTimeTranscription"})
EMPTY_204 = frozenset(
    {
        "updateCallBxml", "updateConference", "updateConferenceBxml", "updateConferenceMember",
        "deleteRecording", "deleteRecordingMedia", "transcribeCallRecording",
        "deleteRecordingTranscription",
    }
)  # fmt: skip
BXML_BODY = frozenset({"updateCallBxml", "updateConferenceBxml"})
# The OAuth 2.0 token endpoint lives on another host; this extension (and the tag) mark it.
TOKEN_MARKER = "x-bw-token-endpoint"
TOKEN_TAG = "OAuth"
TOKEN_URL = "https://api.bandwidth.com/api/v1/oauth2/token"
MEDIA_DOWNLOADS = frozenset({"downloadCallRecording", "downloadConferenceRecording"})

# eventType -> (x-bxml-reply, x-empty-reply-allowed)
WEBHOOKS: dict[str, tuple[str, bool]] = {
    **{name: ("call", False) for name in (
        "answer", "initiate", "gather", "redirect", "recordComplete", "transferComplete",
        "bridgeComplete", "bridgeTargetComplete", "referComplete",
    )},
    **{name: ("conference", True) for name in (
        "conferenceCreated", "conferenceRedirect", "conferenceMemberJoin", "conferenceMemberExit",
    )},
    "transferAnswer": ("transferAnswer", False),
    **{name: ("none", False) for name in (
        "conferenceCompleted", "conferenceRecordingAvailable", "disconnect", "dtmf",
        "machineDetectionComplete", "recordingAvailable", "transcriptionAvailable",
        "transferDisconnect", "mediaStreamStarted", "mediaStreamRejected", "mediaStreamStopped",
        "realTimeTranscriptionStarted", "realTimeTranscriptionRejected",
        "realTimeTranscriptionStopped", "realTimeTranscriptionAvailable",
    )},
}  # fmt: skip
SCHEMA_NAME_EXCEPTIONS = {"recordComplete": "recordingCompleteCallback"}
# Schema keywords whose values are schemas, or maps/lists of schemas.
_SUBSCHEMA = {"items", "not", "if", "then", "else", "additionalProperties", "contains"}
_SUBSCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas", "$defs"}
_SUBSCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}

Json = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Json:
    return copy.deepcopy(dict(load_spec()))


@pytest.fixture(scope="module")
def registry(spec: Json) -> referencing.Registry[Any]:
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        SPEC_URI, DRAFT202012.create_resource(spec)
    )
    return registry


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _validator(registry: referencing.Registry[Any], pointer: str) -> jsonschema.Draft202012Validator:
    ref = f"{SPEC_URI}#{quote(pointer, safe='/~')}"
    return jsonschema.Draft202012Validator(
        {"$ref": ref},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _deref(spec: Json, node: Json) -> Json:
    """Follow ``$ref`` chains of non-schema objects (responses, parameters, headers, ...)."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        assert ref not in seen, ref
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _all_operations(spec: Json) -> Iterator[tuple[str, str, Json, list[Json]]]:
    for path, item in spec["paths"].items():
        shared = [_deref(spec, p) for p in item.get("parameters", [])]
        for method in METHODS:
            if method in item:
                operation = item[method]
                own = [_deref(spec, p) for p in operation.get("parameters", [])]
                yield path, method, operation, shared + own


def _operations(spec: Json) -> Iterator[tuple[str, str, Json, list[Json]]]:
    """The Voice API operations: every operation except the token endpoint."""
    for path, method, operation, params in _all_operations(spec):
        if not operation.get(TOKEN_MARKER):
            yield path, method, operation, params


def _by_id(spec: Json) -> dict[str, tuple[str, str, Json, list[Json]]]:
    return {op["operationId"]: (path, method, op, params) for path, method, op, params in _operations(spec)}


def _iter_examples(node: Any, pointer: str, in_schema: bool = False) -> Iterator[tuple[str, Any]]:
    """Every (schema pointer, example value) pair in the document."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _iter_examples(item, f"{pointer}/{index}")
        return
    if not isinstance(node, dict):
        return
    if in_schema:
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            yield pointer, example
        if "example" in node:
            yield pointer, node["example"]
        for key, value in node.items():
            child = f"{pointer}/{_escape(key)}"
            if key in _SUBSCHEMA:
                yield from _iter_examples(value, child, in_schema=isinstance(value, dict))
            elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
                for name, sub in value.items():
                    yield from _iter_examples(sub, f"{child}/{_escape(name)}", in_schema=True)
            elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
                for index, sub in enumerate(value):
                    yield from _iter_examples(sub, f"{child}/{index}", in_schema=True)
        return
    if "schema" in node and "$ref" not in node:
        # a parameter, header or media type object
        if "example" in node:
            yield f"{pointer}/schema", node["example"]
        for named in (node.get("examples") or {}).values():
            if isinstance(named, dict) and "value" in named:
                yield f"{pointer}/schema", named["value"]
    for key, value in node.items():
        child = f"{pointer}/{_escape(key)}"
        if key == "schema" or (pointer == "/components/schemas"):
            yield from _iter_examples(value, child, in_schema=True)
        else:
            yield from _iter_examples(value, child)


def _has_examples(spec: Json, schema: Json) -> bool:
    while set(schema) == {"$ref"}:
        schema = _deref(spec, schema)
    return bool(schema.get("examples")) or "example" in schema


# --------------------------------------------------------------------------- document validity


def test_spec_passes_openapi_spec_validator(spec: Json) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    assert spec["openapi"].startswith("3.1.")
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_no_duplicate_keys() -> None:
    """PyYAML keeps the last of two equal keys silently; a duplicate would hide part of the contract."""
    import yaml

    class _StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            assert key not in seen, f"duplicate key {key!r} on line {key_node.start_mark.line + 1}"
            seen.add(key)
        return loader.construct_mapping(node)

    _StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    with spec_path().open("rb") as handle:
        assert isinstance(yaml.load(handle, Loader=_StrictLoader), dict)


def test_servers_and_security(spec: Json) -> None:
    assert spec["servers"][0]["url"] == "https://voice.bandwidth.com/api/v2"
    # Either scheme, as in the official document: legacy Basic or an OAuth2 bearer token.
    assert spec["security"] == [{"Basic": []}, {"OAuth2": []}]
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"Basic", "OAuth2"}
    assert {k: v for k, v in schemes["Basic"].items() if k != "description"} == {
        "type": "http",
        "scheme": "basic",
    }
    assert "legacy" in schemes["Basic"]["description"].lower()
    assert "December 2, 2026" in schemes["Basic"]["description"]
    assert {k: v for k, v in schemes["OAuth2"].items() if k != "description"} == {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    }
    assert "Bearer" in schemes["OAuth2"]["description"]
    for _, _, op, _ in _operations(spec):
        assert "security" not in op, op["operationId"]  # the global alternatives hold everywhere


def test_401_and_403_describe_both_schemes(spec: Json) -> None:
    unauthorized = spec["components"]["responses"]["voiceUnauthorizedError"]
    header = _deref(spec, unauthorized["headers"]["WWW-Authenticate"])
    assert header.get("required", False) is False  # Basic targets have always sent their own value
    assert header["example"].startswith("Bearer")
    assert "token" in unauthorized["description"]
    forbidden = spec["components"]["responses"]["voiceForbiddenError"]
    assert forbidden["headers"]["WWW-Authenticate"] == unauthorized["headers"]["WWW-Authenticate"]
    assert "token" in forbidden["description"]


def test_token_endpoint_is_marked_and_lives_on_its_own_host(spec: Json) -> None:
    marked = [(path, method, op) for path, method, op, _ in _all_operations(spec) if op.get(TOKEN_MARKER)]
    assert len(marked) == 1
    path, method, operation = marked[0]
    assert (path, method, operation["operationId"]) == ("/api/v1/oauth2/token", "post", "createOAuth2Token")
    assert operation[TOKEN_MARKER] is True
    # the tag and the extension mark the same operations, so either can be used to leave it out
    tagged = {op["operationId"] for _, _, op, _ in _all_operations(spec) if TOKEN_TAG in op.get("tags", [])}
    assert tagged == {"createOAuth2Token"}
    assert operation["tags"] == [TOKEN_TAG]
    assert TOKEN_TAG in {tag["name"] for tag in spec["tags"]}
    servers = spec["paths"][path]["servers"]
    assert servers[0]["url"] + path == TOKEN_URL
    assert operation["security"] == []  # the client authenticates with its id and secret, not an API scheme
    assert "Authorization: Basic base64(client_id:client_secret)" in operation["description"]
    assert "parameters" not in operation
    assert "parameters" not in spec["paths"][path]


def test_token_endpoint_request_and_replies(spec: Json, registry: referencing.Registry[Any]) -> None:
    operation = spec["paths"]["/api/v1/oauth2/token"]["post"]
    body = _deref(spec, operation["requestBody"])
    assert body["required"] is True
    assert list(body["content"]) == ["application/x-www-form-urlencoded"]
    form = _validator(registry, "/components/schemas/oauth2TokenRequest")
    assert form.is_valid({"grant_type": "client_credentials"})
    assert not form.is_valid({"grant_type": "password"})
    assert not form.is_valid({})

    responses = {status: _deref(spec, ref) for status, ref in operation["responses"].items()}
    assert set(responses) == {"200", "400", "401", "413", "429"}
    token = responses["200"]["content"]["application/json"]["schema"]
    assert token == {"$ref": "#/components/schemas/oauth2TokenResponse"}
    reply = _validator(registry, "/components/schemas/oauth2TokenResponse")
    good = {"access_token": "abc", "token_type": "Bearer", "expires_in": 3600}
    assert reply.is_valid(good)
    assert reply.is_valid({**good, "token_type": "bearer"})  # RFC 6749: case-insensitive
    assert not reply.is_valid({**good, "token_type": "MAC"})
    assert not reply.is_valid({**good, "expires_in": 0})
    assert not reply.is_valid({"token_type": "Bearer", "expires_in": 3600})

    error = _validator(registry, "/components/schemas/oauth2Error")
    codes = (("400", "unsupported_grant_type"), ("401", "invalid_client"), ("413", "invalid_request"))
    for status, code in (*codes, ("429", "temporarily_unavailable")):
        media = responses[status]["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/oauth2Error"}, status
        assert media["example"]["error"] == code
        assert error.is_valid(media["example"])
    assert "invalid_request" in responses["400"]["description"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert not error.is_valid({"error_description": "no code"})
    # the Voice API's error shape is not an OAuth error and vice versa
    assert not error.is_valid({"type": "authentication-error", "description": "x", "id": None})


def test_exactly_the_28_voice_operations(spec: Json) -> None:
    ids = [op["operationId"] for _, _, op, _ in _operations(spec)]
    assert len(ids) == len(set(ids)) == 28
    assert set(ids) == OPERATION_IDS
    declared_tags = {tag["name"] for tag in spec["tags"]}
    for _, _, op, _ in _operations(spec):
        assert op["tags"], op["operationId"]
        assert set(op["tags"]) <= declared_tags, op["operationId"]


def test_everything_is_described(spec: Json) -> None:
    undescribed = [op["operationId"] for _, _, op, _ in _operations(spec) if not op.get("description")]
    undescribed += [
        f"{name}Webhook" for name, item in spec["webhooks"].items() if not item["post"].get("description")
    ]
    for kind in ("schemas", "parameters", "headers", "responses", "requestBodies"):
        for name, item in spec["components"][kind].items():
            if set(item) != {"$ref"} and not item.get("description"):
                undescribed.append(f"{kind}/{name}")
    assert undescribed == []


def test_notes_list_every_409_beyond_the_official_document() -> None:
    notes = (data_dir("openapi") / "NOTES.md").read_text(encoding="utf-8")
    for operation_id in CONFLICT_OPERATIONS - {"updateCall", "updateCallBxml"}:
        assert operation_id in notes, operation_id
    assert "OAuth2" in notes


def test_notes_describe_the_token_endpoint_and_bearer_answers() -> None:
    notes = (data_dir("openapi") / "NOTES.md").read_text(encoding="utf-8")
    for needle in (TOKEN_MARKER, f"tag `{TOKEN_TAG}`", "WWW-Authenticate: Bearer", "Token lifetime", "403"):
        assert needle in notes, needle


# --------------------------------------------------------------------------- responses


def test_every_error_response_is_a_voice_api_error(spec: Json) -> None:
    for _, _, op, _ in _operations(spec):
        statuses = set(op["responses"])
        expected = set(ERROR_STATUSES) | ({"409"} if op["operationId"] in CONFLICT_OPERATIONS else set())
        assert {s for s in statuses if s >= "400"} == expected, op["operationId"]
        for status in expected:
            response = _deref(spec, op["responses"][status])
            assert list(response["content"]) == ["application/json"], (op["operationId"], status)
            assert response["content"]["application/json"]["schema"] == {"$ref": VOICE_API_ERROR}
        assert "Retry-After" in _deref(spec, op["responses"]["429"])["headers"]


def test_success_statuses_and_bodies(spec: Json) -> None:
    for operation_id, (_, method, op, _) in _by_id(spec).items():
        success = {s: _deref(spec, r) for s, r in op["responses"].items() if s < "300"}
        assert len(success) == 1, operation_id
        status, response = next(iter(success.items()))
        if operation_id == "createCall":
            assert status == "201"
        elif operation_id in EMPTY_200 or operation_id in EMPTY_204:
            assert status == ("200" if operation_id in EMPTY_200 else "204"), operation_id
            assert "content" not in response, operation_id
        elif operation_id in MEDIA_DOWNLOADS:
            assert set(response["content"]) == {"audio/vnd.wave", "audio/mpeg"}
            for media in response["content"].values():
                assert media["schema"] == {"type": "string", "format": "binary"}
        else:
            assert (status, method) == ("200", "get"), operation_id
            assert list(response["content"]) == ["application/json"], operation_id
        if "requestBody" in op:
            body = _deref(spec, op["requestBody"])
            assert body["required"] is True
            expected_type = "application/xml" if operation_id in BXML_BODY else "application/json"
            assert list(body["content"]) == [expected_type], operation_id


def test_list_operations_document_link_paging(spec: Json) -> None:
    ops = _by_id(spec)
    for operation_id in ("listCalls", "listConferences"):
        response = _deref(spec, ops[operation_id][2]["responses"]["200"])
        assert "Link" in response["headers"], operation_id
        names = {p["name"] for p in ops[operation_id][3]}
        assert {"pageSize", "pageToken"} <= names
    page_size = {op_id: next(p for p in ops[op_id][3] if p["name"] == "pageSize")["schema"]
                 for op_id in ("listCalls", "listConferences")}  # fmt: skip
    assert (page_size["listCalls"]["minimum"], page_size["listCalls"]["maximum"]) == (1, 10000)
    assert (page_size["listConferences"]["minimum"], page_size["listConferences"]["maximum"]) == (1, 1000)


def test_create_call_answers_201_with_location_and_links(spec: Json) -> None:
    response = _deref(spec, _by_id(spec)["createCall"][2]["responses"]["201"])
    assert "Location" in response["headers"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/createCallResponse"
    }
    targets = {link["operationId"] for link in response["links"].values()}
    assert targets >= {
        "getCallState", "updateCall", "updateCallBxml", "listCallRecordings",
        "updateCallRecordingState", "listRealTimeTranscriptions",
    }  # fmt: skip
    for link in response["links"].values():
        assert link["parameters"] == {
            "accountId": "$request.path.accountId",
            "callId": "$response.body#/callId",
        }


_EXPRESSION = re.compile(r"^\$(?:request\.path\.(?P<param>\w+)|response\.body#(?P<pointer>(?:/[\w~]+)+))$")


def test_every_link_is_well_formed(spec: Json) -> None:
    ops = _by_id(spec)
    count = 0
    for _, _, op, params in _operations(spec):
        source_path_params = {p["name"] for p in params if p["in"] == "path"}
        for status, ref in op["responses"].items():
            for name, link in _deref(spec, ref).get("links", {}).items():
                count += 1
                target = ops[link["operationId"]]
                target_path_params = {p["name"] for p in target[3] if p["in"] == "path"}
                assert set(link["parameters"]) == target_path_params, (op["operationId"], name)
                for expression in link["parameters"].values():
                    match = _EXPRESSION.match(expression)
                    assert match, expression
                    if match["param"]:
                        assert match["param"] in source_path_params, (op["operationId"], expression)
                assert status.startswith("2")
    assert count >= 25


def test_path_ids_are_plain_strings_with_realistic_examples(spec: Json) -> None:
    parameters = spec["components"]["parameters"]
    formats = {
        "accountId": r"[0-9]{7}",
        "callId": r"c-[0-9a-f-]{45}",
        "memberId": r"c-[0-9a-f-]{45}",
        "conferenceId": r"conf-[0-9a-f-]{45}",
        "recordingId": r"r-[0-9a-f-]{45}",
        "transcriptionId": r"t-[0-9a-f-]{45}",
    }
    for name, pattern in formats.items():
        parameter = parameters[name]
        assert parameter["in"] == "path"
        assert parameter["required"] is True
        assert parameter["schema"] == {"type": "string"}, name
        assert re.fullmatch(pattern, parameter["example"]), name


# --------------------------------------------------------------------------- examples


def test_every_example_validates_against_its_schema(spec: Json, registry: referencing.Registry[Any]) -> None:
    pairs = list(_iter_examples(spec, ""))
    assert len(pairs) > 150
    failures = []
    for pointer, example in pairs:
        errors = list(_validator(registry, pointer).iter_errors(example))
        if errors:
            failures.append((pointer, errors[0].message))
    assert failures == []


def test_example_validation_is_not_vacuous(spec: Json, registry: referencing.Registry[Any]) -> None:
    create_call = _validator(registry, "/components/schemas/createCall")
    good = spec["components"]["schemas"]["createCall"]["examples"][0]
    assert create_call.is_valid(good)
    assert not create_call.is_valid({**good, "from": "19195550100"})
    assert not create_call.is_valid({**good, "to": "mailto:someone@example.com"})
    assert not create_call.is_valid({**good, "answerUrl": "ftp://app.example.com/answer"})
    assert not create_call.is_valid({**good, "callTimeout": 301})
    assert not create_call.is_valid({key: value for key, value in good.items() if key != "answerUrl"})
    update_call = _validator(registry, "/components/schemas/updateCall")
    assert update_call.is_valid({"state": "completed"})
    assert not update_call.is_valid({"state": "active"})
    assert not update_call.is_valid({"state": "completed", "redirectUrl": "https://a.example.com/r"})
    answer = _validator(registry, "/components/schemas/answerCallback")
    payload = spec["components"]["schemas"]["answerCallback"]["examples"][0]
    assert answer.is_valid(payload)
    assert not answer.is_valid({**payload, "eventType": "disconnect"})
    assert not answer.is_valid({**payload, "eventTime": "yesterday"})


def test_every_schema_parameter_and_response_has_an_example(spec: Json) -> None:
    components = spec["components"]
    missing = [f"schema {n}" for n, s in components["schemas"].items() if not _has_examples(spec, s)]
    missing += [f"parameter {n}" for n, p in components["parameters"].items() if "example" not in p]
    missing += [f"header {n}" for n, h in components["headers"].items() if "example" not in h]
    for kind in ("responses", "requestBodies"):
        for name, item in components[kind].items():
            for media_type, media in item.get("content", {}).items():
                if media_type.startswith("audio/"):
                    continue  # binary audio has no meaningful inline example
                if "example" not in media and not _has_examples(spec, media["schema"]):
                    missing.append(f"{kind} {name} {media_type}")
    assert missing == []


# --------------------------------------------------------------------------- webhooks


def test_webhooks_follow_the_convention(spec: Json) -> None:
    webhooks = spec["webhooks"]
    assert set(webhooks) == set(WEBHOOKS)
    for name, item in webhooks.items():
        assert set(item) == {"post"}, name
        operation = item["post"]
        assert operation["operationId"] == f"{name}Webhook"
        context, empty_allowed = WEBHOOKS[name]
        assert operation["x-bxml-reply"] == context, name
        assert operation["x-empty-reply-allowed"] is empty_allowed, name
        schema_name = SCHEMA_NAME_EXCEPTIONS.get(name, f"{name}Callback")
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema_name}"}, name
        schema = spec["components"]["schemas"][schema_name]
        assert schema["type"] == "object"
        assert schema["properties"]["eventType"] == {"type": "string", "const": name}
        assert {"eventType", "eventTime"} <= set(schema["required"]) <= set(schema["properties"]), name
        assert "additionalProperties" not in schema, name
        responses = {s: _deref(spec, r) for s, r in operation["responses"].items()}
        if context == "none":
            assert set(responses) == {"204"}, name
            assert "content" not in responses["204"], name
        else:
            expected = {"200", "204"} if empty_allowed else {"200"}
            assert set(responses) == expected, name
            assert list(responses["200"]["content"]) == ["application/xml"], name


def test_bxml_body_schema_says_what_a_bxml_document_is(spec: Json) -> None:
    from conformance.bxml.parsing import MAX_DOCUMENT_BYTES

    schema = spec["components"]["schemas"]["bxmlDocument"]
    # format: binary makes tools send the text as is (schemathesis wraps any other string in XML)
    assert (schema["type"], schema["format"]) == ("string", "binary")
    assert schema["contentMediaType"] == "application/xml"
    assert schema["maxLength"] == MAX_DOCUMENT_BYTES
    assert "UTF-8" in schema["description"]
    assert "400" in schema["description"]
    for operation_id in BXML_BODY:
        body = _deref(spec, _by_id(spec)[operation_id][2]["requestBody"])
        assert body["content"]["application/xml"]["schema"] == {"$ref": "#/components/schemas/bxmlDocument"}


def test_bxml_examples_are_valid_in_their_context(spec: Json) -> None:
    from conformance.bxml import iter_errors

    documents: list[tuple[str, str, str]] = []
    for operation_id, context in (("updateCallBxml", "call"), ("updateConferenceBxml", "conference")):
        body = _deref(spec, _by_id(spec)[operation_id][2]["requestBody"])
        documents.append((operation_id, context, body["content"]["application/xml"]["example"]))
    for name, item in spec["webhooks"].items():
        context = item["post"]["x-bxml-reply"]
        if context != "none":
            reply = _deref(spec, item["post"]["responses"]["200"])
            documents.append((name, context, reply["content"]["application/xml"]["example"]))
    assert len(documents) == 2 + sum(context != "none" for context, _ in WEBHOOKS.values())
    problems = [
        (name, context, [e.rule for e in iter_errors(doc, context)]) for name, context, doc in documents
    ]
    assert [p for p in problems if p[2]] == []
    # and the check can fail: Transfer is not allowed in transferAnswer BXML
    assert list(
        iter_errors(
            "<Response><Transfer><PhoneNumber>+19195550102</PhoneNumber></Transfer></Response>",
            "transferAnswer",
        )
    )


def test_catalogue_reads_every_webhook(spec: Json) -> None:
    events = catalogue()
    assert set(events) == set(WEBHOOKS)
    for name, event in events.items():
        context, empty_allowed = WEBHOOKS[name]
        assert event.bxml_context == (None if context == "none" else context)
        assert event.empty_reply_allowed is empty_allowed
        assert "eventType" in event.required
        assert "eventType" in event.properties
        validator = jsonschema.Draft202012Validator(
            event.schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        examples = event.schema["examples"]
        assert examples, name
        assert all(validator.is_valid(example) for example in examples), name
        assert not validator.is_valid({**examples[0], "eventType": f"{name}X"}), name


def test_callback_schemas_know_every_sdk_field(spec: Json) -> None:
    models = pytest.importorskip("bandwidth.models")
    schemas = spec["components"]["schemas"]
    checked = 0
    for name in dir(models):
        model = getattr(models, name)
        if not name.endswith("Callback") or not hasattr(model, "model_fields"):
            continue
        schema_name = name[0].lower() + name[1:]
        if schema_name not in schemas:
            continue  # messaging callbacks and the like are not part of the Voice contract
        checked += 1
        aliases = {field.alias or key for key, field in model.model_fields.items()}
        aliases.discard("additional_properties")
        assert aliases <= set(schemas[schema_name]["properties"]), (schema_name, aliases)
    assert checked >= 22


def test_official_sdk_parses_every_object_example(spec: Json) -> None:
    models = pytest.importorskip("bandwidth.models")
    parsed = 0
    for name, schema in spec["components"]["schemas"].items():
        model = getattr(models, name[0].upper() + name[1:], None)
        if model is None or not hasattr(model, "from_dict"):
            continue
        for example in schema.get("examples", []):
            if isinstance(example, dict):
                assert model.from_dict(example) is not None, name
                parsed += 1
    assert parsed >= 40


# --------------------------------------------------------------------------- tooling


def test_schemathesis_loads_and_enumerates_every_operation() -> None:
    import schemathesis
    from schemathesis.specs.openapi.stateful import collect_transitions

    schema = schemathesis.openapi.from_path(str(spec_path()))
    everything = {result.ok().definition.raw["operationId"] for result in schema.get_all_operations()}  # type: ignore[union-attr]
    assert everything == OPERATION_IDS | {"createOAuth2Token"}
    # the token endpoint is left out by its tag, as a Voice API run does
    voice = schema.exclude(tag=TOKEN_TAG)
    operations = [result.ok() for result in voice.get_all_operations()]  # type: ignore[union-attr]
    assert {operation.definition.raw["operationId"] for operation in operations} == OPERATION_IDS
    assert list(schema.iter_schema_warnings()) == []
    transitions = collect_transitions(operations)
    create_call = transitions.operations["POST /accounts/{accountId}/calls"]
    assert {link.target.label for link in create_call.outgoing} >= {
        "GET /accounts/{accountId}/calls/{callId}",
        "POST /accounts/{accountId}/calls/{callId}",
        "PUT /accounts/{accountId}/calls/{callId}/bxml",
        "GET /accounts/{accountId}/calls/{callId}/recordings",
        "PUT /accounts/{accountId}/calls/{callId}/recording",
        "GET /accounts/{accountId}/calls/{callId}/transcriptions",
    }


def test_the_contract_parses_the_same_with_the_c_loader_and_the_python_one() -> None:
    import yaml

    text = spec_path().read_bytes()
    assert load_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader) == load_spec()


@pytest.mark.parametrize(
    "document",
    [
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
    ],
)
def test_load_yaml_is_a_safe_loader(document: str) -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        load_yaml(document)
