"""Kill -9 anywhere, lose nothing: one scenario per resumable command.

A scenario makes its inputs and an uninterrupted reference run (`prepare`, which returns the
reference's seconds), then each `trial(index, kill_at)` starts the command, SIGKILLs it
`kill_at` seconds in, checks what the kill left, reruns it the way the README says (a rerun,
`--skip-existing`, `--resume`) and checks the result against the reference:

- `separate`: a folder batch; odd trials overwrite a finished batch made with another seed.
  After the kill no file under a final name is partial and every folder with a run.json holds
  exactly the stems of the run it describes; after `--skip-existing` every input is done.
- `train-{vae,vocoder,ldm}`: every checkpoint loads (tensors only) with one optimizer step count
  per optimizer; `--resume` continues from the last checkpoint (its log starts there) and ends
  with the reference's global step and optimizer step counts.
- `synth`, `encode`: the rerun's folder is byte-identical to the uninterrupted one; `encode`'s
  cache also opens as a `LatentDataset` with every track.

`lost` counts outputs that are missing, partial, or differ from what they claim to be.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from msgld.reliability.kill import Run, hidden_leftovers, run_command, tree_digest

STEMS = ("bass", "drums", "guitar", "piano")


@dataclass
class Trial:
    scenario: str
    index: int
    kill_at: float | None  # seconds after the start (None: at a moment of the work)
    killed: bool = False  # still running when the signal came
    resumed: bool = False  # the rerun finished with status 0
    lost: int = 0
    leftovers: int = 0  # hidden temporary files or folders left by the killed writer
    notes: list[str] = field(default_factory=list)

    def problem(self, note: str) -> None:
        self.lost += 1
        self.notes.append(note)


class Scenario:
    name = ""

    def __init__(self, work: str | Path, mode: str = "fork", keep: bool = False, warm_up: bool = True):
        self.work = Path(work) / self.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.mode, self.keep, self.warm_up = mode, keep, warm_up
        self.kill_when = None  # set per trial: kill at a moment of the work rather than a time

    def run(self, argv: list[str], log: str, kill_after: float | None = None) -> Run:
        kill_when = self.kill_when if "killed" in log else None
        return run_command(argv, self.work / log, kill_after=kill_after, mode=self.mode, kill_when=kill_when)

    def runs(self) -> tuple[str, ...]:
        """The reference runs' logs: a warm-up first (one-off costs), then the timed one."""
        return ("warm-up.log", "reference.log") if self.warm_up else ("reference.log",)

    def midway(self, out: Path):
        """A predicate that is true in the middle of the work (set as `kill_when`)."""
        raise NotImplementedError

    def reference(self, argv: list[str], log: str) -> float:
        run = self.run(argv, log)
        if run.rc != 0:
            raise RuntimeError(f"{self.name}: the uninterrupted run failed (status {run.rc}):\n{run.log[-3000:]}")
        return run.seconds

    def rerun_ok(self, trial: Trial, run: Run) -> None:
        trial.resumed = run.rc == 0
        if not trial.resumed:
            trial.problem(f"the rerun failed (status {run.rc}): {run.log[-500:]}")

    def finish(self, trial: Trial, out: Path) -> Trial:
        if not self.keep and trial.lost == 0:
            shutil.rmtree(out, ignore_errors=True)
        return trial


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


class SeparateBatch(Scenario):
    """`msgld separate FOLDER -o OUT` on the debug model, then `--skip-existing`."""

    name = "separate"

    def __init__(self, work, mode="fork", keep=False, files: int = 4):
        super().__init__(work, mode, keep)
        self.files = files

    def prepare(self) -> float:
        from msgld.inference.debug_model import make_debug_model
        from msgld.reliability.corpus import music

        self.inputs = self.work / "inputs"
        self.inputs.mkdir(exist_ok=True)
        for k in range(self.files):
            sf.write(self.inputs / f"song{k}.wav", music(1.5 + 0.5 * k, seed=k), 16000, subtype="FLOAT")
        self.model = make_debug_model(self.work / "model")
        self.refs: dict[int, dict[str, dict[str, str]]] = {}
        for seed in (1, 0):  # the first run also warms up; the second is timed
            out = self.work / f"reference-seed{seed}"
            shutil.rmtree(out, ignore_errors=True)
            seconds = self.reference(self.argv(out, seed, skip=False), f"reference-seed{seed}.log")
            self.refs[seed] = {f"song{k}": {s: _digest(out / f"song{k}" / f"{s}.wav") for s in STEMS}
                               for k in range(self.files)}
        return seconds

    def midway(self, out: Path):
        last = out / f"song{self.files - 1}"
        return lambda: last.is_dir() and not (last / "run.json").exists()  # writing the last song's stems

    def argv(self, out: Path, seed: int, skip: bool) -> list[str]:
        return ["separate", str(self.inputs), "-o", str(out), "--model", str(self.model), "--seed", str(seed),
                "-q", *(["--skip-existing"] if skip else [])]

    def check(self, trial: Trial, out: Path, final: bool) -> None:
        when = "after the rerun" if final else "after the kill"
        for song in self.refs[0]:
            folder = out / song
            record = folder / "run.json"
            if record.exists():
                try:
                    info = json.loads(record.read_text())
                    seed = int(info["settings"]["seed"])
                except (ValueError, KeyError) as e:
                    trial.problem(f"{record}: not a whole run record ({e}) {when}")
                    continue
                if info.get("files") != [f"{s}.wav" for s in STEMS]:
                    trial.problem(f"{record}: lists {info.get('files')} {when}")
                for stem in STEMS:
                    path = folder / f"{stem}.wav"
                    if not path.exists() or _digest(path) != self.refs[seed][song][stem]:
                        trial.problem(f"{path}: not the stem of the seed-{seed} run its run.json describes {when}")
            elif final:
                trial.problem(f"{folder}: not finished {when}")
            else:
                for stem in STEMS:  # a stem under its final name is a whole file of some run
                    path = folder / f"{stem}.wav"
                    if path.exists() and _digest(path) not in {self.refs[s][song][stem] for s in self.refs}:
                        trial.problem(f"{path}: a partial or foreign file under a final name {when}")

    def trial(self, index: int, kill_at: float | None = None, midway: bool = False) -> Trial:
        trial = Trial(self.name, index, kill_at)
        out = self.work / f"trial-{index:03d}"
        shutil.rmtree(out, ignore_errors=True)
        self.kill_when = self.midway(out) if midway else None
        overwrite = index % 2 == 1
        if overwrite:  # a finished batch of another seed, rewritten by the killed run
            shutil.copytree(self.work / "reference-seed1", out)
        killed = self.run(self.argv(out, 0, skip=not overwrite), f"trial-{index:03d}-killed.log", kill_after=kill_at)
        trial.killed = killed.killed
        self.check(trial, out, final=False)
        self.rerun_ok(trial, self.run(self.argv(out, 0, skip=True), f"trial-{index:03d}-rerun.log"))
        self.check(trial, out, final=True)
        trial.leftovers = len(hidden_leftovers(out))
        return self.finish(trial, out)


TRAIN_SETTINGS = {
    "vae": ["--set", "model.channels=8", "--set", "model.num_res_blocks=1", "--set", "model.norm_groups=4",
            "--set", "data.segment=5120", "--set", "data.val_segment=5120", "--set", "data.max_images=6",
            "--set", "scale_factor.batches=1"],
    "vocoder": ["--set", "model.upsample_initial_channel=32", "--set", "discriminator.mpd_width=0.03",
                "--set", "discriminator.msd_width=0.03", "--set", "discriminator.periods=[2,3]",
                "--set", "data.segment=3200", "--set", "data.val_segment=3200", "--set", "data.waves_per_batch=4",
                "--set", "loss.adversarial_start=2"],
    "ldm": ["--set", "model.channels=8", "--set", "model.channel_mult=[1,2]", "--set", "model.attention_levels=[1]",
            "--set", "model.head_dim=8", "--set", "model.norm_groups=4", "--set", "data.latent_frames=32"],
}


def optimizer_steps(ckpt: dict) -> list[list[float]]:
    """Per optimizer, the distinct Adam step counts of its parameters."""
    out = []
    for state in ckpt.get("optimizer_states", []):
        steps = {float(s["step"]) for s in state.get("state", {}).values() if "step" in s}
        out.append(sorted(steps))
    return out


def first_logged_step(csv_path: Path) -> int | None:
    with open(csv_path, newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("step")]
    return min(steps) if steps else None


class Train(Scenario):
    """`msgld train KIND ... --checkpoint-every 1`, then `--resume`."""

    def __init__(self, work, kind: str, mode="fork", keep=False, steps: int = 6):
        self.name = f"train-{kind}"
        super().__init__(work, mode, keep)
        self.kind, self.steps = kind, steps

    def prepare(self) -> float:
        from msgld.testing import make_multitrack_folder

        data = make_multitrack_folder(self.work / "stems", {"train": 2, "validation": 1}, seconds=1.5)
        if self.kind == "ldm":
            from msgld.data.latent_cache import encode_dataset
            from msgld.inference.debug_model import make_debug_model

            model = make_debug_model(self.work / "vae-model", vocoder=False)
            encode_dataset(data, model / "vae", self.work / "latents")
            data = self.work / "latents"
        self.data = data
        out = self.work / "reference"
        for log in self.runs():
            shutil.rmtree(out, ignore_errors=True)
            seconds = self.reference(self.argv(out, resume=False), log)
        self.ref = self.load(out / "checkpoints" / "last.ckpt")
        self.ref_first_step = first_logged_step(self.launch_logs(out)[-1])
        return seconds

    def argv(self, out: Path, resume: bool) -> list[str]:
        return ["train", self.kind, "--data", str(self.data), "--config", "tiny", "--out", str(out),
                "--max-steps", str(self.steps), "--batch-size", "2", "--num-workers", "0", "--checkpoint-every", "1",
                "--val-every", "3", "--limit-val-batches", "1", "--log-every", "1", "--no-progress", "--seed", "0",
                *TRAIN_SETTINGS[self.kind], *(["--resume"] if resume else [])]

    def midway(self, out: Path):
        return (out / "checkpoints" / "last.ckpt").exists

    @staticmethod
    def load(path: Path) -> dict:
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)

    @staticmethod
    def launch_logs(out: Path) -> list[Path]:
        return sorted((out / "logs" / "csv").glob("launch-*/metrics.csv"))

    def check_checkpoints(self, trial: Trial, out: Path, when: str) -> int:
        """Every checkpoint loads and is consistent; returns last.ckpt's step (0 if none)."""
        step = 0
        for path in sorted((out / "checkpoints").glob("*.ckpt")) if (out / "checkpoints").is_dir() else []:
            if path.name.startswith("."):
                continue
            try:
                ckpt = self.load(path)
            except Exception as e:
                trial.problem(f"{path}: corrupt {when} ({type(e).__name__}: {e})")
                continue
            steps = optimizer_steps(ckpt)
            if not steps or any(len(s) > 1 for s in steps):
                trial.problem(f"{path}: optimizer state missing or inconsistent {when}: {steps}")
            if path.name == "last.ckpt":
                step = int(ckpt["global_step"])
        return step

    def trial(self, index: int, kill_at: float | None = None, midway: bool = False) -> Trial:
        from msgld.weights import load_model

        trial = Trial(self.name, index, kill_at)
        out = self.work / f"trial-{index:03d}"
        shutil.rmtree(out, ignore_errors=True)
        self.kill_when = self.midway(out) if midway else None
        killed = self.run(self.argv(out, resume=False), f"trial-{index:03d}-killed.log", kill_after=kill_at)
        trial.killed = killed.killed
        at = self.check_checkpoints(trial, out, "after the kill")
        launches = len(self.launch_logs(out))
        self.rerun_ok(trial, self.run(self.argv(out, resume=True), f"trial-{index:03d}-rerun.log"))
        if not trial.resumed:
            return self.finish(trial, out)
        self.check_checkpoints(trial, out, "after the resume")
        final = self.load(out / "checkpoints" / "last.ckpt")
        if int(final["global_step"]) != int(self.ref["global_step"]):
            trial.problem(f"resumed run ended at step {final['global_step']}, "
                          f"the reference at {self.ref['global_step']}")
        if optimizer_steps(final) != optimizer_steps(self.ref):
            trial.problem(f"optimizer step counts {optimizer_steps(final)} != "
                          f"the reference's {optimizer_steps(self.ref)}"
                          " (optimizer state not carried over)")
        logs = self.launch_logs(out)[launches:]  # the resumed launch's log, when it trained
        first = first_logged_step(logs[0]) if logs else None
        if 0 < at < self.steps and (first is None or first < at + (self.ref_first_step or 0)):
            trial.problem(f"the resumed launch logged from step {first}, the checkpoint was at step {at} (restarted?)")
        try:
            load_model(out / "weights" / "final" / self.kind)
        except Exception as e:
            trial.problem(f"exported weights do not load: {e}")
        trial.leftovers = len(hidden_leftovers(out / "checkpoints")) if (out / "checkpoints").is_dir() else 0
        trial.notes.append(f"killed at step {at}")
        return self.finish(trial, out)


class Rerun(Scenario):
    """A command that makes a folder and, run again, finishes it: kill it, rerun it, and compare
    the folder with an uninterrupted run's. Subclasses give `argv(out)`, `midway(out)`, the
    folders' name in notes (`what`) and `check_more(trial, out)`."""

    what = "folder"
    unfinished_ok: tuple[str, ...] = ()  # files rewritten as the work goes (not final when seen)

    def setup(self) -> None:
        """Make the inputs (before the reference runs)."""

    def prepare(self) -> float:
        self.setup()
        out = self.work / "reference"
        for log in self.runs():
            shutil.rmtree(out, ignore_errors=True)
            seconds = self.reference(self.argv(out), log)
        self.ref = tree_digest(out)
        return seconds

    def check_more(self, trial: Trial, out: Path) -> None:
        """Checks of the resumed folder beyond its files' digests."""

    def trial(self, index: int, kill_at: float | None = None, midway: bool = False) -> Trial:
        trial = Trial(self.name, index, kill_at)
        out = self.work / f"trial-{index:03d}"
        shutil.rmtree(out, ignore_errors=True)
        self.kill_when = self.midway(out) if midway else None
        trial.killed = self.run(self.argv(out), f"trial-{index:03d}-killed.log", kill_after=kill_at).killed
        if out.is_dir():
            for rel, digest in tree_digest(out).items():  # whatever is visible is final
                if rel not in self.unfinished_ok and self.ref.get(rel) != digest:
                    trial.problem(f"{rel}: visible after the kill but not the finished file")
        self.rerun_ok(trial, self.run(self.argv(out), f"trial-{index:03d}-rerun.log"))
        got = tree_digest(out)
        if got != self.ref:
            differ = sorted(set(got) ^ set(self.ref) | {k for k in got if self.ref.get(k) != got[k]})
            trial.problem(f"the rerun's {self.what} differs from the uninterrupted one: {differ[:5]}")
        self.check_more(trial, out)
        trial.leftovers = len(hidden_leftovers(out))
        return self.finish(trial, out)


class Synth(Rerun):
    """`msgld data synth`, then the same command again."""

    name = "synth"

    def __init__(self, work, mode="fork", keep=False, tracks: int = 3):
        super().__init__(work, mode, keep)
        self.tracks = tracks

    def midway(self, out: Path):
        return lambda: any(p for p in out.glob("*/Track*") if p.is_dir())  # a first track is done

    def argv(self, out: Path) -> list[str]:
        return ["data", "synth", "--out", str(out), "--tracks", str(self.tracks), "--seed", "0",
                "--backend", "tinysoundfont", "--duration-range", "3", "4", "--workers", "1", "--quiet"]


class Encode(Rerun):
    """`msgld data encode`, then the same command again."""

    name = "encode"
    what = "cache"
    unfinished_ok = ("cache.json",)

    def __init__(self, work, mode="fork", keep=False, tracks: int = 6):
        super().__init__(work, mode, keep)
        self.tracks = tracks

    def midway(self, out: Path):
        return lambda: any(p for p in out.glob("train/*.safetensors") if not p.name.startswith("."))

    def argv(self, out: Path) -> list[str]:
        return ["data", "encode", "--data", str(self.data), "--vae", str(self.vae), "--out", str(out), "--quiet"]

    def setup(self) -> None:
        from msgld.inference.debug_model import make_debug_model
        from msgld.testing import make_multitrack_folder

        self.data = make_multitrack_folder(self.work / "stems", {"train": self.tracks, "validation": 1}, seconds=1.5)
        self.vae = make_debug_model(self.work / "model", vocoder=False) / "vae"

    def check_more(self, trial: Trial, out: Path) -> None:
        from msgld.data.latent_cache import LatentDataset

        try:
            n = len(LatentDataset(out, "train", frames=8).tracks)
            if n != self.tracks:
                trial.problem(f"LatentDataset reads {n} tracks, not {self.tracks}")
        except Exception as e:
            trial.problem(f"LatentDataset does not open the resumed cache: {e}")


def scenarios(work: str | Path, mode: str = "fork", names: list[str] | None = None, keep: bool = False,
              warm_up: bool = True) -> list[Scenario]:
    made = {
        "separate": lambda: SeparateBatch(work, mode, keep),
        "train-vae": lambda: Train(work, "vae", mode, keep),
        "train-vocoder": lambda: Train(work, "vocoder", mode, keep),
        "train-ldm": lambda: Train(work, "ldm", mode, keep),
        "synth": lambda: Synth(work, mode, keep),
        "encode": lambda: Encode(work, mode, keep),
    }
    unknown = set(names or []) - set(made)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {sorted(made)}")
    chosen = [made[n]() for n in (names or made)]
    for scenario in chosen:
        scenario.warm_up = warm_up
    return chosen


def mean_seconds(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0
