"""Kill -9 in the middle of the work, lose nothing: one trial per resumable command on the debug
model and tiny data (the seeded 20-trial battery is `benchmarks/reliability.py`)."""

from __future__ import annotations

import pytest

from msgld.reliability.kill import kill_moments, run_command
from msgld.reliability.scenarios import Encode, SeparateBatch, Synth, Train


def check(trial):
    assert trial.killed, "the command finished before the kill"
    assert trial.resumed and trial.lost == 0, trial.notes


def test_separate_overwrite_killed_midway_then_skip_existing(tmp_path):
    scenario = SeparateBatch(tmp_path, files=2)
    scenario.prepare()
    check(scenario.trial(1, midway=True))  # odd: over a finished batch of another seed


def test_train_vae_killed_after_a_checkpoint_resumes(tmp_path):
    scenario = Train(tmp_path, "vae", steps=4)
    scenario.warm_up = False
    scenario.prepare()
    trial = scenario.trial(0, midway=True)
    check(trial)
    assert trial.notes[-1] != "killed at step 0"


@pytest.mark.parametrize("kind", [Synth, Encode])
def test_data_commands_rerun_byte_identical(tmp_path, kind):
    scenario = kind(tmp_path, tracks=2)
    scenario.warm_up = False
    scenario.prepare()
    check(scenario.trial(0, midway=True))


def test_kill_moments_are_seeded():
    assert kill_moments(3, 4, 10.0) == kill_moments(3, 4, 10.0)
    assert all(0 <= t < 10 for t in kill_moments(3, 20, 10.0))


@pytest.mark.parametrize("mode", ["fork", "exec"])
def test_a_kill_stops_the_command_at_once(tmp_path, mode):
    run = run_command(["data", "synth", "--out", str(tmp_path / "x"), "--tracks", "50", "--seed", "0",
                       "--backend", "tinysoundfont", "--workers", "1", "--quiet"], tmp_path / "log", kill_after=0.5,
                      mode=mode)
    assert run.killed and run.seconds < 5
