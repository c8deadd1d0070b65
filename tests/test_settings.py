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
