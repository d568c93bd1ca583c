"""Write or verify the fixtures: the reference's outputs for every public check.

    python -m grader.fixtures                        # regenerate fixtures/ from solutions/
    python -m grader.fixtures --only CausalAttention # regenerate one exercise's file
    python -m grader.fixtures --check                # exit 1 if fixtures drift from solutions/

Fixtures behave like snapshots: the reference runs in float64, so its outputs agree across
torch builds, BLAS libraries and CPUs to far within `ATOL_RTOL`, and a file is rewritten
only when its content really changes (a check's inputs, the reference's semantics, the
catalogue of mistakes), never because another build rounded differently. Error messages
are recorded as written but compared by exception type only (their wording changes between
torch releases).

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
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from grader import checks, paths
from grader.checks.spec import Check
from grader.judge import reference
from grader.judge.expected import FromReference
from grader.rng import Rng, digest, stable_seed

FORMAT = "2"  # 2: float64 reference outputs, only what the judges read
# The reference's float64 outputs on two builds differ by about 1e-15 relative; the known
# mistakes' variants run in float32, as learners' code does, and differ by float32 rounding
# (1e-7 relative on the kit's well-conditioned inputs). Both bounds stay far inside the
# checks' own tolerances (1e-5 and up).
ATOL_RTOL = {torch.float64: (1e-7, 1e-6), torch.float32: (1e-6, 1e-5)}


def _entry(reply, **extra) -> str:
    entry = {"info": reply.info, **extra}
    if not reply.ok:
        entry["error"] = {k: reply.error[k] for k in ("type", "message")}
    return json.dumps(entry, sort_keys=True)


def reseeded(check: Check) -> Check:
    """The same check with another torch seed for its probe's random draws."""
    return replace(check, probe={**check.probe, "seed": check.probe.get("seed", 0) + 1})


def _kept(check, reply, again, prefix: str) -> dict[str, torch.Tensor]:
    """The outputs the check's judge reads, under `prefix/`, except those that change with
    the torch seed (`again` is the same run reseeded): random draws differ between torch
    builds, so no fixture may hold them (a train-mode output, a variant that drops out in
    eval mode)."""
    keep = check.judge.reads(reply.outputs)
    return {
        f"{prefix}/{k}": v
        for k, v in reply.outputs.items()
        if k in keep and k in again.outputs and _same(v, again.outputs[k])
    }


def _close(new: torch.Tensor, old: torch.Tensor) -> bool:
    """Whether a regenerated tensor is the committed one, up to its precision's rounding."""
    if new.shape != old.shape or new.dtype != old.dtype:
        return False
    atol, rtol = ATOL_RTOL.get(new.dtype, (0.0, 0.0))  # bool and integer tensors: exactly
    a, b = new.to(torch.float64), old.to(torch.float64)
    return torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values in equal places, NaN included (a NaN is not random)."""
    return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())


def compute_fixtures(
    lookup, exercises=None
) -> dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]]:
    """exercise name -> (tensors, metadata), computed from the reference and its variants."""
    source = FromReference(lookup)
    files = {}
    for ex in exercises or checks.EXERCISES:
        tensors: dict[str, torch.Tensor] = {}
        mistakes = source.mistakes(ex)
        meta = {
            "__format__": FORMAT,
            "__mistakes__": json.dumps({m.id: {"title": m.title, "fix": m.fix} for m in mistakes}),
        }
        for check in ex.checks:
            if not check.judge.needs_expected:
                continue
            inputs = check.inputs(Rng(stable_seed(ex.name, check.name)))
            reply = source.get(ex, check, inputs)
            tensors.update(_kept(check, reply, source.get(ex, reseeded(check), inputs), check.name))
            meta[check.name] = _entry(reply, inputs=digest(inputs))
            for m in mistakes:
                variant = source.mistake_reply(ex, check, inputs, m.id)
                again = source.mistake_reply(ex, reseeded(check), inputs, m.id)
                key = f"mistake:{m.id}/{check.name}"
                tensors.update(_kept(check, variant, again, key))
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
    if m_new.get("__format__") != m_old.get("__format__"):
        problems.append(f"{name}: written in another format")
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
        for entry in (a, b):
            if "error" in entry:
                entry["error"] = entry["error"]["type"]
        if a != b:
            problems.append(f"{name}/{key}: the reference's info or error changed")
    for key in sorted(set(t_new) | set(t_old)):
        if key not in t_old or key not in t_new:
            problems.append(
                f"{name}/{key}: tensor {'missing' if key not in t_old else 'no longer used'}"
            )
        elif not _close(t_new[key], t_old[key]):
            problems.append(f"{name}/{key}: values differ from the reference's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.fixtures", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--only", metavar="EXERCISE", help="one exercise's file")
    parser.add_argument("--dir", type=Path, default=paths.FIXTURES, help="fixtures folder")
    args = parser.parse_args(argv)
    lookup = reference.load()
    if lookup is None:
        print("the reference solutions (solutions/) are needed to build fixtures", file=sys.stderr)
        return 2
    try:
        exercises = (checks.find(args.only),) if args.only else checks.EXERCISES
    except KeyError as e:
        parser.error(str(e))
    files = compute_fixtures(lookup, exercises)
    drift = {}
    for name, fresh in files.items():
        path = args.dir / f"{name}.safetensors"
        drift[name] = compare(name, fresh, read(path)) if path.is_file() else [f"{path} is missing"]
    extra = set() if args.only else {p.stem for p in args.dir.glob("*.safetensors")} - set(files)
    if args.check:
        problems = [p for name in files for p in drift[name]]
        problems += [f"{args.dir / n}.safetensors belongs to no exercise" for n in sorted(extra)]
        for p in problems:
            print(p)
        print("fixtures are up to date" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    changed = [name for name in files if drift[name]]
    for name in changed:
        tensors, meta = files[name]
        save_file(tensors, str(args.dir / f"{name}.safetensors"), metadata=meta)
    for name in sorted(extra):
        (args.dir / f"{name}.safetensors").unlink()
    print(
        f"{len(files) - len(changed)} fixture file(s) unchanged, {len(changed)} written"
        + (f", {len(extra)} removed" if extra else "")
        + f" in {args.dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
