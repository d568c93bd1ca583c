"""The report as JUnit XML, for CI dashboards (GitLab, Jenkins, GitHub test reporters).

    attention-grade PATH --junit results.xml

One <testsuite> per exercise and one <testcase> per check, in grading order. A check that
failed carries a <failure> whose text is the same feedback the console prints (its `type` is
the kit's status: failed, timeout, not attempted, ...); a skipped check (no GPU here, no
reference) is <skipped>; a zero-point note that did not hold is a passing testcase whose
<system-out> says why, because notes never cost points. Points ride along as properties.

Learner-made text (messages, what their code printed) can hold characters XML 1.0 cannot
carry at all, such as ANSI escapes; those are written as visible `\\xNN` escapes. Everything
else is escaped by xml.etree.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader import checks
from grader.report.results import SKIPPED, CheckResult, Report

# Characters XML 1.0 forbids even as references: C0 controls except tab, newline and carriage
# return, lone surrogates and the two non-characters U+FFFE, U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """`text` with every character XML 1.0 cannot represent written as an escape."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _testcase(result: CheckResult, module: str) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=f"{module}.{result.exercise}" if module else result.exercise,
        name=clean(result.title + (" (hidden)" if result.hidden else "")),
        time=_seconds(result.seconds),
    )
    properties = ET.SubElement(case, "properties")
    for name, value in (
        ("check", result.check),
        ("points", f"{result.points:g}"),
        ("max_points", str(result.max_points)),
        ("status", result.status),
    ):
        ET.SubElement(properties, "property", name=name, value=clean(value))
    if result.status == SKIPPED:
        ET.SubElement(case, "skipped", message=clean(result.note))
    elif not result.passed:
        failure = ET.SubElement(
            case, "failure", message=clean(result.summary or result.status), type=result.status
        )
        failure.text = clean(result.feedback)
    elif result.note or result.problem:
        # A passing check with a note, or a zero-point note that did not hold.
        out = ET.SubElement(case, "system-out")
        out.text = clean("\n".join(filter(None, [result.note, result.problem])))
    return case


def junit_xml(report: Report) -> ET.ElementTree:
    """The report as an ElementTree rooted at <testsuites>."""
    modules = {ex.name: ex.module for ex in checks.EXERCISES}
    root = ET.Element(
        "testsuites",
        name="attention-grade",
        time=_seconds(report.seconds),
    )
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for summary in report.exercises():
        results = [r for r in report.results if r.exercise == summary.name]
        failures = sum(1 for r in results if not r.passed)
        skipped = sum(1 for r in results if r.status == SKIPPED)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=summary.name,
            tests=str(len(results)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=_seconds(sum(r.seconds for r in results)),
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("section", summary.section),
            ("points", f"{summary.points:g}"),
            ("max_points", str(summary.max_points)),
            ("status", summary.status),
        ):
            ET.SubElement(properties, "property", name=name, value=clean(value))
        for r in results:
            suite.append(_testcase(r, modules.get(r.exercise, "")))
        totals["tests"] += len(results)
        totals["failures"] += failures
        totals["skipped"] += skipped
    for name, value in totals.items():
        root.set(name, str(value))
    root.set("errors", "0")
    return ET.ElementTree(root)


def write(report: Report, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_xml(report)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
