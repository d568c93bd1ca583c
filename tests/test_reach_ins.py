"""Code that reaches into the grader's worker (grader/judge/reach_ins.py): found in the source,
and the checks that rest on what the worker reports about the module are then not credited."""

from __future__ import annotations

import ast

import pytest

from grader import checks, paths, readme
from grader.checks.criteria import self_reported
from grader.judge import reach_ins
from grader.judge.engine import Grading, Options, grade
from grader.report.results import FAILED, PASSED

ROUTES = {
    "import grader.worker.probes": "imports grader.worker.probes",
    "import gc\ngc.get_referrers(object)": "imports gc",
    "import ctypes": "imports ctypes",
    "from importlib import import_module": "imports importlib",
    "import sys\nsys.modules['x']": "uses sys.modules",
    "import sys as s\ns._getframe(1)": "uses s._getframe",
    "from sys import modules": "imports sys.modules",
    "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame": "uses .tb_frame",
    "f = lambda: 0\nf.__globals__": "uses .__globals__",
    "object.__subclasses__()": "uses .__subclasses__",
    "exec('x = 1')": "uses exec",
    "__import__('sys')": "uses __import__",
    "globals()['x'] = 1": "uses globals",
    "import os\nos.write(1, b'{}')": "uses os.write",
    "open('/proc/self/mem')": "names '/proc/self/mem'",
    "x = 'grader.worker.timing'": "names 'grader.worker.timing'",
    "import torch\ntorch.cuda.synchronize = lambda *a: None": "replaces torch.cuda.synchronize",
    "from torch import nn\nnn.Module.named_parameters = print": "replaces nn.Module.named_parameters",
    "import torch\nsetattr(torch.nn.Module, 'cuda', print)": "replaces an attribute of torch.nn.Module",
}


@pytest.mark.parametrize("code", sorted(ROUTES))
def test_each_way_into_the_worker_is_found(code):
    found = reach_ins.find(ast.parse(code), "m.py")
    assert any(ROUTES[code] in r.what for r in found), found


@pytest.mark.parametrize(
    "code",
    [
        "import torch\ntorch.backends.cudnn.benchmark = True",  # a setting, not a function
        "import torch\ntorch.manual_seed(123)",
        "import math, torch\nfrom torch import nn\nx = getattr(nn, 'Linear')",
        "class A:\n    def f(self):\n        self.modules = 1\n        return self.modules",
        "import torch\nx = torch.zeros(2)\nx.data = x + 1",
    ],
)
def test_ordinary_code_is_not_flagged(code):
    assert reach_ins.find(ast.parse(code), "m.py") == []


def test_no_correct_style_or_stub_is_flagged():
    folders = [
        paths.SOLUTIONS,
        paths.EXERCISES,
        *sorted((paths.KIT_ROOT / "tests/submissions").iterdir()),
    ]
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            assert reach_ins.find(ast.parse(path.read_text()), path.name) == [], path


# A mask that is a plain attribute stays on the CPU under .to(device): the device check fails.
PLAIN_MASK = (
    "        self.register_buffer(\n"
    '            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)\n'
    "        )\n",
    "        self.mask = torch.triu(torch.ones(context_length, context_length), diagonal=1)\n",
)
# ... and the harness rewritten so that the device check is told what it expects to hear
FORGE = """import sys as _sys

_probes = _sys.modules["grader.worker.probes"]
_honest = _probes.PROBES["module"]


def _forged(spec, inputs, lookup):
    if not spec.get("device"):
        return _honest(spec, inputs, lookup)
    outputs, _ = _honest({k: v for k, v in spec.items() if k != "device"}, inputs, lookup)
    shapes = [list(outputs[k].shape) for k in sorted(outputs) if k.startswith("out")]
    return {}, {"device_out": [{"shape": s, "device": spec["device"]} for s in shapes]}


_probes.PROBES["module"] = _forged
"""


def device_check(folder, monkeypatch=None):
    options = Options(only="CausalAttention", hidden=False, speed=False)
    with Grading(folder, options) as grading:
        if monkeypatch is not None:  # the gate switched off: what the forgery would earn
            monkeypatch.setattr(type(grading), "reached", property(lambda self: []))
        steps = [s for s in grading.steps if s.check.name in ("values_random", "grads", "device")]
        return {s.check.name: grading.run(s) for s in steps}


@pytest.mark.slow
def test_a_forged_device_report_is_not_credited(submission, monkeypatch):
    honest = submission({"causal_attention": [PLAIN_MASK]})
    assert device_check(honest)["device"].status != PASSED  # the mistake the check is for
    forged = submission(
        {"causal_attention": [PLAIN_MASK, ("import torch\n", "import torch\n" + FORGE)]}
    )
    ungated = device_check(forged, monkeypatch)["device"]
    monkeypatch.undo()
    assert ungated.status == PASSED  # the forgery works on the worker's report...
    results = device_check(forged)
    assert results["device"].status == FAILED and results["device"].points == 0
    assert "not credited" in results["device"].problem
    assert "causal_attention.py:" in results["device"].problem
    assert results["values_random"].status == results["grads"].status == PASSED  # values count


@pytest.mark.slow
def test_the_report_names_the_reach_ins(submission):
    sub = submission({"simple_attention": [("import torch\n", "import torch\nimport gc\n")]})
    report = grade(sub, Options(only="attention_scores", hidden=False, speed=False))
    assert any("reaches into the grader's worker (simple_attention.py:" in n for n in report.notes)
    assert report.score == report.max_score  # attention_scores has no self-reported check


def test_the_readme_counts_the_self_reported_points():
    points = sum(c.points for ex in checks.EXERCISES for c in ex.checks if self_reported(c.judge))
    text = (paths.KIT_ROOT / "README.md").read_text()
    assert f"{points} points of the {readme.totals()['instructor']}" in text
