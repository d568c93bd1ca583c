"""Pictures of attention weights: a failed check of weights carries the expected and the
learner's matrices, and the terminal, Jupyter and the HTML page draw them with the wrong
entries marked (grader/report/pictures.py, grader/report/html_report.py)."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from rich.console import Console

from grader import checks, cli
from grader.checks.criteria import AllOf, Close, Criterion, SumsToOne, Verdict, ZeroAboveDiagonal
from grader.integrations.notebook import to_html
from grader.judge.engine import Options, evaluate, grade
from grader.judge.variants import load_catalogue
from grader.protocol import Reply
from grader.report import console, gradescope_results, html_report
from grader.report.pictures import CAP, cell_text, grid, heatmap_html, take
from grader.report.results import FAILED, CheckResult, Picture, Report
from grader.rng import Rng

NAN, INF = float("nan"), float("inf")


def ok(**outputs) -> Reply:
    return Reply("ok", outputs)


def causal_weights(t: int) -> torch.Tensor:
    """Rows of equal weights on each token and its past: exactly 0 above the diagonal."""
    lower = torch.ones(t, t).tril()
    return lower / lower.sum(dim=-1, keepdim=True)


def plain(renderable, width: int = 120) -> str:
    stream = io.StringIO()
    Console(file=stream, width=width, color_system=None).print(renderable)
    return stream.getvalue()


def rows_of(text: str, first: str) -> list[str]:
    """The grid's lines from the one starting (after spaces) with `first`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(first))
    return lines[start:]


# -- from tensors to a picture -----------------------------------------------------------


def test_close_marks_exactly_the_entries_outside_its_tolerance():
    want = causal_weights(4)
    got = want.clone()
    got[0, 3] = 0.25  # a leak above the diagonal
    got[2, 1] += 5e-6  # inside atol: not marked
    sight = Close().sight("out", {}, ok(out=want), ok(out=got))
    picture = take("out", sight)
    assert picture.wrong == [[0, 3]]
    assert picture.expected == want.double().tolist() and picture.got[0][3] == 0.25
    assert picture.got_sums is not None  # the expected rows sum to 1: the sums are shown
    assert picture.sum_is_off(0) and not picture.sum_is_off(1)


def test_a_batch_shows_the_slice_of_its_first_wrong_entry_and_says_which():
    want = causal_weights(5).expand(2, 3, 5, 5).clone()
    got = want.clone()
    got[1, 2, 4, 0] = 0.9
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=got)))
    assert picture.where == "[1, 2]" and picture.shape == [2, 3, 5, 5]
    assert picture.wrong == [[4, 0]]
    assert "slice [1, 2]" in picture.caption() and "(2, 3, 5, 5)" in picture.caption()


def test_nan_and_infinities_are_kept_and_drawn():
    want = causal_weights(3)
    got = torch.tensor([[NAN, 0.0, 0.0], [INF, -INF, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=got)))
    assert math.isnan(picture.got[0][0]) and picture.got[1][:2] == [INF, -INF]
    assert sorted(picture.wrong) == [[0, 0], [1, 0], [1, 1]]
    assert picture.sum_is_off(0) and picture.sum_is_off(1) and not picture.sum_is_off(2)
    assert [cell_text(v) for v in (NAN, INF, -INF, 0.0, 1.0)] == ["nan", "inf", "-inf", "·", "1"]
    text = plain(grid(picture, Console(width=120)))
    assert "*nan" in text and "*inf" in text and "*-inf" in text
    page = heatmap_html(picture)
    assert "* nan" in page and "* -inf" in page and "= nan" in page  # tooltips too


def test_matching_nan_and_inf_are_not_marked():
    want = torch.tensor([[1.0, NAN], [INF, 0.5]])
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=want.clone())))
    assert picture.wrong == []


def test_a_large_matrix_keeps_its_top_left_corner():
    want = torch.full((20, 30), 0.5)
    got = want.clone()
    got[0, 0], got[15, 25] = 0.0, 0.0  # the second lies outside the corner
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=got)))
    assert len(picture.got) == CAP and all(len(row) == CAP for row in picture.got)
    assert len(picture.expected) == CAP and picture.size == [20, 30]
    assert picture.wrong == [[0, 0]] and picture.cropped
    assert f"top-left {CAP} x {CAP} corner" in picture.caption()
    stored = json.dumps(picture.__dict__)
    assert len(stored) < 4000  # a result stays small


def test_a_vector_of_weights_is_one_row():
    want = torch.tensor([0.1, 0.2, 0.7])
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=want.flip(0))))
    assert picture.size == [1, 3] and picture.where == ""
    assert picture.wrong == [[0, 0], [0, 2]]


def test_shapes_that_differ_show_both_first_slices_and_mark_nothing():
    want = causal_weights(4)
    got = causal_weights(4).expand(2, 4, 4)
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=got)))
    assert picture.wrong == [] and picture.expected is not None
    assert "the shapes differ: expected (4, 4), yours (2, 4, 4)" in picture.caption()


def test_checks_without_expected_values_mark_what_they_judge():
    got = torch.full((2, 3, 3), 1 / 3)  # no mask: weight above the diagonal
    judge = AllOf((SumsToOne(), ZeroAboveDiagonal()))
    picture = take("out", judge.sight("out", {}, None, ok(out=got)))
    assert picture.expected is None and picture.got_sums is not None
    assert sorted(picture.wrong) == [[0, 1], [0, 2], [1, 2]]
    assert "not 0 above the diagonal" in picture.caption()
    text = plain(grid(picture, Console(width=120)))
    assert "expected" not in text and "yours" in text


def test_the_dropout_check_draws_the_weights_it_reads_back_from_the_output():
    ex, check = _check("CausalAttention", "dropout")
    inputs = check.inputs(Rng(0))
    value = inputs["w:W_value.weight"]  # orthogonal: an output A @ value.T reads back as A
    weights = causal_weights(8).expand(32, 1, 8, 8)

    def output(a: torch.Tensor) -> torch.Tensor:
        return a[:, 0] @ value.T

    kept = weights / (1 - 0.3)
    draws = torch.rand(weights.shape, generator=torch.Generator().manual_seed(0))
    dropped = torch.where(draws < 0.3, torch.zeros_like(kept), kept)
    dropped[0, 0, 7, 1] = 0.5  # neither 0 nor weight / (1 - p)
    expected = ok(eval=output(weights))
    got = ok(out=output(dropped), eval=output(weights))
    picture = take("out", check.judge.sight("out", inputs, expected, got))
    assert picture.labels == ["expected before dropout", "yours, train mode"]
    assert picture.where == "[0, 0]" and picture.wrong == [[7, 1]]
    assert picture.expected[0][1:] == [0.0] * 7  # rounding noise above the diagonal made 0
    assert "read back from the output" in picture.caption()
    # While the weights differ in eval mode already, the picture is of eval mode.
    got = ok(out=output(dropped), eval=output(weights.flip(-1)))
    picture = take("out", check.judge.sight("out", inputs, expected, got))
    assert picture.labels == ["expected, eval mode", "yours, eval mode"]
    assert picture.got_sums is not None and picture.wrong


def test_every_check_that_declares_a_picture_has_a_criterion_that_draws_it():
    declared = [(ex, c) for ex in checks.EXERCISES for c in ex.checks if c.picture]
    names = {(ex.name, c.name) for ex, c in declared}
    assert {("masked_attention_weights", "properties"), ("causal_mask", "values")} <= names
    assert ("CausalAttention", "dropout") in names
    assert ("context_vectors", "values_random") not in names  # context vectors are no weights

    def draws(judge: Criterion) -> bool:
        if isinstance(judge, AllOf):
            return any(draws(j) for j in judge.judges)
        return type(judge).sight is not Criterion.sight

    assert [(ex.name, c.name) for ex, c in declared if not draws(c.judge)] == []


# -- the engine: failed, public checks only ----------------------------------------------


def _check(exercise: str, name: str):
    ex = checks.find(exercise)
    return ex, next(c for c in ex.checks if c.name == name)


def test_a_failed_check_carries_a_picture_and_a_hidden_one_never_does():
    ex, check = _check("masked_attention_weights", "batched")
    want = causal_weights(7).expand(2, 3, 7, 7).clone()
    wrong = torch.full((2, 3, 7, 7), 1 / 7)
    public = evaluate(ex, check, {}, ok(out=want), ok(out=wrong), hidden=False)
    hidden = evaluate(ex, check, {}, ok(out=want), ok(out=wrong), hidden=True)
    passed = evaluate(ex, check, {}, ok(out=want), ok(out=want.clone()), hidden=False)
    assert public.status == hidden.status == FAILED
    assert public.picture is not None and public.picture.expected is not None
    assert hidden.picture is None and passed.picture is None


def test_a_picture_stays_out_of_results_json_and_the_full_report():
    ex, check = _check("masked_attention_weights", "batched")
    want = causal_weights(7).expand(2, 3, 7, 7).clone()
    result = evaluate(ex, check, {}, ok(out=want), ok(out=torch.full_like(want, 1 / 7)), False)
    report = Report("sub", results=[result])
    assert result.picture is not None
    assert "picture" not in json.dumps(gradescope_results.results_json(report))
    assert report.to_dict()["results"][0]["picture"] is None


def test_a_criterion_that_cannot_draw_an_odd_output_leaves_the_picture_out():
    class Broken(Criterion):
        needs_expected = False

        def __call__(self, inputs, expected, got):
            return Verdict(False, "wrong")

        def sight(self, key, inputs, expected, got):
            raise RuntimeError("cannot draw this")

    ex, check = _check("masked_attention_weights", "properties")
    result = evaluate(ex, replace(check, judge=Broken()), {}, None, ok(out=torch.ones(3)), False)
    assert result.status == FAILED and result.picture is None


# -- drawing ------------------------------------------------------------------------------


def _picture() -> Picture:
    want = causal_weights(6)
    got = want.clone()
    got[1, 4], got[3, 5] = 0.125, NAN
    return take("out", Close().sight("out", {}, ok(out=want), ok(out=got)))


def test_the_terminal_grid_marks_the_wrong_cells_and_the_rows_that_do_not_sum_to_one():
    text = plain(grid(_picture(), Console(width=120)))
    assert "yours" in rows_of(text, "expected")[0]  # side by side at 120 columns
    row_1 = rows_of(text, "1 ")[0]
    assert row_1.count("*") == 2  # the wrong cell and the row's sum
    assert "*0.12" in row_1 and "*1.12" in row_1
    assert "*nan" in rows_of(text, "3 ")[0]
    assert "Σ" in text and "* marks entries outside the tolerance" in text


def test_the_terminal_grid_stacks_the_two_matrices_on_a_narrow_console():
    text = plain(grid(_picture(), Console(width=70)), width=70)
    lines = [line.strip() for line in text.splitlines()]
    assert lines.index("yours") > lines.index("expected") + 6
    assert max(len(line) for line in text.splitlines()) <= 70


def test_the_terminal_grid_is_coloured_with_rich_styles():
    stream = io.StringIO()
    coloured = Console(file=stream, width=120, color_system="truecolor", force_terminal=True)
    coloured.print(grid(_picture(), coloured))
    assert "\x1b[" in stream.getvalue() and "48;2;200;30;30" in stream.getvalue()  # red


def test_the_html_heatmap_escapes_its_text_and_frames_the_wrong_cells():
    picture = _picture()
    picture.labels = ["<script>alert(1)</script>", "yours"]
    page = heatmap_html(picture)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("box-shadow:inset") == len(picture.wrong) == 2
    assert "row 1 sums to" in page and "* 1.12" in page


def test_the_html_heatmap_of_a_large_matrix_draws_only_the_corner():
    want = torch.rand(40, 40)
    picture = take("out", Close().sight("out", {}, ok(out=want), ok(out=want + 1)))
    page = heatmap_html(picture)
    assert page.count("<tr>") == 2 * (CAP + 1)  # both matrices: a header and CAP rows
    assert page.count("<td") == 2 * CAP * CAP


def _report_with(picture: Picture, **more) -> Report:
    result = CheckResult(
        "masked_attention_weights", "batched", "a batch <of> scores", FAILED, 0, 2,
        section="3.5.1", tried="masked_attention_weights(...)", problem="21 of 36 values differ",
        picture=picture, **more,
    )  # fmt: skip
    return Report("<b>sub</b>", results=[result])


def test_the_console_report_draws_the_picture_under_its_check():
    stream = io.StringIO()
    console.render(_report_with(_picture()), Console(file=stream, width=120, color_system=None))
    text = stream.getvalue()
    assert text.index("21 of 36 values differ") < text.index("expected ") < text.index("Total")
    assert "*0.12" in text


def test_jupyter_shows_the_heatmap_with_the_failed_check():
    fragment = to_html(_report_with(_picture()))
    assert fragment.index("21 of 36 values differ") < fragment.index('class="attention-picture"')
    assert fragment.count("box-shadow:inset") == 2


def test_only_a_failed_check_is_drawn():
    # A forbidden call costs the points of values that may be right: no picture of them.
    report = _report_with(_picture())
    report.results[0].status = "forbidden call"
    assert "attention-picture" not in to_html(report)
    stream = io.StringIO()
    console.render(report, Console(file=stream, width=120, color_system=None))
    assert "*0.12" not in stream.getvalue()


def test_the_html_page_is_self_contained_and_escaped():
    page = html_report.page(_report_with(_picture()))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert " src=" not in page and "@import" not in page and "url(" not in page
    assert "&lt;b&gt;sub&lt;/b&gt;" in page and "a batch &lt;of&gt; scores" in page
    assert "attention-picture" in page


# -- a real mistake, graded ---------------------------------------------------------------


def _mistake(mistake_id: str) -> dict:
    """The edits of a catalogue entry, as the `submission` fixture takes them."""
    mistake = next(m for m in load_catalogue() if m.id == mistake_id)
    return {mistake.target or mistake.exercise: list(mistake.edits)}


@pytest.mark.slow
def test_a_graded_mask_leak_carries_both_matrices_and_the_console_shows_the_grid(submission):
    folder = submission(_mistake("masked_attention_weights.no_mask"))
    report = grade(folder, Options(only="masked_attention_weights", hidden=False, speed=False))
    by_name = {r.check: r for r in report.results}
    book = by_name["book"].picture
    assert book is not None and book.size == [6, 6] and book.where == ""
    assert book.expected[0][1:] == [0.0] * 5  # the reference hides the future
    assert all(v > 0 for v in book.got[0])  # the learner's does not
    assert [0, 1] in book.wrong and book.got_sums is not None
    leak = by_name["properties"].picture
    assert leak is not None and leak.expected is None and leak.where == "[0]"
    assert sorted(leak.wrong) == [[i, j] for i in range(7) for j in range(i + 1, 7)]
    assert by_name["grad"].picture is None  # gradients are no weights
    stream = io.StringIO()
    console.render(report, Console(file=stream, width=120, color_system=None))
    text = stream.getvalue()
    grid_rows = [line for line in text.splitlines() if line.strip().startswith("0 ")]
    assert any("*0.19" in line and "    1" in line for line in grid_rows)  # expected 1, got 0.19
    assert "* marks entries not 0 above the diagonal" in text


def _screenshot(page: Path, png: Path) -> None:
    profile = tempfile.mkdtemp()
    try:
        subprocess.run(
            [
                shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                f"--screenshot={png}", "--window-size=1200,1600", page.as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow
def test_the_html_page_renders_in_a_browser(submission, tmp_path, capsys):
    if shutil.which("chromium") is None:
        pytest.skip("needs chromium (apt-get install chromium)")
    folder = submission(_mistake("masked_attention_weights.softmax_wrong_dim"))
    page = tmp_path / "report.html"
    argv = [str(folder), "--only", "masked_attention_weights", "--no-hidden", "--no-speed"]
    assert cli.main([*argv, "--html", str(page), "-q"]) == cli.EXIT_FAILED
    assert f"wrote {page}" in capsys.readouterr().out
    text = page.read_text()
    assert text.count('class="attention-picture"') == 3  # book, batched, properties
    png = tmp_path / "report.png"
    _screenshot(page, png)
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(png) as image:
        assert image.size == (1200, 1600)
        colours = {rgb for _, rgb in image.convert("RGB").getcolors(maxcolors=1200 * 1600)}
    # The heatmaps were drawn: the red frames of the wrong entries, and the blue of the weights.
    assert any(r > 150 and g < 60 and b < 60 for r, g, b in colours)
    assert any(b > 150 and r < 80 for r, g, b in colours)
