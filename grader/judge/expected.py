"""Where expected values come from: the reference solutions, or fixtures made from them.

An instructor's checkout has `solutions/`: the judge runs each check's probe on the reference,
in its own process, on the very inputs the worker gets. A learner's copy has no solutions;
public checks then read the reference's outputs from `fixtures/<exercise>.safetensors`,
which `python -m grader.fixtures` writes. Each fixture records a digest of the inputs it was
made from, so a fixture that no longer fits its check is reported, never silently used.

The reference runs in float64 (`run_on`): its outputs are the exact answer to the
float32 question the learner is asked, up to errors a million times smaller than float32's.
A learner's float32 output is then compared with the truth, not with another float32
computation whose rounding depends on the torch build, the BLAS library, the CPU and the
order of operations. The tolerances only have to cover one float32 computation's error.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from grader.checks.spec import Check, Exercise
from grader.errors import KitError
from grader.judge.variants import Variants
from grader.protocol import Reply
from grader.rng import digest
from grader.worker import wire
from grader.worker.probes import run_probe


@dataclass(frozen=True)
class KnownMistake:
    id: str
    title: str
    fix: str


def as_float64(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float64) if t.dtype == torch.float32 else t.clone()


def run_on(
    lookup, exercise: Exercise, check: Check, inputs: dict[str, torch.Tensor], float64: bool
) -> Reply:
    """The probe's reply from trusted code (the reference or a variant); errors become replies.

    The reference runs in float64 (the truth); a mistaken variant runs in float32, as the
    learner whose mistake it stands for does: overflow and underflow (a softmax without its
    max subtracted, say) happen where they happen in float32."""
    copies = {k: as_float64(v) if float64 else v.clone() for k, v in inputs.items()}
    probe = {**exercise.probe(check), "float64": True} if float64 else exercise.probe(check)
    try:
        with warnings.catch_warnings():  # the mistaken variants may trip deprecation warnings
            warnings.simplefilter("ignore")
            outputs, info = run_probe(probe, copies, lookup)
    except Exception as e:
        return Reply(
            "error", error={"type": type(e).__name__, "message": str(e)[:2000], "frames": []}
        )
    return Reply("ok", {k: wire.plain(v) for k, v in outputs.items()}, info)


class FromReference:
    name = "reference"

    def __init__(self, lookup, variants: Variants | None = None):
        self.lookup = lookup
        self.variants = variants if variants is not None else Variants()

    def mistakes(self, exercise: Exercise) -> list[KnownMistake]:
        return [
            KnownMistake(m.id, m.title, m.fix) for m in self.variants.for_exercise(exercise.name)
        ]

    def mistake_reply(
        self, exercise: Exercise, check: Check, inputs, mistake_id: str
    ) -> Reply | None:
        mistake = next(m for m in self.variants.for_exercise(exercise.name) if m.id == mistake_id)
        lookup = self.variants.lookup(mistake, exercise.module)
        return run_on(lookup, exercise, check, inputs, float64=False)

    def get(self, exercise: Exercise, check: Check, inputs: dict[str, torch.Tensor]) -> Reply:
        reply = run_on(self.lookup, exercise, check, inputs, float64=True)
        if not reply.ok:
            raise KitError(f"the reference failed {exercise.name}/{check.name}: {reply.error}")
        return reply

    def close(self) -> None:
        self.variants.close()


class FromFixtures:
    name = "fixtures"

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[str, tuple[dict, dict]] = {}

    def _load(self, exercise: str) -> tuple[dict, dict]:
        if exercise not in self._cache:
            path = self.folder / f"{exercise}.safetensors"
            if not path.is_file():
                raise KitError(f"no fixture file {path}; run `python -m grader.fixtures`")
            with safe_open(str(path), framework="pt") as f:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
                meta = f.metadata() or {}
            self._cache[exercise] = (tensors, meta)
        return self._cache[exercise]

    def close(self) -> None:
        self._cache.clear()

    def get(self, exercise: Exercise, check: Check, inputs: dict[str, torch.Tensor]) -> Reply:
        tensors, meta = self._load(exercise.name)
        if check.name not in meta:
            raise KitError(f"the fixtures have no entry for {exercise.name}/{check.name}")
        entry = json.loads(meta[check.name])
        self._check_inputs(exercise, check, entry, inputs)
        return self._reply(tensors, entry, f"{check.name}/")

    @staticmethod
    def _check_inputs(exercise: Exercise, check: Check, entry: dict, inputs) -> None:
        if entry["inputs"] != digest(inputs):
            raise KitError(
                f"the inputs of {exercise.name}/{check.name} no longer match its fixture; "
                "regenerate them with `python -m grader.fixtures`"
            )

    @staticmethod
    def _reply(tensors: dict, entry: dict, prefix: str) -> Reply:
        if entry.get("error"):
            return Reply("error", error=entry["error"])
        outputs = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        return Reply("ok", outputs, entry.get("info", {}))

    def mistakes(self, exercise: Exercise) -> list[KnownMistake]:
        _, meta = self._load(exercise.name)
        known = json.loads(meta.get("__mistakes__", "{}"))
        return [KnownMistake(i, m["title"], m["fix"]) for i, m in known.items()]

    def mistake_reply(
        self, exercise: Exercise, check: Check, inputs, mistake_id: str
    ) -> Reply | None:
        """The variant's reply on a public check, recorded on the same inputs."""
        tensors, meta = self._load(exercise.name)
        key = f"mistake:{mistake_id}/{check.name}"
        if key not in meta:
            return None
        self._check_inputs(exercise, check, json.loads(meta[check.name]), inputs)
        return self._reply(tensors, json.loads(meta[key]), key + "/")
