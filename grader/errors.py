"""The kit's error types, shared by the judge, the worker and the front ends.

Each says whose fault a failure is and how the kit answers it:

- `SubmissionError`: the submission cannot be found or read (the CLI exits with status 2);
- `KitError`: the kit itself is inconsistent (not the learner's fault);
- `SandboxError`: the isolation asked for cannot be had on this machine;
- `WireError`: a frame between judge and worker is malformed (the call fails as "protocol");
- `ContractError`: the learner's object does not have the shape the contract promises (the
  check fails as "contract").

Kept free of imports: the worker imports this module too.
"""

from __future__ import annotations


class SubmissionError(Exception):
    """The submission cannot be found or read (the CLI exits with status 2)."""


class KitError(Exception):
    """The kit itself is inconsistent (stale fixtures, a failing reference): not the learner's fault."""


class SandboxError(Exception):
    """The requested isolation cannot be had on this machine."""


class WireError(Exception):
    """The other side sent something that is not a well-formed frame."""


class ContractError(Exception):
    """The submission's object does not have the shape the contract promises."""
