"""The README's generated blocks and the one command that regenerates everything derived."""

from __future__ import annotations

import shutil

from grader import checks, readme, regenerate


def test_the_readme_blocks_are_up_to_date():
    assert readme.main(["--check"]) == 0


def test_drift_in_a_generated_block_is_caught_and_rewritten(tmp_path, capsys):
    copy = tmp_path / "README.md"
    shutil.copyfile(readme.README, copy)
    text = copy.read_text(encoding="utf-8")
    first = checks.EXERCISES[0].name
    copy.write_text(text.replace(f"| `{first}` |", "| `renamed` |", 1), encoding="utf-8")
    assert readme.main(["--check", "--readme", str(copy)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert readme.main(["--readme", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text


def test_the_table_has_a_row_per_exercise_and_the_totals_add_up():
    table = readme.exercise_table()
    for ex in checks.EXERCISES:
        assert table.count(f"| `{ex.name}` |") == 1, ex.name
    t = readme.totals()
    assert t["exercises"] == len(checks.EXERCISES)
    assert t["checks"] == sum(len(ex.checks) for ex in checks.EXERCISES)
    every_point = sum(c.points for ex in checks.EXERCISES for c in ex.checks)
    assert t["public"] + t["speed_cpu"] + t["speed_gpu"] == every_point
    assert f"{t['public']} public points" in readme.points_paragraph().replace("\n", " ")


def test_regenerate_runs_every_generator_and_fails_when_one_drifts(monkeypatch):
    calls = []

    def step(name, rc):
        def run(argv):
            calls.append((name, argv))
            return rc

        return run

    steps = [("a", step("a", 0)), ("b", step("b", 1)), ("c", step("c", 0))]
    monkeypatch.setattr(regenerate, "STEPS", steps)
    assert regenerate.main(["--check"]) == 1
    assert calls == [("a", ["--check"]), ("b", ["--check"]), ("c", ["--check"])]


def test_regenerate_covers_the_stubs_fixtures_notebook_and_readme():
    names = [name for name, _ in regenerate.STEPS]
    assert names == ["stubs", "fixtures", "notebook", "README"]
