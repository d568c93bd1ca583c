"""The reference solutions, imported into the judge only (never into a worker).

They are found by path, as `KIT_ROOT/solutions`, and are absent from a learner's release:
then `load()` returns None and the expected values come from the committed fixtures.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from grader import paths

PACKAGE = "solutions"


def load(folder: Path = paths.SOLUTIONS):
    """A `lookup(module, name)` over the reference solutions, or None if there are none."""
    if not (folder / "__init__.py").is_file():
        return None
    package = sys.modules.get(PACKAGE)
    if package is None or Path(package.__file__).resolve().parent != folder.resolve():
        spec = importlib.util.spec_from_file_location(
            PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)

    def lookup(module: str, name: str):
        return getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)

    return lookup
