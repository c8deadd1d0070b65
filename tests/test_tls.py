"""One TLS context per process for every HTTP client the suite opens (``conformance.tls``)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from conformance.errors import ConfigurationError
from conformance.settings import SIMULATOR_CLIENT_ID, SIMULATOR_CLIENT_SECRET, Settings
from conformance.simulator import Simulator
from conformance.target import open_target
from conformance.tls import (
    check_proxy_environment,
    check_requests_bundle,
    client_context,
    keep_loopback_off_proxies,
    proxy_for,
)
from tests.trust_helpers import run_command


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with Simulator() as running:
        yield running.base_url


def test_the_context_verifies_and_is_built_once() -> None:
    context = client_context()
    assert context is client_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


def test_ssl_cert_file_is_honoured_as_httpx_honours_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = Path(certifi.where()).read_text(encoding="ascii")
    first = bundle[: bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    one_ca = tmp_path / "one.pem"
    one_ca.write_text(first, encoding="ascii")
    monkeypatch.setenv("SSL_CERT_FILE", str(one_ca))
    built = client_context.__wrapped__()  # a fresh build, as a new process would make it
    assert built.cert_store_stats()["x509_ca"] == 1


def test_a_preflight_and_many_clients_build_no_further_context(
    simulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_context()  # built once for the process
    built: list[ssl.SSLContext] = []
    original = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = original(*args, **kwargs)  # type: ignore[arg-type]
        built.append(context)
        return context

    monkeypatch.setattr(ssl, "create_default_context", counting)
    settings = Settings(
        target=simulator,
        account_id="9900000",
        client_id=SIMULATOR_CLIENT_ID,
        client_secret=SIMULATOR_CLIENT_SECRET,
        auth="oauth2",
    )
    with open_target(settings) as target:
        for _ in range(5):
            with target.client() as client:
                assert client.get(f"/accounts/{settings.account_id}/statistics").status_code == 200
    assert built == []


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_an_unreadable_ca_bundle_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content, encoding="ascii")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with pytest.raises(ConfigurationError, match="SSL_CERT_FILE=") as caught:
        client_context.__wrapped__()
    assert caught.value.reason == "tls-ca-bundle"


def test_a_run_with_a_missing_ca_bundle_exits_2_and_says_so(tmp_path: Path) -> None:
    done = run_command(
        "-k", "nothing_is_named_so", cwd=tmp_path, env={"SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SSL_CERT_FILE=" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_requests_ca_bundle_naming_nothing_stops_an_https_preflight(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(name, str(tmp_path / "typo.pem"))
    settings = Settings(
        target="https://127.0.0.1:9",
        account_id="9900000",
        client_id="id",
        client_secret="secret",
        auth="oauth2",
    )
    with pytest.raises(ConfigurationError, match=f"{name}=") as caught, open_target(settings):
        pass
    assert caught.value.reason == "tls-ca-bundle"
    monkeypatch.setenv(name, certifi.where())
    check_requests_bundle()  # a bundle that exists passes


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.mark.parametrize("name", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_variable_httpx_cannot_use_is_a_setup_error_without_its_value(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for variable in _PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(name, "ftp://someone:hunter2-secret@proxy.example:21")
    with pytest.raises(ConfigurationError) as caught:
        client_context.__wrapped__()
    assert caught.value.reason == "bad-proxy"
    assert name.upper() in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "value", ["http://proxy.example:3128", "proxy.example:3128", "socks5://proxy.example:1080"]
)
def test_usable_proxy_variables_pass(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for variable in _PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", value)
    check_proxy_environment()


def _clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*_PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)


def test_without_a_proxy_no_proxy_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_proxies(monkeypatch)
    keep_loopback_off_proxies()
    assert "NO_PROXY" not in os.environ
    assert "no_proxy" not in os.environ


def test_with_a_proxy_loopback_is_added_to_what_no_proxy_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example, localhost")
    keep_loopback_off_proxies()
    keep_loopback_off_proxies()  # a second call adds nothing
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "internal.example,localhost,127.0.0.1,::1"
    assert proxy_for("http://127.0.0.1:8080/accounts") is None
    assert proxy_for("http://localhost:8080/") is None
    assert proxy_for("http://[::1]:8080/") is None
    assert proxy_for("http://internal.example/") is None
    assert proxy_for("http://voice.example/") == "HTTP_PROXY"
    assert proxy_for("https://voice.example/") is None  # no HTTPS_PROXY, no ALL_PROXY


def test_the_no_proxy_list_clients_read_is_the_one_extended(monkeypatch: pytest.MonkeyPatch) -> None:
    """no_proxy wins over NO_PROXY in urllib, requests and httpx: the list they read is extended, and
    both names carry it afterwards."""
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "ignored.example")
    monkeypatch.setenv("no_proxy", "read.example")
    keep_loopback_off_proxies()
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "read.example,127.0.0.1,localhost,::1"


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
def test_no_proxy_star_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.example:1080")
    monkeypatch.setenv(name, "*")
    keep_loopback_off_proxies()
    assert os.environ[name] == "*"
    assert {"NO_PROXY", "no_proxy"} - {name} - set(os.environ)
    assert proxy_for("https://voice.example/") is None


def test_a_run_behind_a_proxy_still_reaches_its_embedded_simulator(tmp_path: Path) -> None:
    """A company proxy in the environment of a CI job: the proxy cannot reach this machine's
    loopback, so the embedded simulator, the sink and the stream sink are reached directly."""
    closed = "http://127.0.0.1:9"
    proxies = {"HTTP_PROXY": closed, "HTTPS_PROXY": closed, "http_proxy": closed, "ALL_PROXY": closed}
    selection = (
        "test_operation[getStatistics] or test_valid_bxml_is_accepted_on_a_live_call"
        " or test_outbound_answered_and_hung_up or test_stream_one_track_hears_the_other_leg"
    )
    result = run_command("-k", selection, "--max-examples", "2", "--seed", "4", cwd=tmp_path, env=proxies)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_an_unreachable_target_behind_a_proxy_names_the_variable_not_its_value(tmp_path: Path) -> None:
    environment = {
        "HTTPS_PROXY": "http://someone:hunter2-secret@127.0.0.1:9",
        "BW_CLIENT_ID": "client",
        "BW_CLIENT_SECRET": "secret",
        "BW_ACCOUNT_ID": "9900000",
    }
    target = ("--target", "https://voice.example.invalid")
    result = run_command(*target, "-m", "api", cwd=tmp_path, env=environment)
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "is unreachable" in said
    assert "through the proxy of HTTPS_PROXY" in said
    assert "hunter2" not in said
