"""The kit inside the tools instructors and learners already use.

- `single_file`: one `attention.py` or notebook as a submission (otter takes one file)
- `gradescope`: `attention-grade gradescope OUT.zip`, a Gradescope autograder
- `otter`: `attention-grade otter DIR`, an otter-grader assignment whose tests ask the kit
- `notebook`: `from grader import check; check("softmax_stable")` in Jupyter
- `chapter_notebook`: writes exercises/chapter3.ipynb, the chapter walked with checks
- `classroom`: a GitHub Classroom workflow and its reporter's result format

Every one of them grades through `grader.judge.engine.grade`, so the learner's code runs only
in the kit's worker, with its isolation and deadlines, and the verdicts are the CLI's.
"""
