#!/usr/bin/env bash
# The short fault suite in the default test run (tests/faults/run.sh --short: 6,000 tweets,
# 3 scorer kills, one broker kill, a group with joins and leaves, in both delivery modes;
# about 2-3 minutes). The full suite (100,000 tweets, 20 kills, 5 broker restarts) is run by
# hand: tests/faults/run.sh.
set -euo pipefail
exec "$SS_SOURCE_DIR/tests/faults/run.sh" --short
