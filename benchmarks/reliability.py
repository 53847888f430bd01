"""The reliability battery: bad inputs, kill -9 at random moments, full and read-only disks,
weights from strangers. Prints what was tried, what happened, and the data lost (must be 0).

    python benchmarks/reliability.py                       # everything, 20 kill trials per command
    python benchmarks/reliability.py --trials 20 --train-trials 4 --json reliability.json

1. Bad inputs (`msgld.reliability.corpus`, the 1-hour file included): `msgld separate` on the
   folder, `msgld arrange --given bass=FILE` per file, `msgld evaluate separation` and
   `msgld data check` on a dataset with one track per file. As root, the commands run as user
   nobody (root reads chmod 000 files). Each outcome is compared with the case's expectation.
2. Kill -9 (`msgld.reliability.scenarios`): per command, SIGKILL at seeded uniform moments of an
   uninterrupted run's duration, then the rerun the README gives, checked against the reference.
   Children are forked from this process (torch already imported: the whole time to the kill
   is the command's work); `--mode exec` starts `python -m msgld` instead.
3. A 96 kB tmpfs (full) and a read-only one under `msgld separate`, and the three binary writers
   (checkpoint, weights, latents) on a full one (needs root to mount; skipped otherwise).
4. Weights: tampered bytes, a tampered header, a config that does not fit, format versions 0
   and 2, a torch.save pickle and a plain pickle renamed .safetensors (with a payload that would
   create a file if it were ever unpickled), NaN weights.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msgld.audio import validate  # noqa: E402
from msgld.reliability.corpus import CASES, make_corpus, make_dataset  # noqa: E402
from msgld.reliability.disk import can_mount, files_under, small_filesystem  # noqa: E402
from msgld.reliability.kill import NOBODY, kill_moments, run_command  # noqa: E402
from msgld.reliability.scenarios import scenarios  # noqa: E402

COMMANDS = ("separate", "arrange", "evaluate", "check")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def short(text: str, n: int = 70) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 3] + "..."


# -- 1. bad inputs -----------------------------------------------------------------------------
def classify(path: str, errors: list[str], lines: list[str]) -> tuple[str, str]:
    """("error" | "warning" | "ok", message) for one input from a command's errors and log lines."""
    for line in errors:
        if path in line:
            return "error", line.split(path, 1)[1].lstrip(": ")
    for line in lines:
        if path in line:
            return "warning", line.split(path, 1)[1].lstrip(": ")
    return "ok", ""


def bad_inputs(work: Path, model: Path, user: int | None) -> tuple[list[dict], float]:
    corpus = work / "corpus"
    cases = make_corpus(corpus)
    short_cases = [c for c in cases if not c.long]
    data = work / "dataset"
    entries = make_dataset(data, cases)
    out = work / "outputs"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    env = {"HOME": str(out), "MSGLD_CACHE": str(out / "cache")}
    results: dict[str, dict[str, tuple[str, str]]] = {c.name: {} for c in cases}
    started = time.monotonic()

    batch = corpus.parent / "batch"  # the corpus without the 1-hour file, as one folder batch
    batch.mkdir()
    for c in short_cases:
        os.rename(corpus / c.filename, batch / c.filename)
    run = run_command(["separate", str(batch), "-o", str(out / "separated"), "--model", str(model), "-q"],
                      out / "separate.log", user=user, env=env)
    status = {"separate": run.rc}
    tail = run.log.split("file(s) failed:", 1)
    errors = [x.strip() for x in tail[1].splitlines()] if len(tail) > 1 else []
    for c in short_cases:
        got = classify(str(batch / c.filename), errors, tail[0].splitlines())
        done = (out / "separated" / Path(c.filename).stem / "run.json").exists()
        if (got[0] == "error") == done:  # a refused file has no outputs, a used one all of them
            got = ("wrong", f"outputs {'written' if done else 'missing'}; {got[1]}")
        results[c.name]["separate"] = got
    long_case = next(c for c in cases if c.long)
    t0 = time.monotonic()
    warnings = validate.check_file(corpus / long_case.filename)
    results[long_case.name]["separate"] = ("ok" if not warnings else "warning",
                                           f"streamed whole in {time.monotonic() - t0:.1f} s (not separated)")

    for k, c in enumerate(short_cases):
        path = batch / c.filename
        run = run_command(["arrange", "--given", f"bass={path}", "--generate", "drums", "-o", str(out / f"arr{k}"),
                           "--model", str(model), "-q"], out / f"arrange{k}.log", user=user, env=env)
        lines = run.log.splitlines()
        errors = [x for x in lines if x.startswith("msgld: error:")] if run.rc else []
        results[c.name]["arrange"] = classify(str(path), errors, lines) if run.rc in (0, 2) else \
            ("crash", short(run.log[-200:]))
        if (run.rc == 2) != (results[c.name]["arrange"][0] == "error"):
            results[c.name]["arrange"] = ("wrong", f"exit status {run.rc}")
        status.setdefault("arrange", set()).add(run.rc)
    results[long_case.name]["arrange"] = ("n/a", "")

    evaluate_data = work / "evaluate-dataset"  # the same tracks without the 1-hour one
    eval_entries = make_dataset(evaluate_data, short_cases)
    run = run_command(["evaluate", "separation", "--data", str(evaluate_data), "--method", "mixture",
                       "--out", str(out / "eval.json"), "--no-progress"], out / "evaluate.log", user=user, env=env)
    skipped = json.loads((out / "eval.json").read_text()).get("skipped", []) if (out / "eval.json").exists() else []
    for c in short_cases:
        results[c.name]["evaluate"] = classify(str(eval_entries[c.name]), skipped, run.log.splitlines())
    results[long_case.name]["evaluate"] = ("n/a", "")
    status["evaluate"] = run.rc

    run = run_command(["data", "check", str(data), "--quiet"], out / "check.log", user=user, env=env)
    status["check"] = run.rc
    lines = run.log.splitlines()
    for c in cases:
        entry = entries[c.name]
        mine = [x.replace(f"{entry.parent}: ", f"{entry.parent}/") for x in lines
                if str(entry) in x or f"{entry.parent}: {entry.name}" in x]
        errors = [x for x in mine if x.startswith("error:")]
        warned = [x for x in mine if x.startswith("warning:") and "split folder missing" not in x]
        results[c.name]["check"] = classify(str(entry), errors, warned)

    rows = []
    for c in cases:
        row = {"case": c.name, "file": c.filename}
        for command in COMMANDS:
            got, message = results[c.name][command]
            want = "n/a" if got == "n/a" else c.expected(command, user is None and os.geteuid() == 0)[0]
            row[command] = {"outcome": got, "expected": want, "message": message}
        rows.append(row)
    status["arrange"] = sorted(status["arrange"])
    rows.append({"case": "exit status", "status": status, "as_user": "nobody" if user is not None else "self"})
    return rows, time.monotonic() - started


# -- 2. kill -9 --------------------------------------------------------------------------------
def kill_battery(work: Path, names: list[str], trials: int, train_trials: int, seed: int, mode: str) -> list[dict]:
    rows = []
    for scenario in scenarios(work, mode, names):
        started = time.monotonic()
        seconds = scenario.prepare()
        n = train_trials if scenario.name.startswith("train") else trials
        done = [scenario.trial(i, at) for i, at in enumerate(kill_moments(seed, n, seconds))]
        rows.append({
            "scenario": scenario.name, "trials": n, "reference_s": round(seconds, 1),
            "killed": sum(t.killed for t in done), "resumed": sum(t.resumed for t in done),
            "lost": sum(t.lost for t in done), "leftovers": sum(t.leftovers for t in done),
            "notes": [f"trial {t.index}: {note}" for t in done for note in t.notes if t.lost],
            "steps_at_kill": [t.notes[-1] for t in done if t.notes and t.notes[-1].startswith("killed at")],
            "seconds": round(time.monotonic() - started, 1),
        })
        print(f"kill -9 {scenario.name}: {rows[-1]['killed']}/{n} killed mid-run, {rows[-1]['resumed']} resumed, "
              f"lost {rows[-1]['lost']} ({rows[-1]['seconds']} s)", flush=True)
    return rows


# -- 3. full and read-only disks ---------------------------------------------------------------
def disk_faults(work: Path, model: Path) -> list[dict]:
    if not can_mount():
        return [{"fault": "full / read-only disk", "outcome": "skipped (mounting needs root)", "left": None}]
    from msgld.data.latent_cache import save_tensors
    from msgld.reliability.corpus import music
    from msgld.training.trainer import AtomicCheckpointIO
    from msgld.weights import save_model
    import soundfile as sf

    song = work / "disk-song.wav"
    sf.write(song, music(3.0), 16000, subtype="FLOAT")
    rows = []
    for label, kb, ro in (("full disk (96 kB tmpfs): msgld separate", 96, False),
                          ("read-only disk: msgld separate", 1024, True)):
        with small_filesystem(kb, read_only=ro) as disk:
            run = run_command(["separate", str(song), "-o", str(disk / "out"), "--model", str(model), "-q"],
                              work / "disk.log")
            error = next((x for x in run.log.splitlines() if x.startswith("msgld: error:")), run.log[-200:])
            rows.append({"fault": label, "outcome": f"exit {run.rc}: {error}", "left": len(files_under(disk))})
    big = {"a": torch.zeros(100_000)}
    for label, write in (
        ("full disk: checkpoint (AtomicCheckpointIO)",
         lambda d: AtomicCheckpointIO().save_checkpoint(big, d / "last.ckpt")),
        ("full disk: weights (save_model)", lambda d: save_model(torch.nn.Linear(300, 300), d / "lin", "linear", {})),
        ("full disk: latents (msgld data encode)", lambda d: save_tensors(big, d / "Track00001.safetensors")),
    ):
        with small_filesystem(64) as disk:
            try:
                write(disk)
                outcome = "no error (wrong)"
            except OSError as e:
                outcome = f"OSError: {e.filename}: {e.strerror}"
            rows.append({"fault": label, "outcome": outcome, "left": len(files_under(disk))})
    return rows


# -- 4. weights from strangers -----------------------------------------------------------------
class Payload:
    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def weight_faults(work: Path) -> list[dict]:
    from msgld.config import load_config
    from msgld.models.vocoder import build_vocoder
    from msgld.weights import WeightsError, load_model, register_kind, save_model

    cfg = {**load_config("vocoder", "tiny")["model"], "upsample_initial_channel": 32}
    marker = work / "unpickled"

    def fresh(name: str) -> tuple[Path, Path]:
        folder = work / "weights" / name
        folder.mkdir(parents=True)
        torch.manual_seed(0)
        return save_model(build_vocoder(cfg), folder / "voc", "vocoder", cfg)

    def flip(t: Path, j: Path) -> None:
        data = bytearray(t.read_bytes())
        data[-7] ^= 0x40
        t.write_bytes(bytes(data))

    def header(t: Path, j: Path) -> None:
        data = t.read_bytes()
        n = int.from_bytes(data[:8], "little")
        head = json.loads(data[8:8 + n])
        name = next(k for k in head if k != "__metadata__")
        head[name]["shape"][0] *= 2
        text = json.dumps(head).encode()
        text += b" " * max(0, n - len(text))
        t.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])

    def edit(**changes):
        def apply(t: Path, j: Path) -> None:
            info = json.loads(j.read_text())
            for key, value in changes.items():
                if key == "config":
                    info["config"].update(value)
                else:
                    info[key] = value
            j.write_text(json.dumps(info))
        return apply

    def torch_pickle(t: Path, j: Path) -> None:
        p = Payload()
        p.marker = str(marker)
        torch.save({"weight": torch.zeros(2), "payload": p}, t)

    def plain_pickle(t: Path, j: Path) -> None:
        p = Payload()
        p.marker = str(marker)
        t.write_bytes(pickle.dumps(p))

    faults = [("tampered tensor bytes (one bit)", flip), ("tampered header (a shape)", header),
              ("JSON config that does not fit the tensors", edit(config={"upsample_initial_channel": 64})),
              ("format version 0 (old)", edit(version=0)), ("format version 2 (future)", edit(version=2)),
              ("JSON of another tool", edit(format="other-tool")), ("tensors of another kind", edit(kind="vae")),
              ("torch.save pickle renamed .safetensors", torch_pickle),
              ("plain pickle renamed .safetensors", plain_pickle)]
    rows = []
    for k, (label, spoil) in enumerate(faults):
        t, j = fresh(f"w{k}")
        spoil(t, j)
        try:
            load_model(j)
            outcome = "loaded (wrong)"
        except WeightsError as e:
            outcome = "refused: " + str(e).split(": ", 1)[1]
        rows.append({"fault": label, "outcome": outcome})
    lin = torch.nn.Linear(3, 3)
    with torch.no_grad():
        lin.weight[0, 0] = float("nan")
    register_kind("bench-linear3", lambda c: torch.nn.Linear(3, 3))
    save_model(lin, work / "weights" / "nan", "bench-linear3", {})
    try:
        load_model(work / "weights" / "nan")
        rows.append({"fault": "NaN weights", "outcome": "loaded (wrong)"})
    except WeightsError as e:
        rows.append({"fault": "NaN weights", "outcome": "refused: " + str(e).split(": ", 1)[1]})
    rows.append({"fault": "payload unpickled", "outcome": "yes (wrong)" if marker.exists() else "never"})
    return rows


# -- report ------------------------------------------------------------------------------------
def report(result: dict) -> str:
    parts = []
    inputs = [r for r in result["inputs"] if "file" in r and r["file"]]
    wrong = [(r["case"], c) for r in inputs for c in COMMANDS
             if r[c]["outcome"] != "n/a" and r[c]["outcome"] != r[c]["expected"]]
    tried = sum(r[c]["outcome"] != "n/a" for r in inputs for c in COMMANDS)
    kills = result["kills"]
    status = next((r for r in result["inputs"] if r.get("case") == "exit status"), {}).get("status", {})
    said = ", ".join(f"{c} {v}" for c, v in status.items())
    summary = [["bad inputs", f"{len(inputs)} entries x 4 commands = {tried} outcomes",
                f"{tried - len(wrong)} as expected" + (f"; NOT: {wrong}" if wrong else "") +
                (f"; exit status {said}" if said else ""), 0]] if inputs else []
    for r in kills:
        summary.append([f"kill -9: {r['scenario']}", f"{r['trials']} trials", f"{r['killed']} killed mid-run, "
                        f"{r['resumed']} resumed and complete; {r['leftovers']} hidden temp files left", r["lost"]])
    for r in result["disk"]:
        left = f"; files left: {r['left']}" if r["left"] is not None else ""
        summary.append([r["fault"], "1", short(r["outcome"], 90) + left, r["left"] or 0])
    for r in result["weights"]:
        summary.append([f"weights: {r['fault']}", "1", short(r["outcome"], 90), "-"])
    parts.append(table(["fault", "tried", "outcome", "data lost"], summary))
    rows = []
    for r in inputs:
        cells = []
        for c in COMMANDS:
            got = r[c]
            mark = "" if got["outcome"] in ("n/a", got["expected"]) else " (expected " + got["expected"] + ")"
            cells.append(got["outcome"] + mark)
        message = next((r[c]["message"] for c in COMMANDS if r[c]["message"]), "")
        rows.append([r["case"], f"`{r['file']}`", *cells, short(message)])
    parts.append(table(["input", "file", *COMMANDS, "message (first command that said something)"], rows))
    lost = sum(r["lost"] for r in kills) + sum(r["left"] or 0 for r in result["disk"])
    parts.append(f"data lost: {lost}")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20, help="kill trials per command (default 20)")
    p.add_argument("--train-trials", type=int, help="kill trials per training kind (default: --trials)")
    p.add_argument("--scenarios", help="comma-separated kill scenarios (default all: separate, train-vae, "
                                       "train-vocoder, train-ldm, synth, encode)")
    p.add_argument("--skip", default="", help="comma-separated sections to skip: inputs, kills, disk, weights")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--mode", choices=("fork", "exec"), default="fork")
    p.add_argument("--work", help="work folder (default: a temporary one, removed)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    skip = set(filter(None, args.skip.split(",")))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="msgld-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    started = time.monotonic()
    try:
        from msgld.inference.debug_model import make_debug_model

        model = make_debug_model(work / "model")
        user = NOBODY if os.geteuid() == 0 else None
        result = {"inputs": [], "kills": [], "disk": [], "weights": []}
        if "inputs" not in skip:
            result["inputs"], seconds = bad_inputs(work, model, user)
            print(f"bad inputs: {seconds:.0f} s", flush=True)
        if "kills" not in skip:
            names = args.scenarios.split(",") if args.scenarios else None
            result["kills"] = kill_battery(work / "kill", names, args.trials, args.train_trials or args.trials,
                                           args.seed, args.mode)
        if "disk" not in skip:
            result["disk"] = disk_faults(work, model)
        if "weights" not in skip:
            result["weights"] = weight_faults(work)
        result["seconds"] = round(time.monotonic() - started, 1)
        result["command"] = " ".join(["python benchmarks/reliability.py", *(argv or sys.argv[1:])])
        print(report(result))
        print(f"\n({result['seconds']:.0f} s; {result['command']})")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    finally:
        if not args.work:
            for path in work.rglob("*"):  # the corpus holds a chmod 000 file
                if not path.is_symlink():
                    path.chmod(0o755)
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
