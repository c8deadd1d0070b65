from pathlib import Path

import pytest

from conformance.errors import ConfigurationError
from conformance.settings import SIMULATOR_ACCOUNT_ID, Settings, load_settings


def _pyproject(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")
    return tmp_path


def test_defaults_point_at_the_embedded_simulator(tmp_path: Path) -> None:
    settings = load_settings(environ={}, project_dir=tmp_path)
    assert settings.embedded
    assert settings.account_id == SIMULATOR_ACCOUNT_ID
    assert settings.username
    assert settings.password
    assert settings.profile == "simulator"


def test_precedence_override_beats_environment_beats_pyproject(tmp_path: Path) -> None:
    project = _pyproject(
        tmp_path,
        '[tool.bw-conformance]\ntarget = "http://from-pyproject:1"\naccount-id = "1"\n'
        'username = "u"\npassword = "p"\nmax-examples = 7\n',
    )
    env = {"BW_BASE_URL": "http://from-env:2", "BW_ACCOUNT_ID": "2"}
    settings = load_settings({"target": "http://from-cli:3/"}, environ=env, project_dir=project)
    assert settings.target == "http://from-cli:3"
    assert settings.account_id == "2"
    assert settings.max_examples == 7
    settings = load_settings({"target": None}, environ=env, project_dir=project)
    assert settings.target == "http://from-env:2"
    settings = load_settings(environ={}, project_dir=project)
    assert settings.target == "http://from-pyproject:1"


@pytest.mark.parametrize(
    ("overrides", "environ", "reason"),
    [
        ({"profile": "sandbox"}, {}, "no-target"),
        ({"target": "ftp://x"}, {}, "bad-url"),
        ({"stream_base_url": "https://tunnel.example"}, {}, "bad-url"),
        ({"target": "http://x"}, {}, "missing-credentials"),
        ({"profile": "prod"}, {}, "configuration"),
        ({"max_examples": "many"}, {}, "configuration"),
        ({"max_examples": 0}, {}, "configuration"),
        ({"nonsense": 1}, {}, "configuration"),
    ],
)
def test_bad_settings_are_configuration_errors(
    tmp_path: Path, overrides: dict[str, object], environ: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(overrides, environ=environ, project_dir=tmp_path)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_stream_base_url_is_a_websocket_url_from_the_environment(tmp_path: Path) -> None:
    environ = {"BW_STREAM_BASE_URL": "wss://tunnel.example/streams/"}
    settings = load_settings(environ=environ, project_dir=tmp_path)
    assert settings.stream_base_url == "wss://tunnel.example/streams"


def test_unknown_pyproject_key_is_named(tmp_path: Path) -> None:
    project = _pyproject(tmp_path, '[tool.bw-conformance]\ntargte = "http://x"\n')
    with pytest.raises(ConfigurationError, match="targte"):
        load_settings(environ={}, project_dir=project)


def test_broken_pyproject_is_a_configuration_error(tmp_path: Path) -> None:
    project = _pyproject(tmp_path, "[tool.bw-conformance\n")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings(environ={}, project_dir=project)


def test_settings_are_frozen_and_redact_the_password(tmp_path: Path) -> None:
    settings = load_settings(environ={}, project_dir=tmp_path)
    with pytest.raises(AttributeError):
        settings.target = "x"  # type: ignore[misc]
    assert settings.redacted()["password"] == "*****"
    assert isinstance(settings.with_target("http://127.0.0.1:1"), Settings)


def test_oauth2_is_chosen_with_a_client_id_and_needs_its_secret(tmp_path: Path) -> None:
    env = {"BW_BASE_URL": "http://t.example", "BW_ACCOUNT_ID": "1", "BW_CLIENT_ID": "cid"}
    with pytest.raises(ConfigurationError, match="BW_CLIENT_SECRET") as caught:
        load_settings(environ=env, project_dir=tmp_path)
    assert caught.value.reason == "missing-credentials"
    settings = load_settings(environ={**env, "BW_CLIENT_SECRET": "s3cr3t-value"}, project_dir=tmp_path)
    assert settings.auth == "oauth2"
    assert settings.principal == "client id cid"
    basic = load_settings(
        environ={
            "BW_BASE_URL": "http://t.example",
            "BW_ACCOUNT_ID": "1",
            "BW_USERNAME": "u",
            "BW_PASSWORD": "p",
        },
        project_dir=tmp_path,
    )
    assert basic.auth == "basic"


def test_the_embedded_simulator_defaults_to_its_oauth2_client(tmp_path: Path) -> None:
    settings = load_settings(environ={}, project_dir=tmp_path)
    assert (settings.auth, settings.client_id) == ("oauth2", "bw-client")
    legacy = load_settings({"auth": "basic"}, environ={}, project_dir=tmp_path)
    assert (legacy.auth, legacy.client_id, legacy.username) == ("basic", None, "bw-user")


def test_secrets_stay_out_of_repr_and_redacted(tmp_path: Path) -> None:
    env = {
        "BW_PASSWORD": "pw-canary-1",
        "BW_CLIENT_SECRET": "cs-canary-2",
        "BW_OTHER_CLIENT_SECRET": "oc-canary-3",
    }
    settings = load_settings(environ=env, project_dir=tmp_path)
    shown = repr(settings) + str(settings) + repr(settings.redacted())
    for secret in env.values():
        assert secret not in shown
    assert set(settings.secrets()) == set(env.values())


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"auth": "digest"}, "bad-auth"),
        ({"seed": "-1"}, "configuration"),
        ({"max_time": "0"}, "configuration"),
        ({"request_timeout": "soon"}, "configuration"),
        ({"basic_refused": "perhaps"}, "bad-flag"),
        ({"token_url": "ftp://x"}, "bad-url"),
    ],
)
def test_bad_new_settings_are_named(tmp_path: Path, overrides: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(overrides, environ={}, project_dir=tmp_path)
    assert caught.value.reason == reason


def test_basic_refused_reads_a_flag(tmp_path: Path) -> None:
    assert load_settings(environ={"BW_BASIC_REFUSED": "true"}, project_dir=tmp_path).basic_refused
    assert not load_settings(environ={"BW_BASIC_REFUSED": "0"}, project_dir=tmp_path).basic_refused
