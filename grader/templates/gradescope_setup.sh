#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu), with
# this zip unpacked in /autograder/source. It installs Python, a CPU build of PyTorch,
# bubblewrap (the kit's sandbox) and the kit itself, then grades the reference solutions once
# so that a broken image fails here rather than on a student's submission.
#
# Gradescope containers run everything as root. bubblewrap needs user namespaces, which some
# container hosts forbid; then the kit falls back to its confined subprocess, which runs the
# learner's code as a user of its own for whom the solutions are closed (run_autograder closes
# them before grading), and every report says which isolation graded it ("Worker isolation:
# ..." in the output students see). The venv below sits in /opt so that such a user can run
# its Python (one under /root could not).
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive

SOURCE=/autograder/source
VENV=/opt/attention-kit

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap ca-certificates

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# The CPU build: Gradescope has no GPU, and it is a fraction of the CUDA build's size.
"$VENV/bin/python" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
# Editable, so that the kit finds solutions/ and fixtures/ next to its grader/ package.
"$VENV/bin/python" -m pip install -e "$SOURCE/kit"

# A smoke test of the image: the solutions must pass the public checks.
cd "$SOURCE/kit"
"$VENV/bin/python" -m grader solutions --no-hidden -q
