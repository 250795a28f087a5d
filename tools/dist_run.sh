#!/usr/bin/env bash
# Usage: bash tools/dist_run.sh TOOL NPROC [TOOL args...]
# What dist_train.sh and dist_test.sh share: NPROC processes of tools/TOOL
# (train.py, test.py) on this node, started by torch.distributed.run with
# the project's Python: $PYTHON if set, else the repository's .venv, else
# python3. The process-group backend follows the device (nccl with CUDA,
# gloo without). NNODES, NODE_RANK, PORT and MASTER_ADDR as in mmdet.
TOOL=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$PYTHON" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi

PYTHONPATH="$ROOT":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/$TOOL" "${@:3}" --launcher pytorch
