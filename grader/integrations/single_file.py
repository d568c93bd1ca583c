"""One-file submissions from the command line: a single `attention.py` or a notebook instead
of the four modules (the format: grader/judge/unfold.py, which the judge grades them with).

    python -m grader.integrations.single_file attention.py OUT_DIR    # write the four modules
    python -m grader.integrations.single_file --template attention.py # a blank one-file copy

Tools such as otter-grader take exactly one file per submission, and some learners work in
a single notebook: `combine` writes the exercises' stubs (or any folder of the four modules)
as such a file.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from grader import paths
from grader.errors import SubmissionError
from grader.judge.unfold import foreign_import, write_folder

# -- a blank one-file copy -------------------------------------------------------------


def combine(folder: str | Path = paths.EXERCISES) -> str:
    """The four modules of `folder` as one file: imports merged, then each module's code."""
    folder = Path(folder)
    imports: list[str] = []
    sections = []
    for module in paths.MODULES:
        source = (folder / f"{module}.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.splitlines()
        last = 0
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if not foreign_import(node):
                    line = ast.get_source_segment(source, node)
                    if line not in imports:
                        imports.append(line)
                last = node.end_lineno
            elif last:
                break
        doc = ast.get_docstring(tree) or module
        banner = "\n".join(f"# {line}".rstrip() for line in doc.splitlines())
        rule = "# " + "-" * 78
        sections.append(
            f"{rule}\n# {module}.py\n{banner}\n{rule}\n\n\n" + "\n".join(lines[last:]).strip("\n")
        )
    head = (
        '"""Chapter 3, "Coding Attention Mechanisms": every exercise in one file.\n\n'
        "A one-file submission for the attention exercise kit (for otter-grader, or a course\n"
        "that collects one file). Replace each `raise NotImplementedError(...)` with your code;\n"
        "keep the names. Check it with `attention-grade attention.py`.\n"
        '"""\n\n'
    )
    return head + "\n".join(imports) + "\n\n\n" + "\n\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.integrations.single_file",
        description="Turn a one-file submission (.py or .ipynb) into the four modules, or "
        "write a blank one-file copy of the exercises.",
    )
    parser.add_argument("source", type=Path, nargs="?", help="attention.py or a notebook")
    parser.add_argument("dest", type=Path, nargs="?", help="folder to write the modules into")
    parser.add_argument(
        "--template", type=Path, metavar="FILE", help="write the blank one-file copy here"
    )
    args = parser.parse_args(argv)
    if args.template:
        args.template.write_text(combine())
        print(f"wrote {args.template}")
        return 0
    if not (args.source and args.dest):
        parser.error("give SOURCE and DEST, or --template FILE")
    if args.dest.exists() and any(args.dest.iterdir()):
        print(f"error: {args.dest} is not empty", file=sys.stderr)
        return 2
    try:
        write_folder(args.source, args.dest)
    except SubmissionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
