"""pytest plugin: grade a submission with `pytest --pyargs grader --submission PATH`."""


def pytest_addoption(parser):
    group = parser.getgroup("attention-grader")
    group.addoption("--submission", default=None, help="submission folder or .zip to grade")
