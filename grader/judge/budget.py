"""The default time budget of one grading (see `grader.judge.engine.Options.budget`), kept
apart so that the command line's help can state it without importing the engine (and torch).
"""

DEFAULT_BUDGET = 600.0  # seconds for one whole grading
