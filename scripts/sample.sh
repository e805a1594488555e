#!/usr/bin/env bash
# Run all 15 HumanSense tasks on the bundled sample set, offline, and print the results table.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/sample}"
export HUMANSENSE_ROOT="$(.venv/bin/lmms-humansense sample-root)"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
# The default tasks and the noaudio variant: its report is the README's example (docs/report_example).
echo "sample: running the 15 HumanSense tasks, and the 13 video tasks again without sound (noaudio), on the" \
  "bundled sample set ($HUMANSENSE_ROOT) with the chance-level model humansense_random: one to two minutes;" \
  "lmms-eval logs as it goes and ends with a table"
.venv/bin/lmms-eval --tasks humansense,humansense_noaudio --model humansense_random --output_path "$OUT" --log_samples
# Where the run stands against the paper's Table 1 and human level (tables and charts).
# Only this run's file: an earlier `make sample` left its own in the same folder. lmms-eval 0.7.3
# writes into $OUT itself, or into $OUT/<model name>/ when --model_args names a pretrained model.
LATEST="$(find "$OUT" -name '*_results.json' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
echo "sample: writing the report of $LATEST against the paper's Qwen2.5-Omni-7B row into $OUT/report (seconds)"
.venv/bin/lmms-humansense report "$LATEST" --out "$OUT/report" --paper-model Qwen2.5-Omni-7B
