"""OAuth2 credentials in the control API, the accounts file, SimulatorConfig and ``serve`` options."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conformance.commands.serve import command
from conformance.errors import ConfigurationError
from conformance.simulator import Simulator, SimulatorConfig, load_accounts
from conformance.simulator import config as config_module
from conformance.simulator.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    OTHER_PASSWORD,
    ApiCredential,
    default_accounts,
    read_accounts_file,
)
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.oauth import TOKEN_PATH, TOKEN_REVOKED

from .conftest import ACCOUNT, OTHER

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = b"grant_type=client_credentials"


@pytest.fixture
def fresh() -> Iterator[tuple[Simulator, httpx.Client]]:
    with (
        Simulator(engine_factory=LifecycleEngine) as simulator,
        httpx.Client(base_url=simulator.base_url, timeout=10) as c,
    ):
        yield simulator, c


def token_reply(c: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=(client_id, secret))


def token(c: httpx.Client, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET) -> str:
    r = token_reply(c, client_id, secret)
    assert r.status_code == 200, r.text
    value: str = r.json()["access_token"]
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_built_in_credentials_are_a_public_contract() -> None:
    assert (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET) == ("bw-client", "bw-client-secret")
    assert (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) == ("bw-other-client", "bw-other-client-secret")
    assert {(c.client_id, c.accounts) for c in SimulatorConfig().credentials} == {
        ("bw-client", ("9900000",)),
        ("bw-other-client", ("9900001",)),
    }
    assert DEFAULT_CLIENT_SECRET not in repr(SimulatorConfig().credentials)


def test_credentials_are_listed_with_masked_secrets(fresh: Any) -> None:
    _, c = fresh
    r = c.get("/_sim/credentials")
    assert r.status_code == 200
    assert r.json() == {
        "credentials": [
            {"clientId": "bw-client", "clientSecret": "*****", "accounts": [ACCOUNT]},
            {"clientId": "bw-other-client", "clientSecret": "*****", "accounts": [OTHER]},
        ]
    }
    assert c.get("/_sim/credentials/bw-client").json()["clientSecret"] == "*****"
    assert c.get("/_sim/credentials/nobody").status_code == 404


def test_put_one_credential_then_use_replace_and_delete_it(fresh: Any) -> None:
    sim, c = fresh
    body = {"clientSecret": "s-1", "accounts": [ACCOUNT]}
    r = c.put("/_sim/credentials/ci-client", json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {"clientId": "ci-client", "clientSecret": "*****", "accounts": [ACCOUNT]}
    access = token(c, "ci-client", "s-1")
    assert c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access)).status_code == 200
    # a GET -> PUT round trip keeps the secret; tokens stay good across the update
    again = {**c.get("/_sim/credentials/ci-client").json(), "accounts": [ACCOUNT, OTHER]}
    assert c.put("/_sim/credentials/ci-client", json=again).status_code == 200
    assert sim.store.credentials["ci-client"].client_secret == "s-1"
    assert c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access)).status_code == 200
    # a new secret: the old one stops working at the token endpoint
    assert c.put(
        "/_sim/credentials/ci-client", json={"clientSecret": "s-2", "accounts": [ACCOUNT]}
    ).is_success
    assert token_reply(c, "ci-client", "s-1").status_code == 401
    assert token_reply(c, "ci-client", "s-2").status_code == 200
    # deleting revokes, and making it again does not revive old tokens
    assert c.delete("/_sim/credentials/ci-client").status_code == 204
    assert c.get("/_sim/credentials/ci-client").status_code == 404
    assert c.delete("/_sim/credentials/ci-client").status_code == 404
    r = c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access))
    assert (r.status_code, r.json()["description"]) == (401, TOKEN_REVOKED)
    assert c.put("/_sim/credentials/ci-client", json=body).status_code == 201
    assert c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access)).status_code == 401


def test_put_all_credentials(fresh: Any) -> None:
    sim, c = fresh
    old = token(c, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    listing = c.get("/_sim/credentials").json()
    listing["credentials"] = [listing["credentials"][0]]  # keep bw-client (masked), drop the other
    listing["credentials"].append({"clientId": "both", "clientSecret": "b", "accounts": [ACCOUNT, OTHER]})
    r = c.put("/_sim/credentials", json=listing)
    assert r.status_code == 200, r.text
    assert [x["clientId"] for x in r.json()["credentials"]] == ["bw-client", "both"]
    assert sim.store.credentials["bw-client"].client_secret == DEFAULT_CLIENT_SECRET
    assert c.get(f"/accounts/{OTHER}/calls", headers=bearer(old)).status_code == 401
    assert token_reply(c, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET).status_code == 401
    assert c.get(f"/accounts/{OTHER}/calls", headers=bearer(token(c, "both", "b"))).status_code == 200


BAD_CREDENTIALS: dict[str, tuple[Any, str]] = {
    "unknown account": ({"clientSecret": "x", "accounts": ["123"]}, "account '123', which does not exist"),
    "no secret": ({"accounts": [ACCOUNT]}, "'clientSecret' is required"),
    "no accounts": ({"clientSecret": "x"}, "'accounts' is required"),
    "accounts not a list": ({"clientSecret": "x", "accounts": ACCOUNT}, "must be a list"),
    "account twice": ({"clientSecret": "x", "accounts": [ACCOUNT, ACCOUNT]}, "listed twice"),
    "masked secret on a new one": ({"clientSecret": "*****", "accounts": [ACCOUNT]}, "is new"),
    "id differs from the path": ({"clientId": "other", "clientSecret": "x", "accounts": []}, "clientId"),
    "secret not a string": ({"clientSecret": 5, "accounts": []}, "'clientSecret' must be a non-empty string"),
}


@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
def test_bad_credential_is_a_400_and_changes_nothing(fresh: Any, case: str) -> None:
    sim, c = fresh
    body, message = BAD_CREDENTIALS[case]
    before = sim.store.fingerprint()
    r = c.put("/_sim/credentials/new-client", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["description"]
    assert sim.store.fingerprint() == before


def test_bad_credential_lists_are_400(fresh: Any) -> None:
    sim, c = fresh
    before = sim.store.fingerprint()
    twice = {"clientId": "dup", "clientSecret": "x", "accounts": []}
    for body, message in (
        ({"credentials": [twice, twice]}, "duplicate clientId 'dup'"),
        ({"credentials": "x"}, "must be a list"),
        ({}, "must be a list"),
        ({"credentials": [{"clientId": "a:b", "clientSecret": "x", "accounts": []}]}, "without ':'"),
    ):
        r = c.put("/_sim/credentials", json=body)
        assert r.status_code == 400, body
        assert message in r.json()["description"]
    assert (
        c.put("/_sim/credentials/x", content=b"[", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert sim.store.fingerprint() == before


def test_revoke_needs_a_known_credential(fresh: Any) -> None:
    _, c = fresh
    assert c.post("/_sim/credentials/nobody/revoke").status_code == 404
    assert c.get("/_sim/credentials/bw-client/revoke").status_code == 405


def test_deleting_an_account_drops_it_from_credentials(fresh: Any) -> None:
    sim, c = fresh
    assert c.put(
        "/_sim/credentials/multi", json={"clientSecret": "m", "accounts": [ACCOUNT, OTHER]}
    ).is_success
    access = token(c, "multi", "m")
    assert c.delete(f"/_sim/accounts/{OTHER}").status_code == 204
    assert c.get("/_sim/credentials/multi").json()["accounts"] == [ACCOUNT]
    assert c.get("/_sim/credentials/bw-other-client").json()["accounts"] == []
    assert c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access)).status_code == 200
    assert c.get(f"/accounts/{OTHER}/calls", headers=bearer(access)).status_code == 403
    # an account made again under the same id is not covered again by itself
    account = {"username": "again", "password": "p"}
    assert c.put(f"/_sim/accounts/{OTHER}", json=account).status_code == 201
    assert c.get(f"/accounts/{OTHER}/calls", headers=bearer(access)).status_code == 403
    assert sim.store.credentials["multi"].accounts == (ACCOUNT,)


def test_put_accounts_may_carry_credentials(fresh: Any) -> None:
    sim, c = fresh
    accounts = [{"id": "1", "username": "a", "password": "b"}]
    r = c.put("/_sim/accounts", json={"accounts": accounts})
    assert r.status_code == 200
    assert {k: v.accounts for k, v in sim.store.credentials.items()} == {
        "bw-client": (),
        "bw-other-client": (),
    }
    body = {
        "accounts": accounts,
        "credentials": [{"clientId": "one", "clientSecret": "s", "accounts": ["1"]}],
    }
    assert c.put("/_sim/accounts", json=body).status_code == 200
    assert list(sim.store.credentials) == ["one"]
    assert c.get("/accounts/1/calls", headers=bearer(token(c, "one", "s"))).status_code == 200
    bad = {"accounts": accounts, "credentials": [{"clientId": "x", "clientSecret": "s", "accounts": ["2"]}]}
    before = sim.store.fingerprint()
    r = c.put("/_sim/accounts", json=bad)
    assert r.status_code == 400
    assert "'2', which does not exist" in r.json()["description"]
    assert sim.store.fingerprint() == before


def test_no_secret_in_any_control_api_answer(fresh: Any) -> None:
    sim, c = fresh
    assert c.put(
        "/_sim/credentials/hidden", json={"clientSecret": "very-secret-1", "accounts": [ACCOUNT]}
    ).is_success
    access = token(c, "hidden", "very-secret-1")
    c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(access))
    c.get(f"/accounts/{ACCOUNT}/calls", auth=("bw-user", DEFAULT_PASSWORD))
    token_reply(c, "hidden", "very-secret-2")
    basic = base64.b64encode(b"hidden:very-secret-1").decode()
    texts = [
        c.get(path).text
        for path in (
            "/_sim/credentials",
            "/_sim/credentials/hidden",
            "/_sim/credentials/bw-client",
            "/_sim/accounts",
            f"/_sim/accounts/{ACCOUNT}",
            "/_sim/requests",
            "/health",
        )
    ]
    texts.append(json.dumps([r.to_json() for r in sim.store.requests]))
    for text in texts:
        for secret in (
            "very-secret-1",
            "very-secret-2",
            DEFAULT_CLIENT_SECRET,
            OTHER_CLIENT_SECRET,
            access,
            basic,
        ):
            assert secret not in text
        for password in (DEFAULT_PASSWORD, OTHER_PASSWORD):
            assert f'"{password}"' not in text


# ------------------------------------------------------------------------------------- accounts file
ACCOUNTS_YAML = """
accounts:
  - {id: "1", username: u1, password: p1}
  - {id: 2, username: u2, password: p2}
credentials:
  - clientId: c-one
    clientSecret: s-one
    accounts: ["1", 2]
  - {clientId: c-none, clientSecret: s-none, accounts: []}
"""


def test_accounts_file_with_credentials(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(ACCOUNTS_YAML)
    loaded = read_accounts_file(path)
    assert [a.id for a in loaded.accounts] == ["1", "2"]
    assert loaded.credentials == (
        ApiCredential("c-one", "s-one", ("1", "2")),
        ApiCredential("c-none", "s-none", ()),
    )
    assert [a.id for a in load_accounts(path)] == ["1", "2"]
    json_path = tmp_path / "accounts.json"
    json_path.write_text(json.dumps({"accounts": [{"id": "1", "username": "u", "password": "p"}]}))
    assert read_accounts_file(json_path).credentials == ()  # an old file has none: Basic only
    built_in = read_accounts_file(None)
    assert [c.client_id for c in built_in.credentials] == [DEFAULT_CLIENT_ID, OTHER_CLIENT_ID]


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ('[{clientId: c, clientSecret: s, accounts: ["9"]}]', "covers account '9', which does not exist"),
        ('[{clientId: c, clientSecret: s, accounts: []}, {clientId: c, clientSecret: t, accounts: []}]',
         "duplicate clientId 'c'"),
        ("{clientId: c}", "credentials: must be a list"),
        ("[{clientSecret: s, accounts: []}]", "credentials[0]: 'clientId' is required"),
        ('[{clientId: c, clientSecret: s, accounts: [[1]]}]', "accounts[0]: must be an account id"),
        ('[{clientId: "", clientSecret: s, accounts: []}]', "'clientId' must be a non-empty string"),
    ],
)  # fmt: skip
def test_bad_credentials_in_the_accounts_file(tmp_path: Path, credentials: str, message: str) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text('accounts: [{id: "1", username: u, password: p}]\ncredentials: ' + credentials + "\n")
    with pytest.raises(ConfigurationError, match="accounts file") as info:
        read_accounts_file(path)
    assert message in str(info.value)
    assert info.value.reason == "bad-accounts"
    with pytest.raises(ConfigurationError):
        load_accounts(path)


# ------------------------------------------------------------------------------------- SimulatorConfig
def test_config_credentials_follow_the_accounts() -> None:
    main, _ = default_accounts()
    only_main = SimulatorConfig(accounts=(main,))
    assert [c.client_id for c in only_main.credentials] == [DEFAULT_CLIENT_ID]
    assert SimulatorConfig(accounts=(main,), credentials=()).credentials == ()
    with pytest.raises(ConfigurationError, match="which does not exist") as info:
        SimulatorConfig(accounts=(main,), credentials=(ApiCredential("x", "y", (OTHER,)),))
    assert info.value.reason == "bad-credentials"
    with pytest.raises(ConfigurationError, match="duplicate clientId"):
        SimulatorConfig(credentials=(ApiCredential("x", "y"), ApiCredential("x", "z")))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"auth_mode": "digest"}, "bad-auth-mode"),
        ({"token_lifetime": 0}, "bad-token-lifetime"),
        ({"token_lifetime": 1.5}, "bad-token-lifetime"),
        ({"token_lifetime": True}, "bad-token-lifetime"),
        ({"token_lifetime": 10**9}, "bad-token-lifetime"),
    ],
)
def test_bad_auth_settings(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SimulatorConfig(**kwargs)
    assert info.value.reason == reason


def test_simulator_accepts_the_auth_fields() -> None:
    sim = Simulator(auth_mode="oauth2", token_lifetime=60)
    assert (sim.config.auth_mode, sim.config.token_lifetime) == ("oauth2", 60)
    assert (sim.runtime.tokens.mode, sim.runtime.tokens.lifetime) == ("oauth2", 60)
    assert config_module.AUTH_MODES == ("oauth2", "basic", "both")


# ------------------------------------------------------------------------------------- serve options
@pytest.mark.parametrize(
    "args",
    [["--auth", "digest"], ["--token-lifetime", "0"], ["--token-lifetime", "x"], ["--token-lifetime", "-5"]],
)
def test_serve_refuses_bad_auth_options(args: list[str]) -> None:
    result = CliRunner().invoke(command, [*args, "--port", "0"])
    assert result.exit_code == 2, result.output


def test_serve_refuses_bad_credentials_in_the_accounts_file(tmp_path: Path) -> None:
    bad = tmp_path / "accounts.yml"
    bad.write_text(
        'accounts: [{id: "1", username: u, password: p}]\ncredentials: [{clientId: c, clientSecret: s}]'
    )
    result = CliRunner().invoke(command, ["--accounts", str(bad), "--port", "0"])
    assert result.exit_code == 2
    assert "'accounts' is required" in result.output
    assert str(bad) in result.output


def test_serve_help_names_the_auth_options() -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    for text in ("--auth", "oauth2", "basic", "both", "--token-lifetime", "3600"):
        assert text in result.output
