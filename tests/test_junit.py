"""JUnit XML: one suite per exercise, one case per check, feedback as the failure text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader import paths
from grader.cli import main
from grader.report import junit
from grader.report.results import FAILED, NOTE, PASSED, SKIPPED, TIMEOUT, CheckResult, Report


def _report() -> Report:
    nasty = 'got <tensor> & "quotes" \x1b[31mred\x1b[0m \x00 end'
    return Report(
        submission="sub",
        seconds=1.5,
        results=[
            CheckResult("softmax_stable", "shape", "shape and dtype", PASSED, 1, 1, seconds=0.25),
            CheckResult(
                "softmax_stable",
                "values",
                "values on random inputs",
                FAILED,
                0,
                2,
                hidden=True,
                tried="softmax_stable(x)",
                problem=nasty + "\nsecond line",
                hint="subtract the max",
                look="§3.3.1",
                printed="debug \x07 bell\n",
            ),
            CheckResult(
                "softmax_stable", "book", "the book's weights", NOTE, 0, 0, problem="differs"
            ),
            CheckResult(
                "MultiHeadAttention", "speed_cuda", "speed on a GPU", SKIPPED, 0, 0, note="no CUDA"
            ),
            CheckResult(
                "MultiHeadAttention", "values", "values", TIMEOUT, 0, 3, problem="took > 20 s"
            ),
        ],
    )


def test_suites_cases_failures_and_skips(tmp_path):
    out = tmp_path / "junit.xml"
    junit.write(_report(), out)
    root = ET.parse(out).getroot()  # parses: the control characters were escaped
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "2", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["softmax_stable", "MultiHeadAttention"]
    softmax = suites["softmax_stable"]
    assert (softmax.get("tests"), softmax.get("failures")) == ("3", "1")
    cases = softmax.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "shape and dtype",
        "values on random inputs (hidden)",
        "the book's weights",
    ]
    assert cases[0].get("classname") == "simple_attention.softmax_stable"
    assert cases[0].find("failure") is None and cases[0].get("time") == "0.250"
    failure = cases[1].find("failure")
    assert failure.get("type") == FAILED
    assert failure.text.startswith("tried:    softmax_stable(x)")
    assert 'got <tensor> & "quotes" \\x1b[31mred\\x1b[0m \\x00 end' in failure.text
    assert "second line" in failure.text and "hint:     subtract the max" in failure.text
    assert "debug \\x07 bell" in failure.text
    props = {p.get("name"): p.get("value") for p in cases[1].iter("property")}
    assert props == {"check": "values", "points": "0", "max_points": "2", "status": FAILED}
    # a zero-point note never fails; it says why in system-out
    assert cases[2].find("failure") is None and cases[2].find("system-out").text == "differs"
    mha = suites["MultiHeadAttention"].findall("testcase")
    assert mha[0].find("skipped").get("message") == "no CUDA"
    assert mha[1].find("failure").get("type") == TIMEOUT


def test_cli_writes_junit_next_to_json(tmp_path, capsys):
    xml, results = tmp_path / "out" / "junit.xml", tmp_path / "results.json"
    args = [str(paths.SOLUTIONS), "-q", "--only", "softmax_naive", "--no-hidden"]
    assert main([*args, "--junit", str(xml), "--json", str(results)]) == 0
    assert "junit.xml" in capsys.readouterr().out.replace("\n", "")
    root = ET.parse(xml).getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "softmax_naive" and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == int(root.get("tests")) >= 3
    assert results.is_file()
