"""Training the given-stems pathway alone (`optim.freeze_base: given`, issue 16): every base
weight stays as loaded, the pathway learns, a resumed run still knows the model it started from,
and the export names it, so a mask refiner made from that model's separation still packs."""

from __future__ import annotations

import json

import torch

from msgld.cli import main
from msgld.cli.train import parse_overrides
from msgld.config import load_config
from msgld.models.pack import hashes_of
from msgld.models.unet3d import build_ldm
from msgld.training.run import export_run
from msgld.weights import file_hash, load_model, save_model, weight_paths
from tests.training.conftest import SMALL

GIVEN = ["--set", "model.given_adapter=true", "--set", "optim.freeze_base=given", "--set", "objective.given_share=1.0"]


def test_the_given_pathway_trains_alone_and_its_export_names_the_source(cache, tmp_path):
    cfg = load_config("ldm", "tiny", parse_overrides([v for a, v in zip(SMALL, SMALL[1:]) if a == "--set"]))
    source_net = build_ldm(cfg)
    for p in source_net.parameters():  # a trained-looking source: zero-initialised convs pass no gradient
        torch.nn.init.normal_(p, std=0.05)
    source = tmp_path / "source" / "ldm"
    save_model(source_net, source, "ldm", {"model": cfg["model"], "diffusion": cfg["diffusion"]})
    run = tmp_path / "run"
    args = ["train", "ldm", "--data", str(cache), "--out", str(run), "--batch-size", "2", "--no-progress",
            "--checkpoint-every", "1", "--val-every", "2", "--limit-val-batches", "1", *SMALL, *GIVEN,
            "--set", f"train.init_from={source}"]
    assert main([*args, "--max-steps", "2"]) == 0
    assert main([*args, "--max-steps", "3", "--resume"]) == 0  # built without init_from: the hash comes back
    net = load_model(run / "weights" / "final" / "ldm")
    trained = net.state_dict()
    for k, v in load_model(source, kind="ldm").state_dict().items():
        torch.testing.assert_close(trained[k], v, rtol=0, atol=0)
    projections = [m.given.weight for m in net.modules() if isinstance(getattr(m, "given", None), torch.nn.Conv3d)]
    assert net.has_given and projections and any(w.abs().max() > 0 for w in projections)  # the pathway learned
    info = json.loads((run / "weights" / "final" / "ldm.json").read_text())
    source_hash = file_hash(weight_paths(source)[0])
    assert info["training"]["frozen_from"] == source_hash
    assert source_hash in hashes_of(net, run / "weights" / "final" / "ldm")
    exported = export_run(run, "last", tmp_path / "export")  # a run stopped early: the same record
    assert json.loads(weight_paths(exported)[1].read_text())["training"]["frozen_from"] == source_hash

    # a second pathway-only run from that export: without the pathway it is still the first source
    again = tmp_path / "again"
    args2 = [a if not a.startswith("train.init_from=") else f"train.init_from={run / 'weights' / 'final' / 'ldm'}"
             for a in args]
    args2[args2.index(str(run))] = str(again)
    assert main([*args2, "--max-steps", "1"]) == 0
    assert json.loads((again / "weights" / "final" / "ldm.json").read_text())["training"]["frozen_from"] == source_hash


def test_freeze_base_given_needs_the_pathway(cache, tmp_path):
    def args(out, freeze):
        return ["train", "ldm", "--data", str(cache), "--out", str(tmp_path / out), "--batch-size", "2",
                "--no-progress", "--max-steps", "1", *SMALL, "--set", f"optim.freeze_base={freeze}"]

    assert main(args("r", "given")) == 2  # the run's U-Net has no given-stems pathway
    assert main(args("r2", "everything")) == 2
