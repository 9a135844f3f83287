#!/usr/bin/env bash
# The short fault suite in the default test run (tests/faults/run.sh --short: 4,000 tweets,
# 2 scorer kills, one broker kill, a group with two joins or leaves, in both delivery modes;
# 2-4 minutes on the shared 2-core machine with the ASan build). The full suite (100,000 tweets, 20 kills, 5 broker restarts) is run by
# hand: tests/faults/run.sh.
set -euo pipefail
exec "$SS_SOURCE_DIR/tests/faults/run.sh" --short
