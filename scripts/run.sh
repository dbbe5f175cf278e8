#!/usr/bin/env bash
# run.sh: set up, build, and run the main job: train models/fashion-mlp.cfg on Fashion-MNIST
# (10 epochs, the model file's defaults). Extra arguments go to ddp_train.
set -euo pipefail
cd "$(dirname "$0")/.."
TDP_NO_TORCH=1 scripts/setup.sh
mkdir -p results
exec build/bin/ddp_train --mode serial --model models/fashion-mlp.cfg \
    --json results/run.json "$@"
