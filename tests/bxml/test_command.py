"""``bw-conformance bxml validate|generate`` through click's CliRunner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.bxml import MAX_DOCUMENT_BYTES, BxmlError, is_valid
from conformance.cli import main

GOOD = '<?xml version="1.0" encoding="UTF-8"?>\n<Response><SpeakSentence>Hi.</SpeakSentence></Response>\n'
BAD = "<Response>\n  <Pause duration='0'/>\n  <Gather maxDigits='99'/>\n</Response>\n"


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_validate_valid_files_exit_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bxml", "validate", _write(tmp_path, "a.xml", GOOD)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "0 invalid" in result.stderr


def test_validate_prints_file_line_rule_message_and_exits_1(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.xml", BAD)
    good = _write(tmp_path, "good.xml", GOOD)
    result = CliRunner().invoke(main, ["bxml", "validate", good, bad])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:2: attribute-range: <Pause> duration='0'")
    assert lines[0].endswith("(at /Response/Pause[1])")
    assert lines[1].startswith(f"{bad}:3: attribute-range: <Gather> maxDigits='99'")
    assert len(lines) == 2


def test_validate_reads_stdin_with_a_context() -> None:
    document = "<Response><Gather/></Response>"
    runner = CliRunner()
    assert runner.invoke(main, ["bxml", "validate", "-"], input=document).exit_code == 0
    result = runner.invoke(main, ["bxml", "validate", "--context", "conference", "-"], input=document)
    assert result.exit_code == 1
    assert result.stdout.startswith("<stdin>:1: context-forbidden: ")


def test_validate_unreadable_file_exits_2_after_checking_the_others(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.xml", BAD)
    result = CliRunner().invoke(main, ["bxml", "validate", str(tmp_path / "missing.xml"), bad])
    assert result.exit_code == 2
    assert "missing.xml: cannot read" in result.stderr
    assert "attribute-range" in result.stdout


def test_validate_bad_usage_exits_2() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["bxml", "validate"]).exit_code == 2
    assert (
        runner.invoke(main, ["bxml", "validate", "--context", "meeting", "-"], input="<Response/>").exit_code
        == 2
    )


def test_whole_document_problems_are_reported_on_line_1(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"<Response>" + b" " * 70000 + b"</Response>")
    result = CliRunner().invoke(main, ["bxml", "validate", "-q", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:1: document-too-large: ")
    assert result.stderr == ""


def test_generate_one_valid_document_is_plain_bxml() -> None:
    result = CliRunner().invoke(main, ["bxml", "generate", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert is_valid(result.stdout)


def test_generate_is_reproducible_and_files_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["bxml", "generate", "-n", "5", "--seed", "11", "--context", "transferAnswer"]
    first = runner.invoke(main, [*args, "--out", str(tmp_path / "one")])
    second = runner.invoke(main, [*args, "--out", str(tmp_path / "two")])
    assert first.exit_code == second.exit_code == 0
    files = sorted((tmp_path / "one").glob("*.xml"))
    assert [f.name for f in files] == [f"{n:04d}.xml" for n in range(1, 6)]
    for file in files:
        assert file.read_text() == (tmp_path / "two" / file.name).read_text()
    check = runner.invoke(main, ["bxml", "validate", "--context", "transferAnswer", *map(str, files)])
    assert check.exit_code == 0, check.output


def test_generate_invalid_names_each_break_and_validate_agrees(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "broken"
    result = runner.invoke(
        main, ["bxml", "generate", "--invalid", "-n", "6", "--seed", "5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.xml"))
    assert len(files) == 6
    for file in files:
        rule = file.stem.split("-", 1)[1]
        check = runner.invoke(main, ["bxml", "validate", "-q", str(file)])
        assert check.exit_code == 1
        assert f": {rule}: " in check.stdout, (file.name, check.stdout)


def test_generate_to_stdout_labels_documents() -> None:
    result = CliRunner().invoke(main, ["bxml", "generate", "--invalid", "--rule", "wrong-root", "-n", "2"])
    assert result.exit_code == 0
    assert result.stdout.count("breaks wrong-root -->") == 2


def test_generate_bad_usage_exits_2() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["bxml", "generate", "--rule", "wrong-root"]).exit_code == 2
    assert runner.invoke(main, ["bxml", "generate", "--verb", "Dance"]).exit_code == 2
    assert (
        runner.invoke(main, ["bxml", "generate", "--context", "conference", "--verb", "Gather"]).exit_code
        == 2
    )
    assert runner.invoke(main, ["bxml", "generate", "--invalid", "--rule", "nope"]).exit_code == 2
    assert runner.invoke(main, ["bxml", "generate", "--count", "0"]).exit_code == 2


WARNED = "<Response><Forward to='+15551230000' diversionReason='away'/></Response>\n"


def test_warnings_are_printed_but_do_not_fail_unless_strict(tmp_path: Path) -> None:
    warned = _write(tmp_path, "warned.xml", WARNED)
    result = CliRunner().invoke(main, ["bxml", "validate", warned])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{warned}:1: warning: diversion-reason-without-stack: ")
    assert "0 invalid, 0 error(s), 1 warning(s)" in result.stderr
    strict = CliRunner().invoke(main, ["bxml", "validate", "--strict", warned])
    assert strict.exit_code == 1
    assert "1 invalid" in strict.stderr


def test_a_crash_on_one_file_is_exit_2_and_the_others_get_their_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.commands import bxml as command

    real = command.iter_problems

    def flaky(document: bytes, context: str) -> Iterator[BxmlError]:
        if b"Crash" in document:
            raise RuntimeError("boom")
        return real(document, context)

    monkeypatch.setattr(command, "iter_problems", flaky)
    crash = _write(tmp_path, "crash.xml", "<Response><Crash/></Response>")
    bad = _write(tmp_path, "bad.xml", BAD)
    good = _write(tmp_path, "good.xml", GOOD)
    result = CliRunner().invoke(main, ["bxml", "validate", crash, bad, good])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{crash}: internal error of the validator: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.output
    assert f"{bad}:2: attribute-range" in result.stdout
    assert "2 document(s) checked" in result.stderr
    assert "1 not checked (internal error)" in result.stderr


def test_directories_and_missing_files_are_named_and_exit_2(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.xml", GOOD)
    result = CliRunner().invoke(main, ["bxml", "validate", str(tmp_path), str(tmp_path / "nope.xml"), good])
    assert result.exit_code == 2
    assert f"{tmp_path}: cannot read: " in result.stderr
    assert "nope.xml: cannot read: " in result.stderr
    assert "1 document(s) checked" in result.stderr
    assert "Traceback" not in result.output


def test_only_one_byte_past_the_limit_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.xml"
    huge.write_bytes(b"<Response>" + b" " * (10 * MAX_DOCUMENT_BYTES))
    result = CliRunner().invoke(main, ["bxml", "validate", "-q", str(huge)])
    assert result.exit_code == 1
    assert f"document is {MAX_DOCUMENT_BYTES + 1} bytes" in result.stdout
