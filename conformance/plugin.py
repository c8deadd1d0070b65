"""pytest plugin (entry point ``pytest11: bw_conformance``): options, fixtures and markers only.

Logic lives in classes usable without pytest: :mod:`conformance.settings`, :mod:`conformance.target`,
:mod:`conformance.webhooks`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from conformance.settings import Settings, load_settings

if TYPE_CHECKING:
    import httpx

    from conformance.fuzz.fixture import AppFuzzer
    from conformance.fuzz.streams import StreamFuzzer
    from conformance.streams.sink import StreamSink
    from conformance.target import Target
    from conformance.webhooks.sink import SinkScope, WebhookSink

MARKERS = {
    "api": "REST contract tests (schemathesis over openapi/)",
    "bxml": "BXML acceptance tests on a live call",
    "flows": "webhook flow tests over loopback calls",
    "sandbox_safe": "safe to run against a real Bandwidth account",
    "slow": "takes more than a few seconds",
}

_OPTIONS = {
    # option -> (settings field, help)
    "--bw-target": ("target", "base URL of the Voice API under test (default: the embedded simulator)"),
    "--bw-spec": ("spec", "OpenAPI document to test against (default: the packaged contract)"),
    "--bw-account-id": ("account_id", "account id used in every path"),
    "--bw-callback-base-url": ("callback_base_url", "base URL at which the target reaches the webhook sink"),
    "--bw-stream-base-url": ("stream_base_url", "ws(s) base URL at which the target reaches the stream sink"),
    "--bw-profile": ("profile", "simulator (everything) or sandbox (only what is safe on a real account)"),
    "--bw-max-examples": ("max_examples", "hypothesis examples per operation or property"),
    "--bw-seed": ("seed", "seed for every hypothesis-driven test (default: a random one, printed)"),
    "--bw-auth": (
        "auth",
        "oauth2 (client credentials) or basic (legacy); default: oauth2 with a client id",
    ),
    "--bw-client-id": (
        "client_id",
        "OAuth2 client id (default: BW_CLIENT_ID; the secret: BW_CLIENT_SECRET)",
    ),
    "--bw-token-url": (
        "token_url",
        "OAuth2 token endpoint (default: BW_TOKEN_URL, the simulator's own, or Bandwidth's)",
    ),
    "--bw-basic-refused": ("basic_refused", "the target takes OAuth2 only: check that Basic gets 401"),
    "--bw-request-timeout": ("request_timeout", "seconds for any one request to the target (default 30)"),
    "--bw-username": ("username", "legacy API user name (default: BW_USERNAME)"),
    "--bw-password": ("password", "legacy API password (default: BW_PASSWORD; prefer the variable)"),
    "--bw-application-id": ("application_id", "voice application id (default: BW_VOICE_APPLICATION_ID)"),
    "--bw-number": ("number", "caller number of the account (default: BW_NUMBER)"),
    "--bw-loopback-number": (
        "loopback_number",
        "callee number whose application sends initiate to the sink (default: BW_LOOPBACK_NUMBER)",
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bw-conformance", "Bandwidth Voice API conformance")
    for option, (field, help_text) in _OPTIONS.items():
        kwargs: dict[str, Any] = {"dest": f"bw_{field}", "default": None, "help": help_text}
        if field == "profile":
            kwargs["choices"] = ["simulator", "sandbox"]
        if field == "auth":
            kwargs["choices"] = ["oauth2", "basic"]
        if field in ("max_examples", "seed"):
            kwargs["type"] = int
        if field == "request_timeout":
            kwargs["type"] = float
        if field == "basic_refused":
            kwargs["action"] = "store_true"
            kwargs["default"] = None
        group.addoption(option, **kwargs)
    _add_run_options(group)


def _add_run_options(group: Any) -> None:
    group.addoption(
        "--bw-reproduce",
        dest="bw_reproduce",
        default=None,
        help="command prefix that reproduces one test with -k (set by bw-conformance run)",
    )
    group.addoption(
        "--bw-record",
        dest="bw_record",
        default=None,
        metavar="DIR",
        help="record every exchange of the run in DIR, for reports (set by bw-conformance run --report)",
    )


_RECORDER = pytest.StashKey[Any]()  # conformance.reports.recording.Recorder when recording
_FALLBACK_SEED = pytest.StashKey[int]()  # the run's seed when none is configured
_SEED_CHOSEN = pytest.StashKey[bool]()  # the suites ran on the fallback seed: print it


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    # One fallback seed per run, so that a run with no seed configured can still be repeated: xdist
    # workers receive the controller's (pytest_configure_node), so every worker draws from it.
    worker = getattr(config, "workerinput", None)
    given = worker.get("bw_seed") if isinstance(worker, dict) else None
    config.stash[_FALLBACK_SEED] = given if isinstance(given, int) else random.randrange(2**31)
    spool = config.getoption("bw_record", None)
    if spool:
        from conformance.reports.recording import Recorder

        tag = worker.get("workerid", "main") if isinstance(worker, dict) else "main"
        recorder = Recorder(spool, str(tag))
        recorder.start()
        config.stash[_RECORDER] = recorder


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_RECORDER, None)
    if recorder is not None:
        recorder.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Where tests run (this process or an xdist worker), the recorder learns which test is running
    and records its start and end."""
    recorder = item.config.stash.get(_RECORDER, None)
    if recorder is None:
        return (yield None)
    import time

    recorder.test = item.nodeid
    recorder.write({"kind": "test", "event": "start", "test": item.nodeid, "time": time.time()})
    try:
        return (yield None)
    finally:
        recorder.write({"kind": "test", "event": "end", "test": item.nodeid, "time": time.time()})
        recorder.test = None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker uses the controller's fallback seed."""
    node.workerinput["bw_seed"] = node.config.stash[_FALLBACK_SEED]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.stash.get(_SEED_CHOSEN, False):
        seed = config.stash[_FALLBACK_SEED]
        terminalreporter.write_line(f"bw-conformance: seed {seed} (repeat with --bw-seed {seed})")


def _load(config: pytest.Config) -> tuple[Settings, bool]:
    """The run's settings, and whether their seed is the run's fallback (none was configured)."""
    overrides = {field: config.getoption(f"bw_{field}", None) for field, _ in _OPTIONS.values()}
    settings = load_settings(overrides, project_dir=config.rootpath)
    if settings.seed is not None:
        return settings, False
    return replace(settings, seed=config.stash[_FALLBACK_SEED]), True


def settings_from_config(config: pytest.Config) -> Settings:
    """The run's settings from pytest's options (CLI option > pytest option > environment > pyproject),
    with the run's fallback seed when none is configured."""
    return _load(config)[0]


@pytest.fixture(scope="session")
def bw_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings (CLI option > pytest option > environment > pyproject), seed included."""
    settings, chosen = _load(pytestconfig)
    pytestconfig.stash[_SEED_CHOSEN] = chosen
    return settings


@pytest.fixture(scope="session")
def bw_target(bw_settings: Settings) -> Iterator[Target]:
    """The target under test; the embedded simulator is started when no target is given.

    Opening it is the preflight (reachable, credentials accepted): a failure there is the user's setup,
    so the session stops with pytest's usage-error status instead of blaming every test on the target.
    """
    from conformance.errors import ConformanceError
    from conformance.target import open_target

    with ExitStack() as stack:
        try:
            target = stack.enter_context(open_target(bw_settings))
        except ConformanceError as exc:
            pytest.exit(f"bw-conformance: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
        yield target


@pytest.fixture(scope="session")
def bw_reproduce_prefix(pytestconfig: pytest.Config, bw_settings: Settings) -> list[str]:
    """The command that, followed by ``-k TEST``, runs one test again the way this run did."""
    import shlex

    given = pytestconfig.getoption("bw_reproduce")
    if given:
        return shlex.split(str(given))
    prefix = ["pytest", "--pyargs", "conformance.suites"]
    if bw_settings.target:
        prefix += ["--bw-target", bw_settings.target]
    if bw_settings.seed is not None:
        prefix += ["--bw-seed", str(bw_settings.seed)]
    return prefix


@pytest.fixture(scope="session")
def bw_client(bw_target: Target) -> Iterator[httpx.Client]:
    """An authenticated HTTP client for the target."""
    with bw_target.client() as client:
        yield client


@pytest.fixture(scope="session")
def bw_sink(bw_settings: Settings) -> Iterator[WebhookSink]:
    """A webhook sink on 127.0.0.1, shared by the session; each test takes its own scope."""
    from conformance.reports.recording import active, webhook_record
    from conformance.webhooks.sink import WebhookSink

    def record(hook: Any) -> None:
        recorder = active()
        if recorder is not None:
            # A webhook belongs to the test whose scope it reached (even when it arrives late).
            name = sink.scope_name(hook.scope) if hook.scope else None
            recorder.write(webhook_record(hook, name or recorder.test, recorder))

    with WebhookSink(public_base_url=bw_settings.callback_base_url, on_webhook=record) as sink:
        yield sink
        sink.check()


@pytest.fixture
def bw_webhooks(bw_sink: WebhookSink, request: pytest.FixtureRequest) -> SinkScope:
    """This test's own path prefix on the sink, so parallel tests never mix."""
    return bw_sink.scope(request.node.nodeid)


@pytest.fixture
def bw_fuzz_app(request: pytest.FixtureRequest) -> AppFuzzer:
    """Fuzz a voice app (URL, ASGI or WSGI app) from a test: ``bw_fuzz_app.assert_clean(app)``."""
    from conformance.fuzz.fixture import fuzz_app_fixture

    return fuzz_app_fixture(request)


@pytest.fixture(scope="session")
def bw_stream_sink(bw_settings: Settings) -> Iterator[StreamSink]:
    """A websocket sink on 127.0.0.1 for media streams, shared by the session; tests take scopes.

    Its URLs use ``stream_base_url`` (``BW_STREAM_BASE_URL``, a tunnel to this machine) when set."""
    from conformance.streams.sink import StreamSink

    with StreamSink(public_base_url=bw_settings.stream_base_url) as sink:
        yield sink
        sink.check()


@pytest.fixture
def bw_fuzz_stream() -> StreamFuzzer:
    """Fuzz an app's stream handler from a test: ``bw_fuzz_stream.assert_clean("ws://...")``."""
    from conformance.fuzz.streams import StreamFuzzer

    return StreamFuzzer()


@pytest.fixture(scope="session")
def bw_sdk_configuration(bw_target: Target) -> Any:
    """The official SDK's ``bandwidth.Configuration`` for the target, authenticated as the run is.

    Its OAuth2 token request goes to the run's token URL, never to Bandwidth's built-in one
    (:func:`conformance.sdk.configuration_for`).  Shared by the session: copy it
    (``copy.deepcopy``) before changing it.  Needs ``pip install 'bandwidth-voice-conformance[sdk]'``.
    """
    from conformance.sdk import configuration_for

    return configuration_for(bw_target)
