#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG NPROC [train.py args...]
# NPROC processes of tools/train.py on this node (see tools/dist_run.sh).
exec bash "$(dirname "$0")/dist_run.sh" train.py "$2" "$1" "${@:3}"
