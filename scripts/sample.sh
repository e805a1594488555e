#!/usr/bin/env bash
# Run all 15 HumanSense tasks on the bundled sample set, offline, and print the results table.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/sample}"
export HUMANSENSE_ROOT="$(.venv/bin/lmms-humansense sample-root)"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/lmms-eval --tasks humansense --model humansense_random --output_path "$OUT" --log_samples
