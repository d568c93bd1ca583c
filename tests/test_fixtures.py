"""The committed fixtures are what the reference solutions produce, and stale ones are caught."""

from __future__ import annotations

import pytest
import torch

from grader import checks, fixtures, paths
from grader.errors import KitError
from grader.judge import reference
from grader.judge.expected import FromFixtures, FromReference
from grader.rng import Rng, stable_seed


@pytest.mark.slow
def test_committed_fixtures_match_the_solutions():
    fresh = fixtures.compute_fixtures(reference.load())
    problems = []
    for name, built in fresh.items():
        problems += fixtures.compare(
            name, built, fixtures.read(paths.FIXTURES / f"{name}.safetensors")
        )
    assert problems == [], "regenerate with `python -m grader.fixtures`:\n" + "\n".join(problems)
    assert {p.stem for p in paths.FIXTURES.glob("*.safetensors")} == {
        e.name for e in checks.EXERCISES
    }


def test_fixtures_give_the_reference_outputs():
    ex = checks.find("MultiHeadAttention")
    check = next(c for c in ex.checks if c.name == "values_random")
    inputs = check.inputs(Rng(stable_seed(ex.name, check.name)))
    from_fixture = FromFixtures(paths.FIXTURES).get(ex, check, inputs)
    live = FromReference(reference.load()).get(ex, check, inputs)
    assert torch.allclose(from_fixture.outputs["out"], live.outputs["out"], atol=1e-6)


def test_inputs_that_drift_from_their_fixture_are_refused():
    ex = checks.find("softmax_stable")
    check = next(c for c in ex.checks if c.name == "large")
    drifted = check.inputs(Rng(stable_seed(ex.name, check.name) + 1))
    with pytest.raises(KitError, match="no longer match its fixture"):
        FromFixtures(paths.FIXTURES).get(ex, check, drifted)


def _copy_fixtures(dest):
    for f in paths.FIXTURES.glob("*.safetensors"):
        (dest / f.name).write_bytes(f.read_bytes())


def test_check_command_reports_a_tampered_fixture(tmp_path):
    _copy_fixtures(tmp_path)
    tensors, meta = fixtures.read(tmp_path / "causal_mask.safetensors")
    tensors["values/out"] = ~tensors["values/out"]
    from safetensors.torch import save_file

    save_file(tensors, str(tmp_path / "causal_mask.safetensors"), metadata=meta)
    assert fixtures.main(["--check", "--only", "causal_mask", "--dir", str(tmp_path)]) == 1
    assert fixtures.main(["--check", "--only", "causal_mask"]) == 0
    # Regenerating rewrites the tampered file, and only that one.
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    assert fixtures.main(["--only", "causal_mask", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "causal_mask.safetensors").read_bytes() != before["causal_mask.safetensors"]
    assert fixtures.main(["--check", "--only", "causal_mask", "--dir", str(tmp_path)]) == 0


def test_regenerating_unchanged_fixtures_writes_nothing(tmp_path, capsys):
    """Snapshots: on any build, regenerating leaves the files untouched unless their content
    (the checks' inputs, the reference's semantics) changed."""
    _copy_fixtures(tmp_path)
    name = "CausalAttention.safetensors"
    before = (tmp_path / name).stat().st_mtime_ns, (tmp_path / name).read_bytes()
    assert fixtures.main(["--only", "CausalAttention", "--dir", str(tmp_path)]) == 0
    assert "1 fixture file(s) unchanged, 0 written" in capsys.readouterr().out
    assert ((tmp_path / name).stat().st_mtime_ns, (tmp_path / name).read_bytes()) == before


def test_fixtures_load_without_pickle():
    # safetensors files are a JSON header plus raw bytes: no pickle opcodes, no code.
    for f in paths.FIXTURES.glob("*.safetensors"):
        head = f.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"PK"  # neither a pickle nor a torch.save zip
