"""The attention exercise kit's grader.

Kept light on purpose: the worker process imports this package, so nothing is imported here.
"""


def check(exercise=None, submission=None, **options):
    """Grade one exercise (all if None) and show the feedback, in a notebook or a terminal.

    See `grader.integrations.notebook.check`, imported only when this is called.
    """
    from grader.integrations.notebook import check as check_now

    return check_now(exercise, submission, **options)
