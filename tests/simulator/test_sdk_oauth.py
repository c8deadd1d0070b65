"""The official ``bandwidth-sdk`` with OAuth2 client credentials against the simulator (conformance.sdk).

The simulator runs with ``auth_mode="oauth2"``, so HTTP Basic would be refused: every request that
succeeds here carried a Bearer token the SDK fetched from the simulator's own token endpoint.  Name
resolution of anything but loopback fails for the whole module (``no_dns``), so a token request to
Bandwidth's real endpoint would fail the test instead of leaving the machine.
"""

from __future__ import annotations

import copy
import os
import re
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import urllib3

from conformance import sdk
from conformance.errors import ConfigurationError
from conformance.settings import Settings
from conformance.simulator import Simulator
from conformance.simulator.app import OPERATIONS
from conformance.simulator.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
)
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.oauth import TOKEN_OPERATION, TOKEN_PATH, TOKEN_REVOKED
from conformance.target import Target, open_target

from .conftest import ACCOUNT, APP, FROM, TO, seed_call, seed_conference, seed_realtime, seed_transcribed

bandwidth = pytest.importorskip("bandwidth")
from bandwidth import exceptions as bw_exc  # noqa: E402

pytest_plugins = ["pytester"]

BXML = '<?xml version="1.0" encoding="UTF-8"?><Bxml><SpeakSentence>hi</SpeakSentence></Bxml>'
UNKNOWN_CALL = "c-00000000-00000000-0000-4000-8000-000000000000"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail every name lookup but loopback's; the names asked for are listed (and must be none)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK:
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"name resolution is off in this test: {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield asked
    assert asked == [], f"the test tried to resolve {asked}"


@pytest.fixture(scope="module")
def osim() -> Iterator[Simulator]:
    with Simulator(engine_factory=LifecycleEngine, auth_mode="oauth2") as simulator:
        yield simulator


def _client(
    sim: Simulator,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    prefix: str = "",
) -> Any:
    config = sdk.configuration(sim.base_url + prefix, client_id=client_id, client_secret=client_secret)
    return bandwidth.ApiClient(config)


@pytest.fixture
def api(osim: Simulator) -> Iterator[Any]:
    with _client(osim, prefix="/api/v2") as client:
        yield client


def _log(sim: Simulator, since: int = 0) -> list[dict[str, Any]]:
    """The simulator's request log after ``since``, read through its control API."""
    r = httpx.get(f"{sim.base_url}/_sim/requests", params={"since": since, "limit": 100000}, timeout=10)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["requests"]
    return entries


def _last_seq(sim: Simulator) -> int:
    entries = _log(sim)
    return entries[-1]["seq"] if entries else 0


# ------------------------------------------------------------------------------------ configuration
def test_configuration_points_voice_and_token_requests_at_the_target(osim: Simulator) -> None:
    config = sdk.configuration(
        osim.base_url + "/", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    assert isinstance(config, bandwidth.Configuration)
    assert config.host == osim.base_url
    assert config.ignore_operation_servers is True
    assert config.access_token_url == osim.token_url
    assert config.access_token_url.endswith(TOKEN_PATH)
    assert config.token_timeout == 30.0
    # The default token URL is the origin's, whatever path the Voice API sits under.
    prefixed = sdk.configuration(osim.base_url + "/api/v2", client_id="a", client_secret="b")
    assert prefixed.host == osim.base_url + "/api/v2"
    assert prefixed.access_token_url == osim.token_url
    elsewhere = sdk.configuration(
        "https://voice.example.test/api/v2",
        client_id="a",
        client_secret="b",
        token_url="https://id.example.test/oauth2/token",
        token_timeout=5,
        retries=0,
    )
    assert elsewhere.access_token_url == "https://id.example.test/oauth2/token"
    assert elsewhere.token_timeout == 5.0
    assert elsewhere.retries == 0  # other keyword arguments reach bandwidth.Configuration
    copied = copy.deepcopy(config)
    assert (copied.access_token_url, copied.host) == (config.access_token_url, config.host)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"host": "http://127.0.0.1:1"}, "bad-sdk-option"),
        ({"access_token_url": "https://api.bandwidth.com/api/v1/oauth2/token"}, "bad-sdk-option"),
        ({"ignore_operation_servers": False}, "bad-sdk-option"),
        ({"username": "bw-user"}, "bad-sdk-option"),
        ({"token_url": "ftp://127.0.0.1/token"}, "bad-url"),
        ({"token_timeout": 0}, "bad-sdk-option"),
        ({"client_secret": ""}, "missing-setting"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], reason: str) -> None:
    arguments: dict[str, Any] = {"client_id": "a", "client_secret": "b", **kwargs}
    with pytest.raises(ConfigurationError) as info:
        sdk.configuration("http://127.0.0.1:1", **arguments)
    assert info.value.reason == reason


def test_a_base_url_that_is_no_url_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        sdk.configuration("127.0.0.1:8080", client_id="a", client_secret="b")
    assert info.value.reason == "bad-url"


def test_missing_sdk_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bandwidth", None)  # import bandwidth now raises ImportError
    with pytest.raises(ConfigurationError) as info:
        sdk.configuration("http://127.0.0.1:1", client_id="a", client_secret="b")
    assert info.value.reason == "sdk-missing"
    assert "install bandwidth-voice-conformance[sdk]" in str(info.value)


def test_importing_the_package_and_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, conformance, conformance.sdk, conformance.plugin\n"
        "assert 'bandwidth' not in sys.modules, sorted(m for m in sys.modules if 'bandwidth' in m)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_sdk_without_the_token_seam_is_refused() -> None:
    class Configuration:  # a future SDK whose auth_settings fetches tokens some other way
        def __init__(self, **kwargs: Any) -> None:
            pass

        def get_access_token(self) -> str:
            return "x"

        def auth_settings(self) -> dict[str, Any]:
            return {"OAuth2": {"value": "Bearer " + fetch_elsewhere()}}

    def fetch_elsewhere() -> str:
        return "x"

    fake = types.ModuleType("bandwidth")
    fake.Configuration = Configuration  # type: ignore[attr-defined]
    fake.rest = bandwidth.rest  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as info:
        sdk._configuration_class(fake)
    assert info.value.reason == "sdk-unsupported"
    assert "get_access_token" in str(info.value)


def test_the_installed_sdk_has_the_seam() -> None:
    # What conformance.sdk relies on, spelled out: auth_settings calls get_access_token, which the
    # subclass overrides, and the SDK's own default token URL is Bandwidth's (the reason for all this).
    assert "get_access_token" in bandwidth.Configuration.auth_settings.__code__.co_names
    stock = bandwidth.Configuration(client_id="a", client_secret="b")
    assert stock.access_token_url == "https://api.bandwidth.com/api/v1/oauth2/token"
    config = sdk.configuration("http://127.0.0.1:1", client_id="a", client_secret="b")
    assert type(config).get_access_token is not bandwidth.Configuration.get_access_token


# ------------------------------------------------------------------------------ every Voice operation
def test_every_voice_operation_works_with_client_credentials(api: Any, osim: Simulator) -> None:
    since = _last_seq(osim)
    calls = bandwidth.CallsApi(api)
    created = calls.create_call(
        ACCOUNT,
        bandwidth.CreateCall(to=TO, var_from=FROM, application_id=APP, answer_url="https://example.test/a"),
    )
    assert created.call_id.startswith("c-")
    assert calls.get_call_state(ACCOUNT, created.call_id).call_id == created.call_id
    assert created.call_id in [c.call_id for c in calls.list_calls(ACCOUNT, to=TO, page_size=1000)]
    live = seed_call(osim.store)
    calls.update_call(ACCOUNT, live.call_id, bandwidth.UpdateCall(redirect_url="https://example.test/r"))
    calls.update_call_bxml(ACCOUNT, live.call_id, BXML)

    conferences = bandwidth.ConferencesApi(api)
    member_call = seed_call(osim.store)
    conf, conf_rec = seed_conference(osim.store, member_call, name="oauth-conf")
    assert [c.id for c in conferences.list_conferences(ACCOUNT, name="oauth-conf")] == [conf.id]
    assert conferences.get_conference(ACCOUNT, conf.id).id == conf.id
    assert conferences.get_conference_member(ACCOUNT, conf.id, member_call.call_id).call_id == (
        member_call.call_id
    )
    conferences.update_conference_member(
        ACCOUNT, conf.id, member_call.call_id, bandwidth.UpdateConferenceMember(mute=True)
    )
    conferences.update_conference_bxml(ACCOUNT, conf.id, BXML)
    recordings_of_conf = conferences.list_conference_recordings(ACCOUNT, conf.id)
    assert [r.recording_id for r in recordings_of_conf] == [conf_rec.recording_id]
    assert conferences.get_conference_recording(ACCOUNT, conf.id, conf_rec.recording_id).conference_id == (
        conf.id
    )
    media = conferences.download_conference_recording(ACCOUNT, conf.id, conf_rec.recording_id)
    assert bytes(media) == conf_rec.media
    conferences.update_conference(
        ACCOUNT, conf.id, bandwidth.UpdateConference(status=bandwidth.ConferenceStateEnum.COMPLETED)
    )

    recordings = bandwidth.RecordingsApi(api)
    recorded = seed_call(osim.store)
    rec = seed_transcribed(osim.store, recorded)
    assert rec.recording_id in [r.recording_id for r in recordings.list_account_call_recordings(ACCOUNT)]
    assert [r.recording_id for r in recordings.list_call_recordings(ACCOUNT, recorded.call_id)] == [
        rec.recording_id
    ]
    assert recordings.get_call_recording(ACCOUNT, recorded.call_id, rec.recording_id).recording_id == (
        rec.recording_id
    )
    text = recordings.get_recording_transcription(ACCOUNT, recorded.call_id, rec.recording_id)
    assert text.transcripts[0].text == "hello there"
    assert bytes(recordings.download_call_recording(ACCOUNT, recorded.call_id, rec.recording_id)) == (
        rec.media
    )
    recordings.update_call_recording_state(
        ACCOUNT, recorded.call_id, bandwidth.UpdateCallRecording(state=bandwidth.RecordingStateEnum.PAUSED)
    )
    recordings.delete_recording_transcription(ACCOUNT, recorded.call_id, rec.recording_id)
    recordings.transcribe_call_recording(
        ACCOUNT,
        recorded.call_id,
        rec.recording_id,
        bandwidth.TranscribeRecording(callback_url="https://example.test/t"),
    )
    recordings.delete_recording_media(ACCOUNT, recorded.call_id, rec.recording_id)
    recordings.delete_recording(ACCOUNT, recorded.call_id, rec.recording_id)

    assert bandwidth.StatisticsApi(api).get_statistics(ACCOUNT).max_call_queue_size > 0

    transcriptions = bandwidth.TranscriptionsApi(api)
    transcribed = seed_call(osim.store)
    rtt = seed_realtime(osim.store, transcribed)
    listed = transcriptions.list_real_time_transcriptions(ACCOUNT, transcribed.call_id)
    assert [t.transcription_id for t in listed] == [rtt.transcription_id]
    one = transcriptions.get_real_time_transcription(ACCOUNT, transcribed.call_id, rtt.transcription_id)
    assert one.tracks[0].transcript == "hi"
    transcriptions.delete_real_time_transcription(ACCOUNT, transcribed.call_id, rtt.transcription_id)

    entries = _log(osim, since)
    voice = [e for e in entries if e["operation"] not in (None, TOKEN_OPERATION)]
    assert all(e["status"] < 400 and e["rule"] is None for e in voice), voice
    assert {e["operation"] for e in voice} == {op.operation_id for op in OPERATIONS}  # all 28
    # One token served them all, from the simulator's own token endpoint.
    tokens = [e for e in entries if e["operation"] == TOKEN_OPERATION]
    assert [(e["method"], e["path"], e["status"]) for e in tokens] == [("POST", TOKEN_PATH, 200)]
    assert tokens[0]["seq"] < voice[0]["seq"]


# ------------------------------------------------------------------------------------- error paths
def test_wrong_secret_fails_the_token_request_with_401(osim: Simulator) -> None:
    since = _last_seq(osim)
    issued = osim.runtime.tokens.issued
    with (
        _client(osim, client_secret="not-the-secret") as bad,
        pytest.raises(bw_exc.UnauthorizedException) as info,
    ):
        bandwidth.CallsApi(bad).list_calls(ACCOUNT)
    assert info.value.status == 401
    assert '"invalid_client"' in (info.value.body or "")
    assert "not-the-secret" not in str(info.value)
    assert osim.runtime.tokens.issued == issued
    # The Voice request was never sent: the only request is the refused token request.
    entries = _log(osim, since)
    assert [(e["path"], e["status"], e["rule"]) for e in entries] == [
        (TOKEN_PATH, 401, "oauth2-invalid-client")
    ]


def test_revoked_token_makes_the_voice_call_401() -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, auth_mode="oauth2") as sim,
        _client(sim) as client,
    ):
        calls = bandwidth.CallsApi(client)
        assert calls.list_calls(ACCOUNT) == []
        revoked = httpx.post(f"{sim.base_url}/_sim/credentials/{DEFAULT_CLIENT_ID}/revoke", timeout=10)
        assert revoked.status_code == 204
        with pytest.raises(bw_exc.UnauthorizedException) as info:
            calls.list_calls(ACCOUNT)
        assert info.value.status == 401
        assert TOKEN_REVOKED in (info.value.body or "")
        assert info.value.headers["WWW-Authenticate"].startswith("Bearer ")
        assert sim.store.requests[-1].rule == "token-revoked"
        # Like the SDK, the cached token is used until it nears expiry; dropping it fetches a new one.
        client.configuration.temp_access_token = None
        assert calls.list_calls(ACCOUNT) == []
        assert sim.runtime.tokens.issued == 2


def test_token_of_another_account_gets_403(osim: Simulator) -> None:
    with _client(osim, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) as other:
        with pytest.raises(bw_exc.ForbiddenException) as info:
            bandwidth.CallsApi(other).list_calls(ACCOUNT)
        assert info.value.status == 403
        assert osim.store.requests[-1].rule == "authorization"


def test_unknown_call_gets_404(api: Any) -> None:
    with pytest.raises(bw_exc.NotFoundException) as info:
        bandwidth.CallsApi(api).get_call_state(ACCOUNT, UNKNOWN_CALL)
    assert info.value.status == 404


def test_updating_a_completed_call_gets_409(api: Any, osim: Simulator) -> None:
    calls = bandwidth.CallsApi(api)
    call = seed_call(osim.store)
    completed = bandwidth.UpdateCall(state=bandwidth.CallStateEnum.COMPLETED)
    calls.update_call(ACCOUNT, call.call_id, completed)
    assert calls.get_call_state(ACCOUNT, call.call_id).state == "disconnected"
    with pytest.raises(bw_exc.ConflictException) as info:
        calls.update_call(ACCOUNT, call.call_id, completed)
    assert info.value.status == 409


def test_bad_body_gets_400(api: Any) -> None:
    body = bandwidth.CreateCall(
        to="not-a-number", var_from=FROM, application_id=APP, answer_url="https://e.test"
    )
    with pytest.raises(bw_exc.BadRequestException) as info:
        bandwidth.CallsApi(api).create_call(ACCOUNT, body)
    assert info.value.status == 400
    assert "Invalid to" in (info.value.body or "")


# ------------------------------------------------------------------------------------- token refresh
def test_short_lived_tokens_are_refreshed_for_every_request() -> None:
    # The SDK replaces a token 60 s before it expires: one that lives 2 s is replaced every time.
    with (
        Simulator(engine_factory=LifecycleEngine, auth_mode="oauth2", token_lifetime=2) as sim,
        _client(sim) as client,
    ):
        calls = bandwidth.CallsApi(client)
        for _ in range(4):
            assert calls.list_calls(ACCOUNT) == []
        entries = _log(sim)
        ops = [e["operation"] for e in entries]
        assert ops.count("listCalls") == 4
        assert all(e["status"] == 200 for e in entries), entries
        # Every Voice request came right after a fresh token (the SDK asks for one per auth scheme
        # an operation lists, so there may be more token requests than Voice requests).
        for i, op in enumerate(ops):
            if op == "listCalls":
                assert i > 0
                assert ops[i - 1] == TOKEN_OPERATION
        assert sim.runtime.tokens.issued >= 4


def test_long_lived_token_is_fetched_once() -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, auth_mode="oauth2") as sim,
        _client(sim) as client,
    ):
        calls = bandwidth.CallsApi(client)
        for _ in range(3):
            calls.list_calls(ACCOUNT)
        bandwidth.StatisticsApi(client).get_statistics(ACCOUNT)
        assert sim.runtime.tokens.issued == 1
        assert [e["operation"] for e in _log(sim)] == [TOKEN_OPERATION] + ["listCalls"] * 3 + [
            "getStatistics"
        ]


# ------------------------------------------------------------------------------------- no network
def test_the_stock_sdk_would_ask_bandwidth_for_its_token(osim: Simulator, no_dns: list[str]) -> None:
    # The guard has teeth: without conformance.sdk, the SDK's token request goes to api.bandwidth.com.
    issued = osim.runtime.tokens.issued
    stock = bandwidth.Configuration(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        host=osim.base_url,
        ignore_operation_servers=True,
    )
    with bandwidth.ApiClient(stock) as client, pytest.raises(urllib3.exceptions.MaxRetryError) as info:
        bandwidth.CallsApi(client).list_calls(ACCOUNT)
    assert "api.bandwidth.com" in str(info.value)
    assert set(no_dns) == {"api.bandwidth.com"}
    no_dns.clear()
    assert osim.runtime.tokens.issued == issued


def test_the_token_comes_from_the_simulator(osim: Simulator, no_dns: list[str]) -> None:
    since = _last_seq(osim)
    with _client(osim) as client:
        assert client.configuration.access_token_url == f"{osim.base_url}{TOKEN_PATH}"
        bandwidth.StatisticsApi(client).get_statistics(ACCOUNT)
    entries = _log(osim, since)
    assert [(e["operation"], e["method"], e["path"], e["status"]) for e in entries] == [
        (TOKEN_OPERATION, "POST", TOKEN_PATH, 200),
        ("getStatistics", "GET", f"/accounts/{ACCOUNT}/statistics", 200),
    ]
    assert no_dns == []


def test_token_endpoint_errors_raise_the_sdk_exception_for_their_status(httpserver: Any) -> None:
    httpserver.expect_request("/broken", method="POST").respond_with_data("oops", status=503)
    httpserver.expect_request("/html", method="POST").respond_with_data(
        "<html>proxy login</html>", status=200, content_type="text/html"
    )
    base = httpserver.url_for("/")
    for path, exception, status in (
        ("/broken", bw_exc.ServiceException, 503),
        ("/html", bw_exc.ApiException, 200),
    ):
        config = sdk.configuration(
            base, client_id="a", client_secret="b", token_url=httpserver.url_for(path), retries=0
        )
        with bandwidth.ApiClient(config) as client, pytest.raises(exception) as info:
            bandwidth.StatisticsApi(client).get_statistics(ACCOUNT)
        assert info.value.status == status
    assert re.search(r"without a JSON object holding access_token", str(info.value))
    assert len(httpserver.log) == 2  # the Voice request was never sent


# ---------------------------------------------------------------------------------- the suite's Target
def test_configuration_for_a_target_uses_its_credentials_and_token_url(osim: Simulator) -> None:
    settings = Settings(
        target=osim.base_url,
        account_id=ACCOUNT,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        auth="oauth2",
        request_timeout=12.0,
    )
    with open_target(settings) as target:
        config = sdk.configuration_for(target)
        assert config.access_token_url == target.settings.token_url == osim.token_url
        assert config.host == target.base_url
        assert config.token_timeout == 12.0
        with bandwidth.ApiClient(config) as client:
            assert bandwidth.StatisticsApi(client).get_statistics(ACCOUNT).max_call_queue_size > 0


def test_configuration_for_a_basic_target_uses_the_user() -> None:
    settings = Settings(
        target="http://127.0.0.1:1", account_id=ACCOUNT, username="bw-user", password="bw-pass"
    )
    target = Target(settings=settings, has_control_api=True)
    config = sdk.configuration_for(target)
    assert (config.username, config.password, config.client_id) == ("bw-user", "bw-pass", None)
    assert config.ignore_operation_servers is True
    missing = Target(settings=Settings(target="http://127.0.0.1:1", auth="oauth2"), has_control_api=True)
    with pytest.raises(ConfigurationError) as info:
        sdk.configuration_for(missing)
    assert info.value.reason == "missing-setting"


def test_the_bw_sdk_configuration_fixture(
    pytester: pytest.Pytester, osim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("BW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BW_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("BW_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("BW_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    pytester.makepyfile(
        f"""
        import bandwidth

        def test_sdk(bw_sdk_configuration, bw_target):
            assert bw_sdk_configuration.access_token_url == {osim.token_url!r}
            with bandwidth.ApiClient(bw_sdk_configuration) as client:
                stats = bandwidth.StatisticsApi(client).get_statistics(bw_target.settings.account_id)
            assert stats.max_call_queue_size > 0
        """
    )
    result = pytester.runpytest("--bw-target", osim.base_url, "-p", "no:cacheprovider")
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    result.assert_outcomes(passed=1)
