"""Every model of this package refuses an unknown ``--model_args`` key by name and stops the run.

Through the real lmms-eval CLI: a ``TypeError`` from a model's ``__init__`` would be caught by
lmms-eval 0.7.3's CLI, printed inside a traceback, and the process would exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_env, run_lmms_eval

from lmms_humansense.models.args import INJECTED, ModelArgsStop, check_model_args
from lmms_humansense.models.random_baseline import RandomBaseline


def test_a_misspelt_key_stops_the_lmms_eval_cli_by_name_without_a_traceback(tmp_path: Path) -> None:
    proc = run_lmms_eval(
        ["--model", "humansense_random", "--model_args", "sede=1", "--tasks", "humansense_ar"],
        cli_env(tmp_path),
        tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "HumanSense model error: humansense_random does not take --model_args 'sede' (did you mean 'seed'?); "
        "it takes seed, trace, device, resume"
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("*_results.json"))


def test_a_bad_omni_value_stops_the_lmms_eval_cli_in_one_line(tmp_path: Path) -> None:
    """A value ``humansense_omni`` cannot run with (here ``frames=r1``) is refused before any
    checkpoint is looked for, as an unknown key is: exit status 1, the message as the last line."""
    proc = run_lmms_eval(
        ["--model", "humansense_omni", "--model_args", "pretrained=/nowhere,frames=r1", "--tasks", "humansense_ar"],
        cli_env(tmp_path),
        tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HumanSense model error: humansense_omni: frames='r1' is not a frame reader; use "), last
    assert "Traceback" not in proc.stderr + proc.stdout


def test_the_accepted_keys_are_the_constructors_own() -> None:
    """No hand list beside a signature: the keys a model offers in its message are its ``__init__``'s."""
    from lmms_humansense.models.args import constructor_args
    from lmms_humansense.models.omni import HumanSenseOmni
    from lmms_humansense.models.served import HumanSenseServed

    assert constructor_args(RandomBaseline) == ["seed", "trace", "device", "resume"]
    assert constructor_args(HumanSenseOmni)[:2] == ["pretrained", "device"] and "kwargs" not in constructor_args(
        HumanSenseOmni
    )
    assert "base_url" in constructor_args(HumanSenseServed) and "resume" in constructor_args(HumanSenseServed)


def test_omni_refuses_an_unknown_key_before_loading_anything(tmp_path: Path) -> None:
    """``pretrained=/nowhere``: the key is refused before the checkpoint would be looked for."""
    from lmms_eval.evaluator import simple_evaluate

    with pytest.raises(ModelArgsStop) as stop:
        simple_evaluate(model="humansense_omni", model_args="pretrained=/nowhere,fps=2", tasks=["humansense_ar"])
    assert isinstance(stop.value, SystemExit) and stop.value.unknown == ["fps"]
    assert "humansense_omni does not take --model_args 'fps'" in str(stop.value)


def test_the_keys_lmms_eval_adds_itself_are_let_through() -> None:
    """lmms-eval 0.7.3 passes ``batch_size`` always and ``max_batch_size``/``device`` when set."""
    assert INJECTED == ("batch_size", "max_batch_size", "device")
    model = RandomBaseline(seed=3, batch_size=1, max_batch_size=4, device="cpu")
    assert model._seed == 3
    check_model_args("m", {"batch_size": 2, "max_batch_size": 8}, ("seed",))
    with pytest.raises(ModelArgsStop, match=r"m does not take --model_args 'a', 'zz'; it takes seed$"):
        check_model_args("m", {"zz": 1, "a": 2}, ("seed",))


def test_the_readme_quotes_the_message_the_cli_prints() -> None:
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (
        "`HumanSense model error: humansense_random does not take --model_args 'sede' (did you mean 'seed'?); "
        "it takes seed, trace, device, resume`"
    ) in readme
    assert "`seed=N` (default 0)" in readme  # humansense_random's seed is documented
