"""The trusted judge cannot be crashed by anything a submission controls.

Four classes of attack, each once at the depth where it is stopped: worker replies that are
malformed data (checked at the wire: the check fails as "protocol", the judge goes on);
files the judge itself parses (notebooks, modules, folders, zips: bounded, and refused with
a clear message before they are read); learner text on its way to a terminal, Markdown or
CSV (sanitised: no escape sequence, no unencodable character); and submission names in a
batch (each gets a safe folder of its own). Whatever the submission, a results.json is
written, and a batch keeps every other grade and the class summary.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import queue
import re
import socket
import stat
import struct
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import copy_solutions
from hostile import assert_nothing_left, at_import, in_softmax_naive, marker
from rich.console import Console
from safetensors.torch import save as save_tensors

from grader import paths
from grader.batch import folder_name
from grader.batch import main as batch_main
from grader.checks.speed import Speed
from grader.cli import main
from grader.errors import SubmissionError
from grader.judge import rules, speed_race
from grader.judge.submission import open_submission
from grader.judge.submission_limits import MAX_MODULE_BYTES
from grader.protocol import Reply
from grader.report import console, gradescope_results
from grader.report.results import FAILED, CheckResult, Report
from grader.worker import probes, wire
from grader.worker.launch import Worker

FAST = ["-q", "--no-hidden", "--isolation", "subprocess"]


def results_json(path: Path) -> dict:
    assert path.is_file(), "no results.json was written"
    return json.loads(path.read_text())


def within(seconds: float, fn, *args):
    """fn(*args), which must return (or raise) within `seconds`: a hang fails the test."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- 1. a worker's reply is untrusted data -----------------------------------------------


def reply_to(header: dict, tensors: dict | None = None):
    """What the judge makes of one frame a worker sent in answer to request 1."""
    worker = Worker(Path("."))
    worker._output = SimpleNamespace(mark=lambda: 0, since=lambda mark: "", settle=lambda: None)
    worker._frames.put((header, tensors or {}))
    return worker._wait(5, expect_id=1, mark=0)


def nested(depth: int):
    return [] if depth == 0 else [nested(depth - 1)]


BAD_FRAMES = [{"file": "a.py", "line": 1, "function": "f", "code": {"x": 1}}]
MALFORMED = {
    "info is a list": {"info": [1, 2]},
    "describe is not an object": {"info": {"describe": 5}},
    "a parameter's shape is a number": {"info": {"describe": {"params": {"W_query.weight": 3}}}},
    "buffers are a list": {"info": {"describe": {"buffers": ["mask"]}}},
    "a mask shape of text": {"info": {"describe": {"buffers": {"mask": {"shape": "6x6"}}}}},
    "calls that cannot be hashed": {"info": {"calls": [{"torch.softmax": 1}]}},
    "reps as text": {"info": {"reps": "many"}},
    "a boolean for an integer": {"info": {"describe": {"num_params": True}}},
    "error is text": {"status": "error", "error": "boom"},
    "error frames are numbers": {"status": "error", "error": {"type": "E", "frames": [5, "x"]}},
    "a frame field is an object": {"status": "error", "error": {"frames": BAD_FRAMES}},
    "message is a number": {"status": "error", "error": {"type": "E", "message": 5}},
    "an unknown status": {"status": "passed"},
    "an id of text": {"id": "1"},
    "another request's id": {"id": 2},
    "info nested too deeply": {"info": {"anything": nested(wire.MAX_DEPTH + 5)}},
    "a string too long": {"info": {"device": "x" * (wire.MAX_STRING + 1)}},
    "a list too long": {"info": {"calls": ["torch.exp"] * (wire.MAX_ITEMS + 1)}},
}


@pytest.mark.parametrize("attack", MALFORMED)
def test_a_malformed_reply_fails_its_check_as_protocol(attack):
    reply = reply_to({"id": 1, "status": "ok", "info": {}, **MALFORMED[attack]})
    assert reply.status == "protocol"
    assert reply.error["message"].startswith("the worker sent a malformed reply: ")
    assert reply.info == {} and reply.outputs == {}


def test_a_well_formed_reply_passes_the_wire_unchanged():
    describe = probes.describe(torch.nn.Linear(3, 2))
    info = {"describe": describe, "calls": ["torch.exp"], "no_grad": ["W_query.weight"]}
    error = {"type": "ValueError", "message": "m", "frames": [{"file": "a.py", "line": None}]}
    reply = reply_to({"id": 1, "status": "ok", "info": info}, {"out": torch.ones(2)})
    assert (
        reply.status == "ok"
        and reply.info == info
        and torch.equal(reply.outputs["out"], torch.ones(2))
    )
    reply = reply_to({"id": 1, "status": "error", "info": {}, "error": error})
    assert reply.status == "error" and reply.error == error


@pytest.mark.parametrize(
    "outputs, info",
    [({}, {"reps": 5}), ({"out": torch.ones(3)}, {}), ({"out": torch.ones(3)}, {"reps": 0})],
    ids=["no output", "no repetitions", "zero repetitions"],
)
def test_a_speed_reply_that_fits_the_wire_but_not_the_probe_is_not_timed(outputs, info):
    answer = SimpleNamespace(call=lambda module, probe, inputs: Reply("ok", outputs, info))
    truth = SimpleNamespace(call=lambda *a: Reply("ok", {"out": torch.ones(3)}, {"reps": 5}))
    got, verdict = speed_race.run(Speed("cpu", 2.0), {}, {}, "simple_attention", answer, truth)
    assert not verdict.passed and verdict.message.startswith("not timed")


def frame(head: bytes, body: bytes = b"") -> io.BytesIO:
    return io.BytesIO(struct.pack("<II", len(head), len(body)) + head + body)


OK_HEAD = b'{"id": 1, "status": "ok"}'
BAD_WIRE = {
    # json's decoder hits its recursion limit: that used to kill the judge's reader thread,
    # and the check ended as a misleading timeout
    "a header nested 400,000 deep": b'{"info": ' + b"[" * 400_000 + b"]" * 400_000 + b"}",
    "an empty tensor claiming 2**40 elements": save_tensors({"out": torch.empty(0, 2**20, 2**20)}),
    "a tensor of 9 dims": save_tensors({"out": torch.zeros([1] * 9)}),
    "a safetensors index of 1 TiB": struct.pack("<Q", 1 << 40) + b"{}",
    "too many tensors": save_tensors(
        {f"t{i}": torch.zeros(1) for i in range(wire.MAX_TENSORS + 1)}
    ),
}


@pytest.mark.parametrize("attack", BAD_WIRE)
def test_a_malformed_frame_is_answered_by_the_reader_thread(attack):
    data = BAD_WIRE[attack]
    stream = frame(data) if data.startswith(b"{") else frame(OK_HEAD, data)
    frames: queue.Queue = queue.Queue()
    within(10, Worker._read_frames, stream, frames)
    assert isinstance(frames.get_nowait(), wire.WireError)


WIRE_FORGERY = """import struct as _struct
import grader.worker.wire as _wire
_write = _wire.write_frame
def _forged(stream, header, tensors=None):
    if "describe" in header.get("info", {}):  # the structure checks' replies
        FORGE
    return _write(stream, header, tensors)
_wire.write_frame = _forged
"""
NESTED_REPLY = """head = b'{"id": %d, "status": "ok", "info": ' % header["id"]
        head += b"[" * 400000 + b"]" * 400000 + b"}"
        stream.write(_struct.pack("<II", len(head), 0) + head)
        stream.flush()
        return"""
FORGERIES = {
    "describe is not an object": 'header["info"]["describe"] = 5',
    "error frames of the wrong type": (
        'header.update(status="error", error={"type": "E", "message": "m", "frames": [5, "x"]})'
    ),
    "a header nested too deeply": NESTED_REPLY,
}


@pytest.mark.slow
@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_worker_forging_its_replies_fails_those_checks_and_nothing_else(
    submission, tmp_path, capsys, forgery
):
    code = WIRE_FORGERY.replace("FORGE", FORGERIES[forgery])
    edits = {"self_attention": at_import(code, "")["simple_attention"]}
    out = tmp_path / "results.json"
    start = time.monotonic()
    argv = [str(submission(edits)), "--only", "SelfAttention_v2", "--json", str(out), *FAST]
    assert main(argv) == 1
    assert time.monotonic() - start < 40
    results = results_json(out)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all("malformed reply" in t["output"] for t in failed), failed
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) - len(failed)
    assert "no answer within" not in capsys.readouterr().out  # not a timeout
    assert_nothing_left(marker())


ZERO_DIM = {
    "mask_and_renormalize returns a 0-dim tensor": (
        "mask_and_renormalize",
        "    return masked_simple / masked_simple.sum(dim=-1, keepdim=True)",
        "    return torch.tensor(1.0)",
    ),
    "mask_and_renormalize returns one row": (
        "mask_and_renormalize",
        "    return masked_simple / masked_simple.sum(dim=-1, keepdim=True)",
        "    return torch.ones(1)",
    ),
    "mask_and_renormalize returns non-square weights": (
        "mask_and_renormalize",
        "    return masked_simple / masked_simple.sum(dim=-1, keepdim=True)",
        "    return torch.full((3, 4), 0.25)",
    ),
    "CausalAttention returns a 0-dim tensor": (
        "CausalAttention",
        "        return context_vec",
        "        return torch.tensor(1.0)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("answer", ZERO_DIM)
def test_an_honest_answer_of_the_wrong_shape_fails_with_a_message(submission, tmp_path, answer):
    exercise, old, new = ZERO_DIM[answer]
    sub = submission({"causal_attention": [(old, new)]})
    out = tmp_path / "results.json"
    assert main([str(sub), "--only", exercise, "--json", str(out), *FAST]) == 1
    results = results_json(out)
    assert results["score"] < sum(t["max_score"] for t in results["tests"])
    outputs = " ".join(t["output"] for t in results["tests"] if t["status"] == "failed")
    assert "shape" in outputs and "Traceback" not in outputs


# -- 2. what the judge parses is bounded, and refused clearly ------------------------------


def report_with(text: str) -> Report:
    failed = CheckResult(
        "softmax_naive", "dim", "respects dim", FAILED, 0, 1, section="3.3.1",
        problem=f"raised ValueError: {text}", printed=f"{text}\n", tried="softmax_naive(x)",
    )  # fmt: skip
    return Report(f"sub-{text}", results=[failed], notes=[text])


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_unencodable_text_never_stops_the_console(encoding):
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    console.render(report_with("\udcff \U0001f600 \x1b[2K"), Console(file=stream, width=100))
    stream.flush()
    shown = stream.buffer.getvalue().decode(encoding)
    assert "Total: 0/1 points" in shown and "\x1b" not in shown


NOTEBOOKS = {
    "JSON nested 100,000 deep": '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "a code cell whose source holds an int": json.dumps(
        {"cells": [{"cell_type": "code", "source": ["import torch\n", 5]}]}
    ),
    "a code cell whose source is an object": json.dumps(
        {"cells": [{"cell_type": "code", "source": {"a": 1}}]}
    ),
    "not JSON": "{",
    "a lone surrogate in code": json.dumps(
        {"cells": [{"cell_type": "code", "source": "x = '\udcff'"}]}
    ),
    "more code than a module may hold": json.dumps(
        {"cells": [{"cell_type": "code", "source": "x = 1\n" * (MAX_MODULE_BYTES // 6 + 1)}]}
    ),
}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_broken_notebook_is_refused_with_a_results_json(tmp_path, capsys, notebook):
    path = tmp_path / "attention.ipynb"
    path.write_text(NOTEBOOKS[notebook])
    out = tmp_path / "results.json"
    assert main([str(path), "--json", str(out), *FAST]) == 2
    assert capsys.readouterr().err.startswith("attention-grade: ")  # a message, no traceback
    assert results_json(out)["score"] == 0


DEEP = {
    "a sum 3,000 terms long (RecursionError)": "x = " + "1 + " * 3000 + "1\n",
    "100,000 unary minuses (MemoryError)": "x = " + "-" * 100_000 + "1\n",
    "a sum 600 terms long (parses, deeper than MAX_NESTING)": "x = " + "1 + " * 600 + "1\n",
}


@pytest.mark.parametrize("code", DEEP)
def test_a_module_too_deep_to_parse_is_refused_clearly(submission, tmp_path, capsys, code):
    assert rules.static_uses(DEEP[code], "softmax_naive", ("torch.softmax",)) == []  # no crash
    sub = submission({"simple_attention": [("import torch\n", "import torch\n" + DEEP[code])]})
    one_file = tmp_path / "attention.py"
    one_file.write_text((paths.SOLUTIONS / "simple_attention.py").read_text() + DEEP[code])
    for path in (sub, one_file):
        out = tmp_path / f"{path.name}.json"
        assert main([str(path), "--json", str(out), *FAST]) == 2
        assert "levels deep" in capsys.readouterr().err
        assert results_json(out)["score"] == 0


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The judge's temporary folders go here, where the test can see what is left."""
    folder = tmp_path / "judge-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def refused(path: Path) -> str:
    """open_submission's refusal of `path`, which must come within seconds."""
    with pytest.raises(SubmissionError) as refusal:
        within(20, open_submission, path)
    return str(refusal.value)


def test_sizes_are_checked_before_anything_is_read_or_parsed(submission, private_tmp, monkeypatch):
    parsed = []
    real_parse = ast.parse
    monkeypatch.setattr(
        ast,
        "parse",
        lambda source, *a, **k: parsed.append(len(source)) or real_parse(source, *a, **k),
    )
    big = submission(files={"simple_attention.py": "#" * (20 << 20) + "\n"})
    assert "at most 1,048,576 bytes" in refused(big)
    huge = submission()
    with (huge / "data.bin").open("wb") as f:
        f.truncate(3 << 30)  # 3 GB, sparse: copying it would take minutes and the disk
    start = time.monotonic()
    assert "too large to be a submission" in refused(huge)
    assert time.monotonic() - start < 5
    one_file = big.parent / "attention.py"
    one_file.write_text("#" * (20 << 20) + "\n")
    assert "more than a submission may" in refused(one_file)
    assert all(size <= MAX_MODULE_BYTES for size in parsed)
    assert list(private_tmp.iterdir()) == []  # no copy left behind


def test_special_files_are_refused_never_opened(submission, tmp_path, private_tmp):
    fifo = submission()
    os.mkfifo(fifo / "pipe")  # copying it used to block forever on open()
    assert "pipe in" in refused(fifo) and "a FIFO" in refused(fifo)
    sock = submission()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(sock / "s"))
        assert "a socket" in refused(sock)
    finally:
        server.close()
    archive = tmp_path / "fifo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for module in paths.MODULES:
            zf.write(paths.SOLUTIONS / f"{module}.py", f"hw/{module}.py")
        member = zipfile.ZipInfo("hw/pipe")
        member.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(member, b"")
    assert "a FIFO" in refused(archive)
    out = tmp_path / "results.json"
    assert main([str(fifo), "--json", str(out), *FAST]) == 2
    assert results_json(out)["score"] == 0
    assert list(private_tmp.iterdir()) == []


# -- 3. learner text is sanitised before a terminal, Markdown or CSV -----------------------

FAKE_TOTAL = "\x1b[1A\x1b[2K\rTotal: 147/147 points  ·  18 of 18 exercises complete"
UNENCODABLE = "\udcff" + FAKE_TOTAL  # a lone surrogate: no UTF-8 stream can write it
SPOOF = f"""    print({FAKE_TOTAL!r})
    raise ValueError({UNENCODABLE!r})
"""


def test_escape_sequences_cannot_fake_the_total(submission, tmp_path, capsys):
    sub = submission(in_softmax_naive(SPOOF, ""))
    out = tmp_path / "results.json"
    assert main([str(sub), "--only", "softmax_naive", "--json", str(out), *FAST]) == 1
    shown = capsys.readouterr().out
    assert "147/147" in shown  # the learner's text is shown, quoted...
    assert not any(c in shown for c in "\x1b\r\udcff")  # ...but cannot move the cursor
    totals = [line for line in shown.splitlines() if line.startswith("Total:")]
    assert len(totals) == 1 and totals[0].startswith("Total: 0/")
    assert results_json(out)["score"] == 0
    # results.json is strict JSON: no lone surrogate escape that strict parsers refuse
    assert not re.search(r"(?<!\\)\\ud[89a-f]", out.read_text(encoding="utf-8"), re.I)


# -- 4. a batch: no submission name breaks the class ---------------------------------------


def zipped(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for module in paths.MODULES:
            zf.write(folder / f"{module}.py", f"{module}.py")


def test_folder_names_are_safe_unique_and_never_an_output():
    ids = [
        "alice", "b" * 250, "grades.csv", "Summary.JSON", "summary.md", "x-0123456789ab",
        "x", "\x1b[2Kmallory", "../up", ".hidden", "名前", "\udcff", "", "a b", "a_b",
    ]  # fmt: skip
    names = [folder_name(i) for i in ids]
    assert folder_name("alice") == "alice"  # plain ids keep their name
    assert len(set(names)) == len(ids)
    for name in names:
        assert 0 < len(name) <= 80 and not name.startswith(".")
        assert name.casefold() not in ("grades.csv", "summary.md", "summary.json")
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


@pytest.mark.slow
def test_no_submission_name_breaks_a_class(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    copy_solutions(folder / "alice")
    long_id = "b" * 250  # its folder, and `.<id>.started`, were too long for the file system
    copy_solutions(folder / long_id)
    zipped(paths.SOLUTIONS, folder / "grades.csv.zip")  # was a folder named grades.csv
    zipped(paths.SOLUTIONS, folder / "summary.json.zip")  # broke the summary and the resume
    spoof = "\x1b[1A\x1b[2Kmallory"
    (folder / f"{spoof}.zip").write_bytes(b"not a zip")  # unreadable, with an escape in its name
    out = tmp_path / "out"
    argv = [str(folder), "--out", str(out), "--jobs", "2", "--only", "softmax_naive"]
    argv += ["--timeout", "5", *FAST]
    assert batch_main(argv) == 0
    with (out / "grades.csv").open(encoding="utf-8") as f:
        grades = {row["id"]: row for row in csv.DictReader(f)}
    graded = ["alice", long_id, "grades.csv", "summary.json"]
    assert sorted(grades) == sorted([*graded, "mallory"])
    for sid in graded:
        assert grades[sid]["total"] == "4" and not grades[sid]["error"], grades[sid]
        results = results_json(out / folder_name(sid) / "results.json")
        assert results["score"] == 4
    assert "unreadable" in grades["mallory"]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == 5 and summary["graded"] == 4
    for output in ("grades.csv", "summary.md", "summary.json"):
        text = (out / output).read_bytes()
        assert b"\x1b" not in text and b"\r" not in text.replace(b"\r\n", b"\n")
    assert not list(out.glob(".*.started"))
    capsys.readouterr()
    assert batch_main(argv) == 0  # a re-run resumes: reads summary.json and every folder
    assert "5 submissions: 5 already graded, 0 to grade" in capsys.readouterr().err
    assert_nothing_left(marker())


def test_results_json_never_escapes_a_lone_surrogate(tmp_path):
    path = tmp_path / "results.json"
    gradescope_results.write({"score": 0, "output": "bad \udcff", "tests": []}, path)
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<!\\)\\ud[89a-f]", text, re.I)
    assert json.loads(text)["output"] == "bad \ufffd"
