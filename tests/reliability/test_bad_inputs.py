"""The bad-input corpus through every command that reads audio: each bad file gets a message
naming it and its problem (or a warning when it is usable), the batch goes on, the exit status
says something failed."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import soundfile as sf

from msgld.audio import validate
from msgld.audio.io import AudioError, load_audio, load_audio_native
from msgld.cli import main
from msgld.cli.arrange import load_given
from msgld.reliability.corpus import CASES, make_corpus, make_dataset
from msgld.reliability.kill import NOBODY, run_command
from tests.reliability.conftest import ROOT


def outcome_of(path, command: str):
    """What the loaders say about one entry: ("error", message) or ("warning"/"ok", warnings)."""
    try:
        wave, rate = load_audio_native(path)
        if command in ("separate", "arrange"):
            validate.check_duration(path, wave.shape[-1], rate)
    except AudioError as e:
        return "error", str(e)
    warnings = validate.file_warnings(path, wave, rate)
    return ("warning" if warnings else "ok"), "; ".join(warnings)


@pytest.mark.parametrize("command", ["separate", "check"])
def test_each_case_is_refused_or_warned_by_name(corpus, command):
    folder, cases = corpus
    for case in cases:
        if command == "check" and case.filename.endswith((".mp3", ".ogg")):
            continue  # datasets do not read them (see the evaluate and check tests)
        want, phrase = case.expected(command, ROOT)
        got, message = outcome_of(folder / case.filename, command)
        assert got == want, f"{case.name}: {got} ({message}), expected {want}"
        assert phrase in message, f"{case.name}: {message!r} lacks {phrase!r}"
        if got == "error":
            assert case.filename in message, message


@pytest.mark.skipif(not ROOT, reason="as another user the file is unreadable already")
def test_unreadable_file_as_another_user(shared_dir):
    """Root reads a chmod 000 file; a user is told it cannot be read."""
    case = next(c for c in CASES if c.needs_non_root)
    data = shared_dir / "unreadable-data"
    entry = make_dataset(data, [case])[case.name]
    log = shared_dir / "nobody.log"
    run = run_command(["data", "check", str(data), "--quiet"], log, user=NOBODY, env={"HOME": str(shared_dir)})
    assert run.rc == 1, run.log[-2000:]
    assert f"{entry.parent.name}: bass.wav: permission denied" in run.log


def test_separate_batch_goes_on(corpus, debug_model, tmp_path, capsys, caplog):
    folder, cases = corpus
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        rc = main(["separate", str(folder), "-o", str(out), "--model", str(debug_model), "-q"])
    printed = capsys.readouterr().out
    assert rc == 1
    for case in cases:
        want, phrase = case.expected("separate", ROOT)
        target = out / os.path.splitext(case.filename)[0]
        if want == "error":
            line = next((x for x in printed.splitlines() if case.filename in x), "")
            assert phrase in line, f"{case.name}: {line!r}"
            assert not target.exists()
        else:
            assert json.loads((target / "run.json").read_text())["files"] == [f"{s}.wav" for s in
                                                                             ("bass", "drums", "guitar", "piano")]
            said = [r.getMessage() for r in caplog.records if case.filename in r.getMessage()]
            assert (want == "warning") == bool(said), f"{case.name}: {said}"
            assert all(phrase in m for m in said)
    summary = json.loads((out / "run.json").read_text())
    assert len(summary["failures"]) == sum(c.expected("separate", ROOT)[0] == "error" for c in cases)


def test_arrange_refuses_bad_given_stems(corpus, debug_model, tmp_path, capsys, caplog):
    folder, cases = corpus
    for case in cases:
        want, phrase = case.expected("arrange", ROOT)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            try:
                load_given({"bass": folder / case.filename}, 16000)
                got, message = ("warning" if caplog.records else "ok"), caplog.text
            except AudioError as e:
                got, message = "error", str(e)
        assert got == want and phrase in message, f"{case.name}: {got} {message!r}"
    # the command: every bad given stem is named, nothing is written, exit status 2
    out = tmp_path / "arranged"
    rc = main(["arrange", "--given", f"bass={folder / 'nan.wav'}", "--given", f"drums={folder / 'empty.wav'}",
               "--given", f"piano={folder / 'dc-offset.wav'}", "--generate", "guitar", "-o", str(out),
               "--model", str(debug_model), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "2 given stems cannot be used" in err
    assert "nan.wav: contains NaN" in err and "empty.wav: empty file" in err
    assert not out.exists()


def test_evaluate_skips_bad_tracks_and_says_so(shared_dir, tmp_path, capsys, caplog):
    data = shared_dir / "eval-data"
    cases = [c for c in CASES if not c.long]
    entries = make_dataset(data, cases)
    out = tmp_path / "sep.json"
    with caplog.at_level(logging.WARNING):
        rc = main(["evaluate", "separation", "--data", str(data), "--method", "mixture", "--out", str(out),
                   "--no-progress"])
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert rc == 1 and result["clips"] >= 1
    for case in cases:
        want, phrase = case.expected("evaluate", ROOT)
        path = str(entries[case.name])
        skipped = [s for s in result["skipped"] if s.startswith(path)]
        assert (want == "error") == bool(skipped), f"{case.name}: {skipped}"
        if want == "error":
            assert phrase in skipped[0] and path in printed
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and path in r.getMessage()]
        assert (want == "warning") == bool(said), f"{case.name}: {said}"


def test_data_check_names_every_bad_file(shared_dir, tmp_path, capsys):
    data = shared_dir / "check-data"
    cases = [c for c in CASES if not c.long]
    entries = make_dataset(data, cases)
    rc = main(["data", "check", str(data), "--quiet"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1
    for case in cases:
        want, phrase = case.expected("check", ROOT)
        name = entries[case.name].name
        folder = entries[case.name].parent.name
        mine = [x for x in lines if f"{folder}/{name}" in x or (f"{folder}:" in x and name in x)]
        kinds = {x.split(":")[0] for x in mine}
        if want == "ok":
            assert not mine, f"{case.name}: {mine}"
        else:
            assert want in kinds and any(phrase in x for x in mine), f"{case.name}: {mine}"


def test_one_hour_file_is_accepted_and_streamed(tmp_path):
    case = next(c for c in CASES if c.long)
    make_corpus(tmp_path, [case])
    path = tmp_path / case.filename
    info = validate.check_file(path)  # streamed in blocks: every sample checked, little memory
    assert info == []
    assert sf.info(str(path)).duration == 3600.0
    tail = load_audio(path, start=3599 * 16000, frames=16000)  # a segment, as datasets read it
    assert tail.shape == (16000,) and np.abs(tail).max() > 0
