"""The otter-grader plugin that keeps a student's code out of otter's kernel.

Named in the otter_config.json that `attention-grade otter` writes; otter runs it under
`otter generate`, `otter run`, `otter grade` and on Gradescope (not under `otter check`, which
has no plugins).

- during_generate (`otter generate`): makes the setup.sh otter writes install what the kit's
  isolation needs (`SETUP`: bubblewrap, and a way through /root to otter's Python for the
  user of its own a worker runs as where bubblewrap is refused), and asks for the native
  visibility of hidden checks (`otter.CONFIG`). otter has no hook for setup.sh: the plugin
  extends the render of otter's own template, in the `otter generate` process only, and
  says so when it cannot (another otter version).
- before_grading: closes the autograder folder to other users when run as root (the kit's
  solutions, the hidden tests: see `gradescope.secure`), and tells the kit which file to
  grade ($ATTENTION_KIT_SUBMISSION, inherited by the kernel otter starts next).
- before_execution: replaces the submission otter is about to execute with a notebook that
  holds no student code. The test cases then ask the kit, which grades the file in its own
  worker (see `grader.integrations.otter`).
- after_grading: puts the environment back.

Needs otter-grader (the kit's `[otter]` extra).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin

from grader.integrations import gradescope
from grader.integrations.otter import CONFIG, ENV_SUBMISSION

PLACEHOLDER = (
    "# The submission is graded by the attention exercise kit in its own worker process;\n"
    "# otter's kernel does not run it (grader.integrations.otter_plugin).\n"
)
SETUP_TEMPLATE = "python/setup.sh"
SETUP = """
# Added by the attention exercise kit (grader.integrations.otter_plugin): bubblewrap, the
# sandbox the kit runs each submission's code in; and search (not reading) through /root,
# where otter's Python lives, for the user of its own that code runs as where the sandbox
# is refused (the solutions stay closed to that user).
if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends bubblewrap \\
        || echo "bubblewrap could not be installed: the kit will grade without its sandbox"
fi
chmod o+x /root
"""


def extend_setup() -> bool:
    """Make otter's setup.sh template render with `SETUP` appended (in this process); False
    where this otter keeps its templates otherwise."""
    try:
        from otter.generate import JINJA_ENV

        template = JINJA_ENV.get_template(SETUP_TEMPLATE)  # the object otter renders
    except Exception:
        return False
    if not getattr(template, "attention_kit", False):
        render = template.render
        template.render = lambda *args, **kwargs: render(*args, **kwargs).rstrip("\n") + SETUP
        template.attention_kit = True
    return True


class KitPlugin(AbstractOtterPlugin):
    """See the module docstring."""

    def __init__(self, submission_path, submission_metadata, plugin_config):
        super().__init__(submission_path, submission_metadata, plugin_config)
        self._previous: str | None = None

    def during_generate(self, otter_config, assignment):
        for key, value in CONFIG.items():
            otter_config.setdefault(key, value)
        if not extend_setup():
            print(
                "attention exercise kit: this otter's setup.sh could not be extended; add "
                "`apt-get install -y bubblewrap` and `chmod o+x /root` to it by hand",
                file=sys.stderr,
            )

    def before_grading(self, config):
        gradescope.secure(Path(config.autograder_dir))
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
