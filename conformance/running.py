"""Running the shipped suites against a target: preflight, selection, pytest, outcomes by area.

:func:`run_suites` is what ``bw-conformance run`` does, callable from Python:

1. settings are completed (a seed is chosen when none is given, so every run can be repeated);
2. the target is opened: the preflight of :func:`conformance.target.open_target` (reachable, what
   answers, token endpoint, discovery, one authenticated request);
3. the selection (``-m``/``-k``) is collected without running anything: an empty selection and
   settings a selected suite lacks are the user's setup (:class:`~conformance.errors.ConfigurationError`);
4. pytest runs, with credentials passed in the environment (never on a command line), output that
   passes through the run's :class:`~conformance.redaction.Redactor`, and ``max_time`` as a hard deadline;
5. :class:`Outcomes` holds counts by area, failures with their rule and reproduce command, and
   configuration problems that surfaced inside a test (never counted against the target).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.redaction import RedactingStream, Redactor
from conformance.settings import ENVIRONMENT, Settings

__all__ = [
    "AREAS",
    "Failure",
    "Outcomes",
    "RunInfo",
    "operation_of",
    "pytest_args",
    "run_suites",
]

AREAS = ("api", "bxml", "flows")
_SETUP_ERRORS = (ConfigurationError, TargetUnreachableError)


@dataclass
class Failure:
    nodeid: str
    area: str
    rule: str
    evidence: str
    reproduce: str


@dataclass
class RunInfo:
    """What was tested: printed first, repeated in the summary, written as JUnit properties."""

    target: str
    embedded: bool
    server: str
    contract: str
    contract_version: str
    profile: str
    auth: str
    account: str
    max_examples: int
    seed: int
    version: str
    selected: int = 0

    def properties(self) -> dict[str, str]:
        return {
            "bw.target": self.target + (" (embedded simulator)" if self.embedded else ""),
            "bw.server": self.server,
            "bw.contract": f"{self.contract} (version {self.contract_version})",
            "bw.profile": self.profile,
            "bw.auth": self.auth,
            "bw.account": self.account,
            "bw.max_examples": str(self.max_examples),
            "bw.seed": str(self.seed),
            "bw.version": self.version,
        }


@dataclass
class Outcomes:
    """What a run found, gathered by :class:`_Collector` (usable without the CLI)."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {a: {"passed": 0, "failed": 0, "skipped": 0} for a in (*AREAS, "other")}
    )
    failures: list[Failure] = field(default_factory=list)
    setup_errors: list[str] = field(default_factory=list)  # configuration problems seen inside tests
    stopped: str | None = None  # why the run was cut short (deadline), if it was
    info: RunInfo | None = None
    results: dict[str, str] = field(default_factory=dict)  # nodeid -> passed | failed | skipped | error
    reports: list[Path] = field(default_factory=list)  # report files written (``run --report``)

    @property
    def failed(self) -> int:
        return sum(area["failed"] for area in self.counts.values())

    def failures_by_operation(self) -> dict[str, int]:
        """api failures counted by operation (``test_operation[createCall]`` -> ``createCall``)."""
        by_operation: dict[str, int] = {}
        for failure in self.failures:
            operation = operation_of(failure.nodeid) if failure.area == "api" else None
            if operation is not None:
                by_operation[operation] = by_operation.get(operation, 0) + 1
        return by_operation


_OPERATION_ITEM = re.compile(r"::test_operation\[(?P<operation>[^\]]+)\]$")


def operation_of(nodeid: str) -> str | None:
    """The operation a per-operation item tests, or None for any other test."""
    match = _OPERATION_ITEM.search(nodeid)
    return match.group("operation") if match else None


def _area(item_keywords: Any) -> str:
    for area in AREAS:
        if area in item_keywords:
            return area
    return "other"


def _rule_of(exc: BaseException) -> str:
    """The name of the rule a failure broke: our errors carry ``rule``/``reason``; schemathesis
    failures carry a ``title``; exception groups are named by their first member."""
    for attribute in ("rule", "reason"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    title = getattr(exc, "title", None)
    if isinstance(title, str) and title:
        return title
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and members and isinstance(members[0], BaseException):
        return _rule_of(members[0])
    return type(exc).__name__


def _is_setup_error(exc: BaseException) -> bool:
    if isinstance(exc, _SETUP_ERRORS):
        return True
    members = getattr(exc, "exceptions", None)
    return isinstance(members, tuple) and bool(members) and all(_is_setup_error(m) for m in members)


def _rule_and_evidence(report: pytest.TestReport) -> tuple[str, str]:
    longrepr = report.longrepr
    rule = "assertion"
    evidence = str(longrepr)
    reprcrash = getattr(longrepr, "reprcrash", None)
    if reprcrash is not None:
        message: str = reprcrash.message
        evidence = message
        head = message.split(":", 1)[0].strip()
        if head and " " not in head:
            rule = head
    return rule, evidence


class _Collector:
    def __init__(self, outcomes: Outcomes, reproduce_prefix: list[str]) -> None:
        self.outcomes = outcomes
        self.reproduce_prefix = reproduce_prefix
        self._areas: dict[str, str] = {}
        self._rules: dict[str, str] = {}
        self._setup_errors: set[str] = set()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._areas[item.nodeid] = _area(item.keywords)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # With --workers the items are collected in the workers; reports still carry their keywords.
        area = self._areas.get(report.nodeid) or _area(report.keywords)
        counts = self.outcomes.counts[area]
        # A failed subtest is listed with its own evidence; its test is counted once, as failed.
        subtest = type(report).__name__ == "SubtestReport"
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        if report.failed and self._is_setup_error(report):
            _, evidence = _rule_and_evidence(report)
            self.outcomes.setup_errors.append(f"{report.nodeid}: {evidence}")
            self.outcomes.results[report.nodeid] = "error"
        elif report.failed:
            self.outcomes.results[report.nodeid] = "failed"
            if not subtest:
                counts["failed"] += 1
            rule, evidence = _rule_and_evidence(report)
            rule = self._rules.get(report.nodeid, rule)
            if subtest or not self._listed(report.nodeid):
                name = report.nodeid.split("::", 1)[-1]
                command = shlex.join([*self.reproduce_prefix, "-k", name])
                self.outcomes.failures.append(Failure(report.nodeid, area, rule, evidence, command))
        elif not subtest:
            counts["skipped" if report.skipped else "passed"] += 1
            self.outcomes.results.setdefault(report.nodeid, "skipped" if report.skipped else "passed")

    def _is_setup_error(self, report: pytest.TestReport) -> bool:
        if report.nodeid in self._setup_errors:
            return True
        # With --workers the exception object stays in the worker: recognise it by its class name.
        crash = getattr(report.longrepr, "reprcrash", None)
        message = getattr(crash, "message", "") or ""
        return message.startswith(tuple(f"{cls.__module__}.{cls.__name__}:" for cls in _SETUP_ERRORS)) or (
            message.startswith(tuple(f"{cls.__name__}:" for cls in _SETUP_ERRORS))
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        report = yield
        if call.excinfo is not None:
            self._rules[item.nodeid] = _rule_of(call.excinfo.value)
            if _is_setup_error(call.excinfo.value):
                self._setup_errors.add(item.nodeid)
        return report

    def _listed(self, nodeid: str) -> bool:
        return any(failure.nodeid == nodeid for failure in self.outcomes.failures)


class _Selection:
    """Records which items a collect-only pass selected."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []  # (nodeid, area)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = [(item.nodeid, _area(item.keywords)) for item in session.items]


# ------------------------------------------------------------------------------------------ args
def pytest_args(
    settings: Settings,
    *,
    markexpr: str | None,
    keyword: str | None,
    junitxml: str | None,
    workers: int | None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The pytest command line that runs the shipped suites for ``settings``.

    It never carries a secret: credentials reach pytest through the environment
    (see :func:`_credentials_in_environment`).
    """
    args = [
        # The suites' directory itself, not `--pyargs conformance.suites`: pytest then reads no
        # conftest.py of the current directory (a project's own), only the suites' (and none above
        # them: --confcutdir).  The only plugins are those named here (see _isolated_pytest).
        str(_SUITES_DIR),
        "--confcutdir",
        str(_SUITES_DIR),
        *(option for plugin in _PLUGINS for option in ("-p", plugin)),
        "-p",
        "no:cacheprovider",
        # `conformance` is already imported (this command lives in it), so pytest cannot rewrite the
        # plugin package's asserts; the suites themselves are imported later and are rewritten.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        # Skip reasons only: every failure is listed, whole, in the run's own summary.
        "-rs",
    ]
    for option, value in (
        ("--bw-target", settings.target),
        ("--bw-spec", settings.spec),
        ("--bw-account-id", settings.account_id),
        ("--bw-callback-base-url", settings.callback_base_url),
        ("--bw-stream-base-url", settings.stream_base_url),
        ("--bw-profile", settings.profile),
        ("--bw-max-examples", str(settings.max_examples)),
        ("--bw-seed", None if settings.seed is None else str(settings.seed)),
        ("--bw-auth", settings.auth),
        ("--bw-token-url", settings.token_url),
        ("--bw-request-timeout", str(settings.request_timeout)),
        ("--bw-application-id", settings.application_id),
        ("--bw-number", settings.number),
        ("--bw-loopback-number", settings.loopback_number),
    ):
        if value:
            args += [option, value]
    if settings.basic_refused:
        args.append("--bw-basic-refused")
    marks = [f"({markexpr})"] if markexpr else []
    if settings.profile == "sandbox":
        marks.append("sandbox_safe")
    if marks:
        args += ["-m", " and ".join(marks)]
    if keyword:
        args += ["-k", keyword]
    if junitxml:
        args += ["--junitxml", junitxml]
    if workers and workers > 1:
        args += ["-p", "xdist.plugin"]
        # worksteal: a worker that runs out takes tests queued behind another's long one (createCall's
        # coverage phase, the stateful test), instead of waiting for them (xdist's default `load`).
        args += ["-n", str(workers), "--dist", "worksteal"]
    if settings.max_failures:
        args += ["--maxfail", str(settings.max_failures)]
    return [*args, *extra]


_CREDENTIAL_FIELDS = (
    "username",
    "password",
    "client_id",
    "client_secret",
    "other_account_id",
    "other_username",
    "other_password",
    "other_client_id",
    "other_client_secret",
)


#: The suites' package: the only place whose conftest.py files a run reads.
_SUITES_DIR = Path(__file__).resolve().parent / "suites"
#: The pytest plugins a run loads: this package's, hypothesis' and schemathesis' (xdist's too with
#: --workers).  Whatever else the environment has installed stays out.
_PLUGINS = ("conformance.plugin", "_hypothesis_pytestplugin", "schemathesis.pytest.plugin")
#: Variables through which a project configures its own pytest runs; a run sets them aside.
_PROJECT_PYTEST_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


@contextlib.contextmanager
def _isolated_pytest() -> Iterator[None]:
    """pytest as the run needs it, whatever the project and environment it runs in, restored after.

    pytest reads ``conftest.py`` in the current directory and in its ``test*`` folders when its
    arguments are not paths (``--pyargs``), loads every plugin installed in the environment, and
    takes options from ``PYTEST_ADDOPTS`` and plugins from ``PYTEST_PLUGINS``.  A voice-app
    project's fixtures, hooks and options would then run inside the conformance suites, or break
    them.  Plugin autoloading is off (workers inherit that), the two variables are set aside, and
    :func:`pytest_args` names the plugins and the one directory of conftest files.
    """
    changes: dict[str, str | None] = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    changes |= dict.fromkeys(_PROJECT_PYTEST_VARIABLES)
    with _environment(changes):
        yield


def _credentials_in_environment(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """Credentials for pytest (and its workers, which inherit the environment), restored afterwards
    with every other variable of the settings."""
    changes = {ENVIRONMENT[name]: getattr(settings, name) or None for name in _CREDENTIAL_FIELDS}
    return _environment(changes, also_restore=ENVIRONMENT.values())


@contextlib.contextmanager
def _environment(changes: Mapping[str, str | None], also_restore: Iterable[str] = ()) -> Iterator[None]:
    """``os.environ`` with ``changes`` made (``None`` removes a variable); afterwards those variables
    and ``also_restore`` are as they were."""
    saved = {name: os.environ.get(name) for name in (*changes, *also_restore)}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DeadlineExceeded(KeyboardInterrupt):
    """Raised in the main thread when ``max_time`` is up; pytest ends the session as on Ctrl-C."""


class _Deadline:
    """Stops the run once ``seconds`` have passed, wherever the main thread is (even blocked in a
    socket read on a stalled target): an interval timer whose signal handler raises
    :class:`DeadlineExceeded`.  Our own handler, so a SIGINT ignored by the parent shell (a job started
    with ``&``) cannot disarm it.  Off the main thread it falls back to ``_thread.interrupt_main``.

    Library code may catch the interrupt where it lands (hypothesis collects what an explicit example
    raises, whatever it is, and reports it as that example's failure; seen in CI: the test failed and
    the run went on waiting on the stalled target).  So the deadline strikes again every
    :data:`_REPEAT_SECONDS` until pytest has taken the interrupt in hand or its session is
    finishing (this object is also a pytest plugin whose ``pytest_keyboard_interrupt`` and
    ``pytest_sessionfinish`` disarm it, so the interrupt's report and the reports are written in
    peace)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.fired = False
        self._armed = False
        self._disarmed = threading.Event()  # for the thread of the fallback
        self._timer: threading.Thread | None = None
        self._itimer = False  # SIGALRM's interval timer is ours
        self._previous: Any = None
        self._on_main = threading.current_thread() is threading.main_thread()

    def _alarm(self, signum: int, frame: Any) -> None:
        if not self._armed:
            return
        self.fired = True
        raise DeadlineExceeded(f"--max-time {self.seconds:g} s")

    def _interrupt(self) -> None:  # pragma: no cover - run_suites called from a thread
        import _thread

        wait = self.seconds
        while not self._disarmed.wait(wait):
            self.fired = True
            _thread.interrupt_main()
            wait = _REPEAT_SECONDS

    def __enter__(self) -> _Deadline:
        if self.seconds is None:
            return self
        self._armed = True
        if self._on_main and hasattr(signal, "setitimer"):
            self._previous = signal.signal(signal.SIGALRM, self._alarm)
            self._itimer = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds, _REPEAT_SECONDS)
        else:  # pragma: no cover - no SIGALRM here
            self._timer = threading.Thread(target=self._interrupt, name="bw-deadline", daemon=True)
            self._timer.start()
        return self

    def disarm(self) -> None:
        self._armed = False
        self._disarmed.set()
        if self._itimer:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self) -> None:
        self.disarm()  # pytest has the interrupt in hand: its report must not be struck again

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.disarm()

    def __exit__(self, *exc: object) -> None:
        self.disarm()
        if self._itimer:
            signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)
            self._itimer, self._previous = False, None


_REPEAT_SECONDS = 1.0  # the deadline strikes again this often until the session is finishing


def _reproduce_prefix(settings: Settings, given_target: str | None) -> list[str]:
    prefix = ["bw-conformance", "run"]
    if given_target:
        prefix += ["--target", given_target]
    if settings.profile != "simulator":
        prefix += ["--profile", settings.profile]
    if settings.seed is not None:
        prefix += ["--seed", str(settings.seed)]
    return prefix


def _contract_version(path: str) -> str:
    """``info.version`` of the contract, read without parsing the whole document."""
    try:
        with open(path, encoding="utf-8") as handle:
            in_info = False
            for _, line in zip(range(200), handle, strict=False):
                if line.startswith("info:"):
                    in_info = True
                elif in_info and line.startswith("  version:"):
                    return line.split(":", 1)[1].strip().strip("'\"") or "?"
                elif in_info and line[:1] not in (" ", "\n", ""):
                    in_info = False
    except OSError:
        pass
    return "?"


def _info(settings: Settings, target: Any) -> RunInfo:
    from conformance import __version__
    from conformance.api.schema import resolve_spec

    spec = resolve_spec(settings.spec)
    resolved = target.settings
    auth = resolved.auth + f" as {resolved.principal}"
    if resolved.auth == "oauth2":
        auth += f" (token endpoint {resolved.token_url})"
    return RunInfo(
        target=target.base_url,
        embedded=settings.target is None,
        server=target.server,
        contract=str(spec),
        contract_version=_contract_version(str(spec)) if isinstance(spec, Path) else "?",
        profile=settings.profile,
        auth=auth,
        account=settings.account_id or "",
        max_examples=settings.max_examples,
        seed=settings.seed if settings.seed is not None else 0,
        version=__version__,
    )


def _collect(args: list[str]) -> list[tuple[str, str]]:
    """The (nodeid, area) of every test the arguments select, without running any."""
    selection = _Selection()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main([*args, "--collect-only", "-q"], plugins=[selection])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        tail = "\n".join(output.getvalue().strip().splitlines()[-15:])
        raise ConfigurationError(f"the suites could not be collected:\n{tail}", reason="collection")
    return selection.items


def run_suites(
    settings: Settings,
    *,
    markexpr: str | None = None,
    keyword: str | None = None,
    junitxml: str | None = None,
    workers: int | None = None,
    extra: tuple[str, ...] = (),
    on_start: Any = None,
    reports: Sequence[str] = (),
    report_dir: str | os.PathLike[str] | None = None,
    simulator_process: bool = True,
) -> tuple[int, Outcomes]:
    """Run the shipped suites; return pytest's exit code and the outcomes.

    ``reports`` (``html``, ``junit``, ``ndjson``, ``har``) are written into ``report_dir`` once
    pytest has ended, however it ended (failures, Ctrl-C, ``max_time``); their paths are in
    ``outcomes.reports``.

    With no target in ``settings`` the embedded simulator is started once here and shared by every
    worker: in a process of its own, so that it does not share this process' interpreter lock with
    the case generation (``simulator_process=False``: in a thread of this process).
    ``on_start(info)`` is called once the preflight passed and before any test runs.
    Raises :class:`ConfigurationError` / :class:`TargetUnreachableError` for the user's setup.
    """
    from conformance.target import open_target, require

    if settings.seed is None:
        settings = replace(settings, seed=random.randrange(2**31))
    outcomes = Outcomes()
    given_target = settings.target
    with ExitStack() as stack:
        # An empty ini file of our own: the suites must not pick up the configuration (testpaths,
        # addopts, filterwarnings) of whatever project the command happens to run in.
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bw-conformance-")))
        (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        rootdir = Path(__file__).resolve().parent.parent  # holds the `conformance` package
        extra = ("-c", str(workdir / "pytest.ini"), "--rootdir", str(rootdir), *extra)
        target = stack.enter_context(open_target(settings, simulator_process=simulator_process))
        redactor = Redactor(target.settings.secrets(), extra=lambda: target.authenticator.secrets)
        stack.enter_context(_credentials_in_environment(target.settings))
        stack.enter_context(_isolated_pytest())
        selection_args = pytest_args(
            target.settings, markexpr=markexpr, keyword=keyword, junitxml=None, workers=None
        )
        selected = _collect([*selection_args, *extra])
        if not selected:
            raise ConfigurationError(
                "no tests selected by -m/-k" + _selection_wording(markexpr, keyword), reason="empty-selection"
            )
        require(target, {area for _, area in selected})
        info = _info(settings, target)
        info.selected = len(selected)
        outcomes.info = info
        if on_start is not None:
            on_start(info)
        prefix = _reproduce_prefix(settings, given_target)
        collector = _Collector(outcomes, prefix)
        directory = Path(report_dir or ".")
        junit_targets = [Path(junitxml)] if junitxml else []
        if "junit" in reports:
            junit_targets.append(directory / "junit.xml")
        report_path = None
        if junit_targets:  # written next to its final place, completed, then renamed: never half a file
            final = junit_targets[0]
            report_path = final.with_name(f".{final.name}.{os.getpid()}.partial")
        spool = workdir / "spool" if set(reports) - {"junit"} else None
        recording = ("--bw-record", str(spool)) if spool is not None else ()
        args = pytest_args(
            target.settings,
            markexpr=markexpr,
            keyword=keyword,
            junitxml=str(report_path) if report_path else None,
            workers=workers,
            extra=(*extra, "--bw-reproduce", shlex.join(prefix), *recording),
        )
        stack.enter_context(contextlib.redirect_stdout(RedactingStream(sys.stdout, redactor)))
        stack.enter_context(contextlib.redirect_stderr(RedactingStream(sys.stderr, redactor)))
        started = time.time()
        code: int = pytest.ExitCode.INTERRUPTED
        deadline = _Deadline(settings.max_time)
        try:
            with deadline:
                code = pytest.main(args, plugins=[collector, deadline])
        except KeyboardInterrupt:  # the deadline (or Ctrl-C) arrived outside pytest's own handling
            code = pytest.ExitCode.INTERRUPTED
        except Exception:
            # The deadline can land anywhere, even in code that then fails reporting it (pytest's
            # own interrupt report has been seen to raise TypeError): still the deadline, exit 2.
            if not deadline.fired:
                raise
            code = pytest.ExitCode.INTERRUPTED
        finally:
            if deadline.fired:
                outcomes.stopped = (
                    f"the run exceeded --max-time {settings.max_time:g} s (the target may have stalled)"
                )
            if report_path is not None and report_path.exists():
                from conformance.reports.junit import finish_junit

                finish_junit(report_path, junit_targets, info.properties(), redactor)
                outcomes.reports.extend(p for p in junit_targets if junitxml is None or p != Path(junitxml))
            if set(reports) - {"junit"}:
                from conformance.reports import write_reports
                from conformance.reports.run import gather

                finished = time.time()
                data = gather(
                    spool, outcomes, selected, exit_code=int(code), started=started, finished=finished
                )
                outcomes.reports.extend(write_reports(reports, directory, data, redactor))
        _redact_outcomes(outcomes, redactor)  # the summary is printed after the streams are restored
    return int(code), outcomes


def _redact_outcomes(outcomes: Outcomes, redactor: Redactor) -> None:
    for failure in outcomes.failures:
        failure.evidence = redactor(failure.evidence)
        failure.reproduce = redactor(failure.reproduce)
        failure.rule = redactor(failure.rule)
    outcomes.setup_errors[:] = [redactor(problem) for problem in outcomes.setup_errors]


def _selection_wording(markexpr: str | None, keyword: str | None) -> str:
    parts = [f"-m {markexpr!r}" if markexpr else "", f"-k {keyword!r}" if keyword else ""]
    given = " and ".join(p for p in parts if p)
    return f" ({given})" if given else ""
