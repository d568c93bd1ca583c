"""Write or verify the fixtures: the reference's outputs for every public check.

    python -m grader.fixtures          # regenerate fixtures/ from solutions/
    python -m grader.fixtures --check  # exit 1 if the committed fixtures drift from solutions/

A learner's copy of the kit has no solutions; its public checks compare with these files.
One safetensors file per exercise holds, for each check, the reference's output tensors
under `<check>/<name>` and, in the metadata, the digest of the check's inputs and the
reference's JSON info (a module's description, say); and the same for each known mistake's
variant (`mistake:<id>/<check>/<name>`), so that learners' feedback can name mistakes
without the solutions. Nothing in them needs pickle to load.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from grader import checks, paths
from grader.judge import reference
from grader.judge.expected import FromReference
from grader.rng import Rng, digest, stable_seed

FORMAT = "1"
ATOL, RTOL = 1e-6, 1e-5  # regenerated values may differ by float rounding across machines


def _entry(reply, **extra) -> str:
    entry = {"info": reply.info, **extra}
    if not reply.ok:
        entry["error"] = {k: reply.error[k] for k in ("type", "message")}
    return json.dumps(entry, sort_keys=True)


def build(lookup) -> dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]]:
    """exercise name -> (tensors, metadata), computed from the reference and its variants."""
    source = FromReference(lookup)
    files = {}
    for ex in checks.EXERCISES:
        tensors: dict[str, torch.Tensor] = {}
        mistakes = source.mistakes(ex)
        meta = {
            "__format__": FORMAT,
            "__torch__": torch.__version__,
            "__mistakes__": json.dumps({m.id: {"title": m.title, "fix": m.fix} for m in mistakes}),
        }
        for check in ex.checks:
            if not check.judge.needs_expected:
                continue
            inputs = check.inputs(Rng(stable_seed(ex.name, check.name)))
            reply = source.get(ex, check, inputs)
            tensors.update({f"{check.name}/{k}": v for k, v in reply.outputs.items()})
            meta[check.name] = _entry(reply, inputs=digest(inputs))
            for m in mistakes:
                variant = source.mistake_reply(ex, check, inputs, m.id)
                key = f"mistake:{m.id}/{check.name}"
                tensors.update({f"{key}/{k}": v for k, v in variant.outputs.items()})
                meta[key] = _entry(variant)
        files[ex.name] = (tensors, meta)
    return files


def read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118


def compare(name: str, fresh, committed) -> list[str]:
    """Differences between freshly built fixtures and committed ones, as sentences."""
    (t_new, m_new), (t_old, m_old) = fresh, committed
    problems = []
    if m_new.get("__mistakes__") != m_old.get("__mistakes__"):
        problems.append(f"{name}: the mistake catalogue changed")
    for key in sorted(set(m_new) | set(m_old)):
        if key.startswith("__"):
            continue
        if key not in m_old or key not in m_new:
            problems.append(
                f"{name}/{key}: entry {'missing' if key not in m_old else 'no longer used'}"
            )
            continue
        a, b = json.loads(m_new[key]), json.loads(m_old[key])
        if a.pop("inputs", None) != b.pop("inputs", None):
            problems.append(f"{name}/{key}: the check's inputs changed")
        if a != b:
            problems.append(f"{name}/{key}: the reference's info or error changed")
    for key in sorted(set(t_new) | set(t_old)):
        if key not in t_old or key not in t_new:
            problems.append(
                f"{name}/{key}: tensor {'missing' if key not in t_old else 'no longer used'}"
            )
        elif t_new[key].shape != t_old[key].shape or not torch.allclose(
            t_new[key].to(torch.float64),
            t_old[key].to(torch.float64),
            atol=ATOL,
            rtol=RTOL,
            equal_nan=True,
        ):
            problems.append(f"{name}/{key}: values differ from the reference's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.fixtures", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--dir", type=Path, default=paths.FIXTURES, help="fixtures folder")
    args = parser.parse_args(argv)
    lookup = reference.load()
    if lookup is None:
        print("the reference solutions (solutions/) are needed to build fixtures", file=sys.stderr)
        return 2
    files = build(lookup)
    if args.check:
        problems = []
        for name, fresh in files.items():
            path = args.dir / f"{name}.safetensors"
            problems += (
                compare(name, fresh, read(path)) if path.is_file() else [f"{path} is missing"]
            )
        extra = {p.stem for p in args.dir.glob("*.safetensors")} - set(files)
        problems += [f"{args.dir / n}.safetensors belongs to no exercise" for n in sorted(extra)]
        for p in problems:
            print(p)
        print("fixtures are up to date" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for name, (tensors, meta) in files.items():
        save_file(tensors, str(args.dir / f"{name}.safetensors"), metadata=meta)
    print(f"wrote {len(files)} fixture files to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
