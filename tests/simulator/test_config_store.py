"""SimulatorConfig, the accounts file and the Store's look-ups and ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conformance.errors import ConfigurationError, ConformanceError
from conformance.simulator import SimulatorConfig, load_accounts
from conformance.simulator.config import account_to_json, default_accounts, parse_accounts
from conformance.simulator.store import RequestRecord, Store, new_id

from .conftest import seed_call

ID = re.compile(r"^[a-z]+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class FixedClock:
    def __init__(self) -> None:
        self.value = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value


def test_default_accounts_match_the_issue() -> None:
    main, other = default_accounts()
    assert (main.id, main.username, main.password) == ("9900000", "bw-user", "bw-pass")
    assert list(main.applications) == ["11111111-1111-4111-8111-111111111111"]
    assert sorted(main.numbers) == [f"+191955501{i:02d}" for i in range(100)]
    assert (other.id, other.username, other.password) == ("9900001", "bw-other", "bw-other-pass")
    assert list(other.applications) == ["22222222-2222-4222-8222-222222222222"]
    assert load_accounts(None)[0].numbers == main.numbers


YAML = """
accounts:
  - id: 1234567
    username: u
    password: p
    callsPerSecond: 2
    applications:
      - id: app
        callInitiatedCallbackUrl: https://e.test/init
        callStatusCallbackUrl: https://e.test/status
        callbackTimeout: 5
    numbers:
      - {number: "+15550001111", applicationId: app}
      - {range: ["+15550002000", "+15550002009"], applicationId: app}
      - "+15550003333"
"""


def test_load_yaml_and_json_accounts(tmp_path: Path) -> None:
    yaml_file = tmp_path / "accounts.yaml"
    yaml_file.write_text(YAML)
    (account,) = load_accounts(yaml_file)
    assert account.id == "1234567"
    assert account.calls_per_second == 2.0
    assert len(account.numbers) == 12
    assert account.numbers["+15550003333"].application_id is None
    assert account.applications["app"].callback_timeout == 5.0
    json_file = tmp_path / "accounts.json"
    json_file.write_text(json.dumps({"accounts": [account_to_json(account) | {"password": "p"}]}))
    (again,) = load_accounts(json_file)
    assert again.numbers.keys() == account.numbers.keys()
    assert again.applications["app"].call_status_callback_url == "https://e.test/status"


ACC = "accounts: [{id: 1, username: u, password: p"
TWO = "accounts: [{id: 1, username: u, password: p}, "


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("accounts: [", "not valid JSON/YAML"),
        ("[]", "must be an object"),
        ("accounts: []", "'accounts' must be a non-empty list"),
        ("accounts: [{username: u, password: p}]", "'id' is required"),
        ("accounts: [{id: 1, username: u}]", "'password' is required"),
        ("accounts: [{id: 1, username: u, password: p, numbers: ['555']}]", "is not E.164"),
        (
            ACC + ", numbers: [{number: '+15551112222', applicationId: x}]}]",
            "is not an application of this account",
        ),
        (ACC + ", applications: [{id: a, callStatusCallbackUrl: ftp://x}]}]", "http(s) URL"),
        ("accounts: [{id: 1, username: u, password: p, callsPerSecond: 0}]", "positive number"),
        (TWO + "{id: 1, username: v, password: p}]", "duplicate account id"),
        (TWO + "{id: 2, username: u, password: p}]", "duplicate username"),
        (
            "accounts: [{id: 1, username: u, password: p, numbers: ['+15551112222']},"
            " {id: 2, username: v, password: p, numbers: ['+15551112222']}]",
            "belongs to accounts 1 and 2",
        ),
    ],
)
def test_bad_accounts_files_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_accounts(path)
    assert problem in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.reason == "bad-accounts"
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ConformanceError)


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_accounts(tmp_path / "nope.yml")
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_accounts(binary)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 70000},
        {"time_scale": 0},
        {"time_scale": -1.0},
        {"calls_per_second": 0},
        {"max_concurrent_calls": 0},
    ],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        SimulatorConfig(**kwargs)  # type: ignore[arg-type]


def test_ids_have_the_documented_shapes() -> None:
    store = Store(FixedClock())
    for make, prefix, length in (
        (store.new_call_id, "c-", 47),
        (store.new_conference_id, "conf-", 50),
        (store.new_recording_id, "r-", 47),
        (store.new_transcription_id, "t-", 47),
        (store.new_stream_id, "s-", 47),
    ):
        value = make()
        assert value.startswith(prefix)
        assert len(value) == length
        assert ID.match(value)
    assert len({new_id("c-") for _ in range(1000)}) == 1000


def test_store_lookups_and_updates() -> None:
    clock = FixedClock()
    store = Store(clock, parse_accounts({"accounts": [{"id": "1", "username": "u", "password": "p",
        "applications": [{"id": "a"}], "numbers": [{"number": "+15550001111", "applicationId": "a"},
                                                   "+15550002222"]}]}))  # fmt: skip
    routed = store.route("+15550001111")
    assert routed is not None
    assert (routed[0].id, routed[1].id) == ("1", "a")
    assert store.route("+15550002222") is None  # no application
    assert store.route("+19999999999") is None
    assert store.account_by_username("u") is store.account("1")
    call = seed_call(store, account="1", state="queued")
    assert call.enqueued_time == clock.value
    assert store.active_call_count("1") == 1
    assert store.queued_call_count("1") == 1
    clock.value = datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    store.update_call(call.call_id, state="disconnected")
    assert call.last_update == clock.value
    assert store.active_call_count("1") == 0
    with pytest.raises(AttributeError):
        store.update_call(call.call_id, no_such_field=1)
    with pytest.raises(ValueError, match="duplicate"):
        store.add_call(call)
    conf = store.add_conference("1", "room")
    assert store.conference_by_name("1", "room") is conf
    store.complete_conference(conf)
    assert store.conference_by_name("1", "room") is None
    assert conf.completed_time == clock.value


def test_request_log_is_bounded_and_numbered() -> None:
    store = Store(FixedClock(), log_size=3)
    for i in range(5):
        store.log_request(RequestRecord(seq=0, time=store.now(), method="GET", path=f"/{i}", status=200))
    assert [r.seq for r in store.requests] == [3, 4, 5]
    assert store.requests[-1].to_json()["time"] == "2026-01-02T03:04:05Z"
    before = store.fingerprint()
    store.clear_requests()
    assert store.fingerprint() == before
