# The two commands of the README. Both build .venv from nothing on first use.
.PHONY: sample test venv

venv:
	./scripts/bootstrap.sh

# Evaluate all 15 tasks (and the 13 video tasks without sound) on the bundled sample set, offline,
# with the chance-level chat baseline, then write the report (the README's example).
sample: venv
	./scripts/sample.sh

# Lint and run the whole test suite: a line per test module as it finishes (tests/progress.py).
test: venv
	@echo "test: ruff, then the whole suite on 2 processes (about 10 minutes on an idle 2-core machine, up to 20 on a busy one)"
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 .venv/bin/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder tests
