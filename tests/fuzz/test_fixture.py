"""The plugin's ``bw_fuzz_app`` fixture: an app's own test suite fuzzes it in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

APP = Path(__file__).resolve().parents[2] / "examples" / "ivr" / "app.py"

TESTS = f"""
import importlib.util
from xml.sax.saxutils import escape

spec = importlib.util.spec_from_file_location("ivr_app_under_test", {str(APP)!r})
ivr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ivr)


class Careless(ivr.IvrHandlers):
    def redirect(self, payload):
        return ivr.bxml("<SpeakSentence>" + str(payload.get("tag", "")) + " again</SpeakSentence>")


def test_clean(bw_fuzz_app):
    report = bw_fuzz_app.assert_clean(ivr.create_app(), events=["redirect", "dtmf"], seed=1, sequences=False)
    assert report.ok
    assert report.stats["redirect"].sent == 6


def test_careless(bw_fuzz_app):
    bw_fuzz_app.assert_clean(
        ivr.create_app(Careless()), events=["redirect"], max_examples=60, seed=3, sequences=False
    )
"""


def test_assert_clean_passes_a_clean_app_and_fails_with_the_findings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--bw-max-examples", "6")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*redirect: invalid_bxml*", "*reproduce: curl *", "*--seed 3*"])
