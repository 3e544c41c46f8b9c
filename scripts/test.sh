#!/usr/bin/env bash
# The project's test command: Rust unit and integration tests (the container
# tests among them, skipped with a printed reason where no Docker engine
# answers), then the Python compatibility suite (boto3 and the AWS CLI of
# both SQS wire protocols) against the freshly built target/debug/sealq,
# then README's commands as written (tests/compat/readme.py; it needs port
# 9324, the one README uses, and curl).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/compat/setup.sh        # Python venvs (compat suite; the container tests' Python example)
cargo test --all-targets          # also builds target/debug/sealq; container tests build the image
python3 tests/compat/run.py --binary target/debug/sealq
python3 tests/compat/readme.py --binary target/debug/sealq
