"""The otter-grader plugin that keeps a student's code out of otter's kernel.

Named in the otter_config.json that `attention-grade otter` writes; otter runs it under
`otter run`, `otter grade` and on Gradescope (not under `otter check`, which has no plugins).

- before_grading: tells the kit which file to grade ($ATTENTION_KIT_SUBMISSION, inherited by
  the kernel otter starts next).
- before_execution: replaces the submission otter is about to execute with a notebook that
  holds no student code. The test cases then ask the kit, which grades the file in its own
  worker (see `grader.integrations.otter`).
- after_grading: puts the environment back.

Needs otter-grader (the kit's `[otter]` extra).
"""

from __future__ import annotations

import os

import nbformat
from otter.plugins import AbstractOtterPlugin

from grader.integrations.otter import ENV_SUBMISSION

PLACEHOLDER = (
    "# The submission is graded by the attention exercise kit in its own worker process;\n"
    "# otter's kernel does not run it (grader.integrations.otter_plugin).\n"
)


class KitPlugin(AbstractOtterPlugin):
    """See the module docstring."""

    def __init__(self, submission_path, submission_metadata, plugin_config):
        super().__init__(submission_path, submission_metadata, plugin_config)
        self._previous: str | None = None

    def before_grading(self, config):
        if self.submission_path:
            self._previous = os.environ.get(ENV_SUBMISSION)
            os.environ[ENV_SUBMISSION] = os.path.abspath(self.submission_path)

    def before_execution(self, submission):
        metadata = getattr(submission, "metadata", None) or {}
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PLACEHOLDER)])
        notebook.metadata.update(metadata)
        # otter executes a script as a string or a notebook node: hand back the same kind.
        return PLACEHOLDER if isinstance(submission, str) else notebook

    def after_grading(self, results):
        if self._previous is None:
            os.environ.pop(ENV_SUBMISSION, None)
        else:
            os.environ[ENV_SUBMISSION] = self._previous
