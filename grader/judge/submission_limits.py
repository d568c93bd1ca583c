"""How large a submission may be: what grader/judge/submission.py measures before it copies
a folder or unpacks a zip, and grader/judge/unfold.py before it reads a one-file submission.
"""

MAX_BYTES = 50 << 20  # unpacked size of a submission
MAX_FILES = 2000
MAX_MODULE_BYTES = 1 << 20  # one exercise module: the judge parses it
MAX_DEPTH = 16  # folders within folders
MAX_NESTING = 500  # levels of one module's syntax tree
