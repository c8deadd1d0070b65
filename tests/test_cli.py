from click.testing import CliRunner

from conformance.cli import main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("run", "serve", "bxml", "fuzz-app", "sink"):
        assert name in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2


def test_every_command_loads_and_has_help() -> None:
    runner = CliRunner()
    for name in ("run", "serve", "bxml", "fuzz-app", "sink"):
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output
