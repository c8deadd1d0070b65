"""Sending schemathesis cases the way a run's profile allows: paced, budgeted, 429-aware."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import hypothesis
import requests
from schemathesis.errors import FailureGroup

from conformance.api.operations import is_create_call, operation_id
from conformance.api.pacing import CallBudgetExhaustedError, CallPacer
from conformance.api.report import CurlAuth, with_curl_auth
from conformance.auth import Authenticator, says_token_expired
from conformance.settings import Settings

if TYPE_CHECKING:
    from schemathesis import Case, Response
    from schemathesis.generation.stateful.state_machine import APIStateMachine
    from schemathesis.schemas import BaseSchema

__all__ = ["ApiRunner", "operation_test", "pacer_for", "stateful_machine", "stateful_settings"]


def pacer_for(settings: Settings) -> CallPacer:
    """A pacer for ``settings``: calls/s and the call budget apply to the sandbox profile only."""
    if settings.profile == "sandbox":
        return CallPacer(calls_per_second=settings.calls_per_second, call_budget=settings.call_budget)
    return CallPacer()


class ApiRunner:
    """Calls and validates schemathesis cases through one :class:`CallPacer`.

    Call creation is paced and counted against the budget; 429 answers with ``Retry-After`` are
    waited out and re-sent before the response is validated.  With an ``authenticator`` (the one the
    schema's cases carry the header of, see :func:`~conformance.api.schema.use_authenticator`), a case
    whose token the target calls expired is re-sent once with a new one.  ``curl_auth`` says how the
    reproduce commands of failure reports authenticate (they never hold a secret).
    """

    def __init__(
        self,
        pacer: CallPacer,
        *,
        authenticator: Authenticator | None = None,
        curl_auth: CurlAuth | None = None,
    ) -> None:
        self.pacer = pacer
        self.authenticator = authenticator
        self.curl_auth = curl_auth
        self.session = requests.Session()  # keep-alive across cases
        # Operations whose auth enforcement schemathesis' ``ignored_auth`` check has confirmed (see
        # :func:`_ignored_auth_once`): shared by every case of the run, as ``st run`` shares it.
        self.auth_enforced: set[str] = set()
        self._ignored_auth = _ignored_auth_once(self.auth_enforced)

    def close(self) -> None:
        self.session.close()

    def call(self, case: Case[Any], **kwargs: Any) -> Response:
        """Send ``case`` (paced when it creates a call), re-sending after a 429 with Retry-After."""
        if is_create_call(case.operation) and case.method.upper() == "POST":
            try:
                self.pacer.before_call_creation()
            except CallBudgetExhaustedError:
                # Nothing to learn from this example without creating a call: discard it.
                hypothesis.reject()
        kwargs.setdefault("session", self.session)
        response = self.pacer.send(lambda: case.call(**kwargs))
        if self._token_expired(case, response):
            case.headers["Authorization"] = self.authenticator.authorization()  # type: ignore[union-attr]
            response = self.pacer.send(lambda: case.call(**kwargs))
        return response

    def _token_expired(self, case: Case[Any], response: Response) -> bool:
        """The case carried the run's token (not one schemathesis made up) and the target said it
        expired: forget that token."""
        if self.authenticator is None or self.authenticator.mode != "oauth2" or response.status_code != 401:
            return False
        headers: Mapping[str, Any] = case.headers or {}
        sent = headers.get("Authorization")
        if not case._has_explicit_auth or not isinstance(sent, str) or not sent.startswith("Bearer "):
            return False
        if not says_token_expired(401, response.headers, response.content or b""):
            return False
        self.authenticator.reject(sent)
        return True

    def call_and_validate(self, case: Case[Any], **kwargs: Any) -> Response:
        """Send ``case`` and run every enabled check (schemathesis' own and Bandwidth's) on the answer."""
        __tracebackhide__ = True
        kwargs.setdefault("session", self.session)
        response = self.call(case, **kwargs)
        original, once = self._ignored_auth
        with naming_the_operation(case, self.curl_auth):
            case.validate_response(
                response, transport_kwargs=kwargs, excluded_checks=[original], additional_checks=[once]
            )
        return response


def _ignored_auth_once(enforced: set[str]) -> tuple[Any, Callable[..., bool | None]]:
    """Schemathesis' ``ignored_auth`` check, and the same check remembering across cases which
    operations it has already seen refuse missing and invalid credentials.

    ``ignored_auth`` re-sends a successful case without credentials and with invalid ones.  ``st
    run`` does that once per operation and run (enforcement is a property of the operation); through
    ``Case.validate_response`` it has no run to remember it in and probes every successful case
    again (two more requests each: about two thirds of the requests of the createCall test).  The
    replacement gives it the runner's set; it runs only where the configuration enables the original,
    under the original's name, so its failures read the same.
    """
    from schemathesis.specs.openapi.checks import ignored_auth

    def check(ctx: Any, response: Any, case: Any) -> bool | None:
        if not ctx.config.get_by_name(name="ignored_auth").enabled:
            return None
        if ctx.auth_enforced_operations is None:
            ctx.auth_enforced_operations = enforced
        result: bool | None = ignored_auth(ctx, response, case)
        return result

    check.__name__ = check.__qualname__ = "ignored_auth"
    return ignored_auth, check


@contextmanager
def naming_the_operation(case: Case[Any], curl_auth: CurlAuth | None = None) -> Iterator[None]:
    """Prefix a schemathesis failure report with the operation and operationId, and make its reproduce
    command authenticate through ``curl_auth`` (variables, never a secret)."""
    __tracebackhide__ = True
    try:
        yield
    except FailureGroup as exc:
        name = operation_id(case.operation)
        title = f"{case.operation.label}" + (f" ({name})" if name else "")
        message = with_curl_auth(f"{title}: {exc.message}", curl_auth)
        raise FailureGroup(list(exc.exceptions), message) from None


def operation_test(
    schema: BaseSchema, label: str, check: Callable[[Case[Any]], object]
) -> Callable[[], None]:
    """The hypothesis test of one operation (``label``: ``METHOD /path``) under every phase the schema's
    configuration enables for it (examples, coverage, fuzzing), calling ``check(case)`` on each case.

    It is built exactly as schemathesis' pytest integration builds the test of each operation of a
    lazy schema: the same hypothesis settings, the seed derived from the configuration's seed and the
    operation, the coverage and example cases.  Calling it raises schemathesis' ``FailureGroup`` on
    failures.  An operation the contract cannot describe raises its ``InvalidSchema`` error.
    """
    from schemathesis.checks import load_all_checks
    from schemathesis.core.errors import InvalidSchema
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test
    from schemathesis.python._constants.orchestrator import make_constants_value_source

    load_all_checks()  # so that checks are known inside the hypothesis test
    operation = schema.find_operation_by_label(label)
    if operation is None:
        raise LookupError(f"the contract has no operation {label}")

    def test_case(case: Case[Any]) -> None:
        __tracebackhide__ = True
        check(case)

    test_case.__name__ = test_case.__qualname__ = "test_operation"
    feedback = FeedbackSources(constants_value_source=make_constants_value_source(schema))
    try:
        test: Callable[[], None] = build_operation_test(
            config=schema.config, operation=operation, test_func=test_case, given_kwargs={}, feedback=feedback
        )
    except InvalidSchema as exc:
        failing: Callable[[], None] = exc.as_failing_test_function()
        return failing
    return test


def stateful_settings(settings: Settings) -> hypothesis.settings:
    """Hypothesis settings for the stateful phase, scaled from ``settings.max_examples``; no example
    database (the seed given to :func:`stateful_machine` is what repeats a run)."""
    return hypothesis.settings(
        max_examples=max(1, settings.max_examples),
        stateful_step_count=6,
        deadline=None,
        derandomize=False,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


def stateful_machine(
    schema: BaseSchema, runner: ApiRunner, *, seed: int | None = None
) -> type[APIStateMachine]:
    """The schema's state machine (chained by the contract's OpenAPI links), sending through ``runner``.

    With ``seed`` the scenarios are the same on every run against the same target: hypothesis draws
    from that seed, and so does the order in which operations start a scenario.
    """
    base = schema.as_state_machine()
    order = random.Random(f"bw-conformance:{seed}") if seed is not None else random.Random()

    class VoiceApiWorkflow(base):  # type: ignore[valid-type, misc]
        # Shuffle which operation starts a scenario; Hypothesis would otherwise favour the first.
        rule_order_seed = order.getrandbits(64)

        def call(self, case: Case[Any], **kwargs: Any) -> Response:
            return runner.call(case, **kwargs)

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            __tracebackhide__ = True
            with naming_the_operation(case, runner.curl_auth):
                super().validate_response(response, case, additional_checks, **kwargs)

    VoiceApiWorkflow.__name__ = "VoiceApiWorkflow"
    if seed is not None:
        hypothesis.seed(seed)(VoiceApiWorkflow)
    return VoiceApiWorkflow
