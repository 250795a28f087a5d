#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
# NPROC processes of tools/test.py on this node (see tools/dist_run.sh);
# each evaluates its share of the test set and rank 0 reports the metrics.
exec bash "$(dirname "$0")/dist_run.sh" test.py "$3" "$1" "$2" "${@:4}"
