"""Where expected values come from: the reference solutions, or fixtures made from them.

An instructor's checkout has `solutions/`: the judge runs each check's probe on the reference,
in its own process, on the very inputs the worker gets. A learner's copy has no solutions;
public checks then read the reference's outputs from `fixtures/<exercise>.safetensors`,
which `python -m grader.fixtures` writes. Each fixture records a digest of the inputs it was
made from, so a fixture that no longer fits its check is reported, never silently used.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from grader.checks.spec import Check, Exercise
from grader.rng import digest
from grader.worker import wire
from grader.worker.launch import Reply
from grader.worker.probes import run_probe


class KitError(Exception):
    """The kit itself is inconsistent (stale fixtures, a failing reference): not the learner's fault."""


class FromReference:
    name = "reference"

    def __init__(self, lookup):
        self.lookup = lookup

    def get(self, exercise: Exercise, check: Check, inputs: dict[str, torch.Tensor]) -> Reply:
        copies = {k: v.clone() for k, v in inputs.items()}
        try:
            outputs, info = run_probe(exercise.probe(check), copies, self.lookup)
        except Exception as e:
            raise KitError(f"the reference failed {exercise.name}/{check.name}: {e!r}") from e
        return Reply("ok", {k: wire.plain(v) for k, v in outputs.items()}, info)


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

    def get(self, exercise: Exercise, check: Check, inputs: dict[str, torch.Tensor]) -> Reply:
        tensors, meta = self._load(exercise.name)
        if check.name not in meta:
            raise KitError(f"the fixtures have no entry for {exercise.name}/{check.name}")
        entry = json.loads(meta[check.name])
        if entry["inputs"] != digest(inputs):
            raise KitError(
                f"the inputs of {exercise.name}/{check.name} no longer match its fixture; "
                "regenerate them with `python -m grader.fixtures`"
            )
        prefix = f"{check.name}/"
        outputs = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        return Reply("ok", outputs, entry.get("info", {}))
