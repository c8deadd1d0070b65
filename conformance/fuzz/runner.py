"""The fuzzing loop: hypothesis generates webhooks, the app answers, the checks judge every reply.

Each event type gets its own hypothesis run, so a failing reply is shrunk to the smallest payload
that still fails the same check.  Each check raises its own exception type, so hypothesis keeps
distinct problems apart (``report_multiple_bugs``); a further round ignores the checks already
found, up to ``max_rounds``.  Then realistic sequences (one call's webhooks in order) are replayed
the same way.

Shrinking stops ``shrink_time`` seconds after the first failure of a unit; the smallest failing
payload seen so far (shortest JSON) is then reported for each check.  A timeout is the exception:
it is reported for the first payload that timed out, unshrunk, and the unit sends nothing more,
because every further attempt would cost a whole callback timeout.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from conformance.errors import ConfigurationError
from conformance.fuzz.checks import BxmlValidator, Problem, check_exchange, default_bxml_validator
from conformance.fuzz.report import EventStats, Finding, FuzzReport
from conformance.fuzz.scenarios import Scenario, applicable, sequences
from conformance.fuzz.strategies import payloads
from conformance.fuzz.targets import Exchange, Method, Target
from conformance.webhooks.events import EventType


@dataclass(frozen=True)
class Progress:
    """Sent to the ``progress`` hook after every webhook."""

    phase: str  # "event" or "sequence"
    name: str  # the event type or scenario being fuzzed
    index: int  # 1-based position of ``name`` among the units of this run
    total: int  # number of units (event types, then scenarios)
    sent: int  # webhooks sent so far in the whole run


ProgressHook = Callable[[Progress], None]


@dataclass(frozen=True)
class FuzzSettings:
    """Everything a run needs besides the target; one frozen value, as the design asks."""

    events: tuple[str, ...] | None = None
    routes: Mapping[str, str] = field(default_factory=dict)
    max_examples: int = 50
    seed: int | None = None
    callback_timeout: float = 15.0
    method: Method = "POST"
    auth: tuple[str, str] | None = None
    sequences: bool = True
    max_rounds: int = 3
    shrink_time: float = 30.0  # seconds spent shrinking one problem before the best so far is kept

    def __post_init__(self) -> None:
        if self.max_examples < 1:
            raise ConfigurationError("max_examples must be at least 1", reason="bad-max-examples")
        if self.max_rounds < 1:
            raise ConfigurationError("max_rounds must be at least 1", reason="bad-max-rounds")


class _Failed(Exception):
    finding: Finding

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"{finding.event}: {finding.check}: {finding.message}")
        self.finding = finding


class _OutOfTime(BaseException):
    """Raised through hypothesis (which lets non-``Exception`` errors pass) to end shrinking."""


_FAILURE_TYPES: dict[str, type[_Failed]] = {}


def _failure(finding: Finding) -> _Failed:
    # One exception type per check: hypothesis tells bugs apart by type and raising line.
    kind = _FAILURE_TYPES.get(finding.check)
    if kind is None:
        kind = _FAILURE_TYPES[finding.check] = type(f"CheckFailed_{finding.check}", (_Failed,), {})
    return kind(finding)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for sub in error.exceptions for leaf in _leaves(sub)]
    return [error]


def _expects(event: EventType) -> str:
    if event.bxml_context is None:
        return "any 2xx"
    return f"{event.bxml_context} BXML" + (" or empty" if event.empty_reply_allowed else "")


class Fuzzer:
    """One run against one target; :func:`fuzz_app` is the convenient entry point."""

    def __init__(
        self,
        target: Target,
        catalogue: Mapping[str, EventType],
        options: FuzzSettings,
        *,
        bxml_validator: BxmlValidator = default_bxml_validator,
        progress: ProgressHook | None = None,
    ) -> None:
        self.target = target
        self.options = options
        self.bxml_validator = bxml_validator
        self.progress = progress
        unknown = sorted({*(options.events or ()), *options.routes} - set(catalogue))
        if unknown:
            known = ", ".join(sorted(catalogue))
            raise ConfigurationError(
                f"unknown webhook event(s) {', '.join(unknown)}; known: {known}", reason="unknown-event"
            )
        names = list(options.events) if options.events else list(catalogue)
        self.events = {name: catalogue[name] for name in dict.fromkeys(names)}
        self.seed = options.seed if options.seed is not None else random.randrange(2**32)
        self.report = FuzzReport(seed=self.seed)
        self.report.stats = {n: EventStats(n, _expects(e)) for n, e in self.events.items()}
        self._found: set[tuple[str, str]] = set()
        self._stalled: set[str] = set()  # units that timed out once; they send nothing more
        self._unit = ("event", "", 0, 0)

    def url_for(self, event: str) -> str:
        return self.target.resolve(self.options.routes.get(event))

    # -- one exchange ------------------------------------------------------------------------------
    def _deliver(self, event: EventType, payload: dict[str, Any]) -> tuple[Exchange, Problem | None]:
        exchange = self.target.send(self.url_for(event.name), payload)
        self.report.stats[event.name].sent += 1
        if self.progress is not None:
            phase, name, index, total = self._unit
            self.progress(Progress(phase, name, index, total, self.report.sent))
        problem = check_exchange(
            event,
            exchange,
            callback_timeout=self.options.callback_timeout,
            bxml_validator=self.bxml_validator,
        )
        return exchange, problem

    def _finding(self, event: EventType, exchange: Exchange, problem: Problem, **extra: Any) -> Finding:
        return Finding(
            event=event.name,
            check=problem.check,
            message=problem.message,
            method=exchange.method,
            url=exchange.url,
            payload=exchange.payload,
            status=exchange.status,
            body_excerpt=exchange.text(),
            curl=self.target.curl(exchange.url, exchange.payload),
            bxml_errors=problem.bxml,
            **extra,
        )

    # -- hypothesis driving ------------------------------------------------------------------------
    def _settings(self) -> settings:
        return settings(
            max_examples=self.options.max_examples,
            deadline=None,
            database=None,
            derandomize=False,
            report_multiple_bugs=True,
            verbosity=Verbosity.quiet,
            print_blob=False,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
        )

    def _record(self, finding: Finding) -> bool:
        key = (finding.event, finding.check)
        if key in self._found:
            return False
        self._found.add(key)
        self.report.findings.append(finding)
        self.report.stats[finding.event].failed_checks.append(finding.check)
        return True

    def _explore(
        self, label: str, strategy: st.SearchStrategy[Any], probe: Callable[[Any], Finding | None]
    ) -> None:
        unit_seed = (self.seed + zlib.crc32(label.encode())) % 2**32
        for _ in range(self.options.max_rounds):
            found = self._round(label, strategy, probe, unit_seed)
            added = [self._record(finding) for finding in found]
            if not any(added) or label in self._stalled:
                return

    def _round(
        self,
        label: str,
        strategy: st.SearchStrategy[Any],
        probe: Callable[[Any], Finding | None],
        unit_seed: int,
    ) -> list[Finding]:
        """One hypothesis run; the minimal finding of each distinct failing check it shrank."""
        failing: dict[str, Finding] = {}  # payload -> its finding, so replays fail the same way
        first_failure: list[float] = []

        def test(value: Any) -> None:
            if label in self._stalled:
                return
            key = json.dumps(value, sort_keys=True, default=str)
            finding = failing.get(key)
            if finding is None:
                if first_failure and time.monotonic() - first_failure[0] > self.options.shrink_time:
                    raise _OutOfTime  # stop hypothesis; the smallest failure seen so far is reported
                finding = probe(value)
                if finding is None:
                    return
                if finding.check == "timeout":
                    # Not shrunk: every further attempt would cost a whole callback timeout.
                    self._record(finding)
                    self._stalled.add(label)
                    return
                failing[key] = finding
                if not first_failure:
                    first_failure.append(time.monotonic())
            # One raise statement for every failure: hypothesis tells bugs apart by type and line.
            raise _failure(finding)

        run = hypothesis_seed(unit_seed)(self._settings()(given(strategy)(test)))
        try:
            run()
        except _OutOfTime:
            smallest: dict[str, tuple[int, Finding]] = {}
            for key, finding in failing.items():
                if finding.check not in smallest or len(key) < smallest[finding.check][0]:
                    smallest[finding.check] = (len(key), finding)
            return [finding for _, finding in smallest.values()]
        except (_Failed, BaseExceptionGroup) as error:
            leaves = _leaves(error)
            foreign = [leaf for leaf in leaves if not isinstance(leaf, _Failed)]
            if foreign:
                raise foreign[0] from error
            return [leaf.finding for leaf in leaves if isinstance(leaf, _Failed)]
        return []

    def fuzz_event(self, event: EventType) -> None:
        def probe(payload: dict[str, Any]) -> Finding | None:
            exchange, problem = self._deliver(event, payload)
            if problem is None or (event.name, problem.check) in self._found:
                return None
            return self._finding(event, exchange, problem)

        self._explore(event.name, payloads(event), probe)

    def fuzz_sequence(self, scenario: Scenario) -> None:
        def probe(steps: list[tuple[str, dict[str, Any]]]) -> Finding | None:
            for index, (name, payload) in enumerate(steps):
                if name in self._stalled:
                    return None  # this event's handler already timed out; do not wait again
                event = self.events[name]
                exchange, problem = self._deliver(event, payload)
                if problem is not None and (name, problem.check) not in self._found:
                    return self._finding(
                        event,
                        exchange,
                        problem,
                        scenario=scenario.name,
                        step=index,
                        preceding=tuple(steps[:index]),
                        setup_curls=tuple(self.target.curl(self.url_for(n), p) for n, p in steps[:index]),
                    )
            return None

        self._explore(f"sequence:{scenario.name}", sequences(scenario, self.events), probe)

    def run(self) -> FuzzReport:
        started = time.perf_counter()
        self.target.check_reachable([self.url_for(name) for name in self.events])
        scenarios = applicable(self.events) if self.options.sequences else []
        total = len(self.events) + len(scenarios)
        for index, event in enumerate(self.events.values(), start=1):
            self._unit = ("event", event.name, index, total)
            self.fuzz_event(event)
        for index, scenario in enumerate(scenarios, start=len(self.events) + 1):
            self._unit = ("sequence", scenario.name, index, total)
            self.fuzz_sequence(scenario)
            self.report.sequences_run.append(scenario.name)
        self.report.elapsed = time.perf_counter() - started
        return self.report


def fuzz_app(
    target: str | Callable[..., Any],
    *,
    url: str | None = None,
    routes: Mapping[str, str] | None = None,
    events: Iterable[str] | None = None,
    max_examples: int = 50,
    seed: int | None = None,
    callback_timeout: float = 15.0,
    method: Method = "POST",
    auth: tuple[str, str] | None = None,
    sequences: bool = True,
    max_rounds: int = 3,
    shrink_time: float = 30.0,
    catalogue: Mapping[str, EventType] | None = None,
    bxml_validator: BxmlValidator | None = None,
    progress: ProgressHook | None = None,
) -> FuzzReport:
    """Fuzz a voice app's webhook handlers and return what was found.

    ``target`` is the URL every webhook is sent to, or an ASGI or WSGI app called in-process (then
    ``url`` is the path its webhooks go to, ``/`` by default).  ``routes`` maps an event type to
    another URL or path.  ``events`` limits the run to some event types.  Other arguments match the
    ``fuzz-app`` command's options; ``catalogue`` and ``bxml_validator`` replace the contract's event
    catalogue and the project's BXML validator.
    """
    if isinstance(target, str) and url is not None:
        raise ConfigurationError("give url= only with an in-process app target", reason="bad-target")
    options = FuzzSettings(
        events=None if events is None else tuple(events),
        routes=dict(routes or {}),
        max_examples=max_examples,
        seed=seed,
        callback_timeout=callback_timeout,
        method=method,
        auth=auth,
        sequences=sequences,
        max_rounds=max_rounds,
        shrink_time=shrink_time,
    )
    if catalogue is None:
        from conformance.webhooks.events import catalogue as contract_catalogue

        catalogue = contract_catalogue()
    with Target(target, callback_timeout=callback_timeout, method=method, auth=auth) as delivery:
        if url is not None:
            delivery.base_url = delivery.resolve(url)
        fuzzer = Fuzzer(
            delivery,
            catalogue,
            options,
            bxml_validator=bxml_validator or default_bxml_validator,
            progress=progress,
        )
        return fuzzer.run()


__all__ = ["FuzzSettings", "Fuzzer", "Progress", "ProgressHook", "fuzz_app"]
