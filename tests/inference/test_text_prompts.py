"""Prompts through the pipelines, on a debug model with a text pathway for the weight-free
`keywords` encoder: the text's own guidance weight, seeded and recorded, refused by a model
without text, and never used by separation unless asked."""

from __future__ import annotations

import json

import pytest
import torch

from msgld.diffusion.sampling import guidance_terms, guided_eps
from msgld.inference import Arranger, Generator, Separator
from msgld.inference.bundle import load_bundle
from msgld.inference.debug_model import make_debug_model
from msgld.inference.settings import SettingError

SR = 16000


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    return make_debug_model(tmp_path_factory.mktemp("debug-text-model"), text_encoder="keywords")


@pytest.fixture(scope="module")
def text_bundle(text_model):
    return load_bundle(text_model)


def latents(gen: Generator, seed: int = 0, **settings) -> torch.Tensor:
    s = gen.resolve(steps=2, **settings)
    return gen.sample_latents(gen.geometry.window_frames, s, gen.generators([seed]))


def test_guidance_terms_compose_the_two_weights():
    assert guidance_terms(False, 0.0, 1.0) == [(False, True, 1.0)]
    assert guidance_terms(False, 0.0, 3.0) == [(False, False, -2.0), (False, True, 3.0)]
    assert guidance_terms(True, 1.0, 1.0) == [(True, True, 1.0)]
    assert guidance_terms(True, 3.0, 2.0) == [(False, False, -2.0), (True, False, 1.0), (True, True, 2.0)]

    calls = []

    def model(z, t, cond, text=None):  # each pass's output says which conditions it saw
        calls.append(z.shape[0])
        c = 0 if cond is None else cond.flatten(1).sum(1)
        return torch.ones_like(z) * (1 + 10 * torch.as_tensor(c).view(-1, *[1] * (z.ndim - 1))
                                     + 100 * text.sum(1).view(-1, *[1] * (z.ndim - 1)))

    z, t = torch.zeros(2, 1, 1, 1, 1), torch.tensor([5])
    cond, text = torch.ones(2, 1, 1, 1), torch.ones(2, 1)
    eps = guided_eps(model, z, t, cond, 3.0, text, 2.0)
    uu, cu, ct = 1.0, 11.0, 111.0
    torch.testing.assert_close(eps, torch.full_like(z, uu + 3 * (cu - uu) + 2 * (ct - cu)))
    assert calls == [6]  # three passes in one batch
    eps = guided_eps(model, z, t, None, 0.0, text, 4.0)
    torch.testing.assert_close(eps, torch.full_like(z, uu + 4 * (101.0 - uu)))


def test_prompt_changes_generation_and_is_seeded(text_bundle):
    gen = Generator(text_bundle)
    plain, a, again = latents(gen), latents(gen, prompt="slow jazz"), latents(gen, prompt="slow jazz")
    torch.testing.assert_close(a, again, rtol=0, atol=0)
    assert (a - plain).abs().mean() > 1e-3
    assert (latents(gen, prompt="fast metal") - a).abs().mean() > 1e-3
    weak = latents(gen, prompt="slow jazz", text_guidance=0.0)  # w_t = 0: the prompt has no say
    torch.testing.assert_close(weak, plain)
    piece = gen.generate(duration=1.0, seed=0, steps=2, prompt="slow jazz")
    assert piece.shape == (4, SR) and torch.isfinite(piece).all()


def test_arrangement_and_separation_take_a_prompt_only_when_asked(text_bundle, bundle):
    arr = Arranger(text_bundle)
    drums = torch.randn(SR) * 0.1
    a = arr.arrange({"drums": drums}, seed=0, steps=2, sample_rate=SR)
    b = arr.arrange({"drums": drums}, seed=0, steps=2, sample_rate=SR, prompt="fast funk with slap bass")
    torch.testing.assert_close(a[1], b[1])  # the given stem stays
    assert (a[0] - b[0]).abs().max() > 0
    sep = Separator(text_bundle)
    mix = torch.randn(SR) * 0.1
    s_plain = sep.separate(mix, sample_rate=SR, seed=0)
    s_hint = sep.separate(mix, sample_rate=SR, seed=0, prompt="drums only")
    assert (s_plain - s_hint).abs().max() > 0
    torch.testing.assert_close(s_hint.sum(0), mix, atol=1e-4, rtol=0)
    assert sep.settings()["prompt"] is None  # separation ignores text unless asked


def test_model_without_text_refuses_a_prompt_clearly(bundle):
    for pipeline in (Generator(bundle), Separator(bundle), Arranger(bundle)):
        with pytest.raises(SettingError, match="has no text pathway") as e:
            pipeline.settings(prompt="slow jazz")
        assert e.value.name == "prompt"
    assert Generator(bundle).settings()["prompt"] is None
    with pytest.raises(SettingError, match="prompt is empty"):
        Generator(bundle).settings(prompt="  ")


def test_cli_generate_with_prompt_records_it(text_model, debug_model, tmp_path, capsys):
    from msgld.cli import main

    out = tmp_path / "gen"
    assert main(["generate", "--model", str(text_model), "-n", "1", "--duration", "1.0", "--steps", "2", "-q",
                 "--prompt", "slow jazz with an upright bass", "--text-guidance", "2.5", "-o", str(out)]) == 0
    record = json.loads((out / "sample_000" / "run.json").read_text())
    assert record["settings"]["prompt"] == "slow jazz with an upright bass"
    assert record["settings"]["text_guidance"] == 2.5 and record["seed"] == 0
    code = main(["generate", "--model", str(debug_model), "--duration", "1.0", "--steps", "1", "-q",
                 "--prompt", "slow jazz", "-o", str(tmp_path / "no")])
    assert code == 2 and "--prompt: " in capsys.readouterr().err and not (tmp_path / "no").exists()
    arranged = tmp_path / "arr"
    drums = tmp_path / "drums.wav"
    import soundfile as sf

    sf.write(drums, (torch.randn(SR) * 0.1).numpy(), SR)
    assert main(["arrange", "--model", str(text_model), "--given", f"drums={drums}", "--steps", "2", "-q",
                 "--prompt", "fast funk", "-o", str(arranged)]) == 0
    assert json.loads((arranged / "run.json").read_text())["settings"]["prompt"] == "fast funk"


def test_stem_prompts_compose_into_the_one_text_condition(text_bundle, bundle):
    from msgld.inference.text_condition import text_condition

    gen = Generator(text_bundle)
    s = gen.settings(prompt="slow jazz", stem_prompts={"guitar": "nylon-string lead", "bass": "slap bass"})
    assert s["prompt"] == "slow jazz, with a slap bass and a nylon-string lead guitar" and s["stem_prompts"] is None
    assert gen.settings(**s) == s  # recorded settings `**`-ed back in: composed once, the same run
    composed, plain = text_condition(text_bundle, s["prompt"], 1), text_condition(text_bundle, "slow jazz", 1)
    assert (composed - plain).abs().max() > 0.1  # the stem prompts reach the model's text input
    a = latents(gen, prompt="slow jazz", stem_prompts={"guitar": "nylon-string lead"})
    torch.testing.assert_close(a, latents(gen, prompt="slow jazz, with a nylon-string lead guitar"), rtol=0, atol=0)
    assert (a - latents(gen, prompt="slow jazz")).abs().mean() > 1e-3
    assert gen.settings(stem_prompts={"drums": "brushed"})["prompt"] == "with brushed drums"  # no global prompt
    for bad, words in (({"flute": "wooden"}, r"unknown stem 'flute'.*\['bass', 'drums', 'guitar', 'piano'\]"),
                       ({"bass": " "}, "stem prompt of 'bass' is empty"), ("bass=slap", "must be a dict")):
        with pytest.raises(SettingError, match=words) as e:
            gen.settings(stem_prompts=bad)
        assert e.value.name == "stem_prompts"
    for pipeline in (Generator(bundle), Arranger(bundle)):
        with pytest.raises(SettingError, match="has no text pathway.*cannot follow stem prompts") as e:
            pipeline.settings(stem_prompts={"guitar": "nylon-string lead"})
        assert e.value.name == "stem_prompts"
    with pytest.raises(SettingError, match="unknown separation settings"):
        Separator(text_bundle).settings(stem_prompts={"guitar": "x"})


def test_arrangement_composes_a_stem_prompt_of_a_given_stem(text_bundle):
    arr = Arranger(text_bundle)
    drums = torch.randn(SR) * 0.1
    assert arr.settings(prompt="funk", stem_prompts={"drums": "808", "bass": "slap bass"})["prompt"] == (
        "funk, with a slap bass and 808 drums")
    a = arr.arrange({"drums": drums}, seed=0, steps=2, sample_rate=SR, prompt="funk")
    b = arr.arrange({"drums": drums}, seed=0, steps=2, sample_rate=SR, prompt="funk", stem_prompts={"drums": "808"})
    torch.testing.assert_close(a[1], b[1])  # the given stem stays
    assert (a[0] - b[0]).abs().max() > 0  # its description still steers the written ones


def test_cli_stem_prompts_are_composed_and_recorded(text_model, debug_model, tmp_path, capsys):
    import soundfile as sf

    from msgld.cli import main

    out = tmp_path / "gen"
    assert main(["generate", "--model", str(text_model), "--duration", "1.0", "--steps", "1", "-q", "--prompt",
                 "slow jazz", "--stem-prompt", "guitar=nylon-string lead", "--stem-prompt", "bass=slap bass",
                 "-o", str(out)]) == 0
    for record in (json.loads((out / "sample_000" / "run.json").read_text()), json.loads((out / "run.json").read_text())):
        assert record["settings"]["prompt"] == "slow jazz, with a slap bass and a nylon-string lead guitar"
    for args, words in ((["--stem-prompt", "flute=wooden"], "--stem-prompt: unknown stem 'flute'"),
                        (["--stem-prompt", "guitar"], "--stem-prompt: 'guitar': expected STEM=TEXT"),
                        (["--stem-prompt", "guitar="], "--stem-prompt: the stem prompt of 'guitar' is empty")):
        code = main(["generate", "--model", str(text_model), "--duration", "1.0", "--steps", "1", "-q", *args,
                     "-o", str(tmp_path / "no")])
        assert code == 2 and words in capsys.readouterr().err and not (tmp_path / "no").exists()
    code = main(["generate", "--model", str(debug_model), "--duration", "1.0", "--steps", "1", "-q",
                 "--stem-prompt", "guitar=nylon", "-o", str(tmp_path / "no")])
    assert code == 2 and "--stem-prompt: the model" in capsys.readouterr().err
    drums = tmp_path / "drums.wav"
    sf.write(drums, (torch.randn(SR) * 0.1).numpy(), SR)
    arranged = tmp_path / "arr"
    assert main(["arrange", "--model", str(text_model), "--given", f"drums={drums}", "--steps", "1", "-q",
                 "--stem-prompt", "drums=brushed", "--stem-prompt", "piano=honky-tonk", "-o", str(arranged)]) == 0
    assert json.loads((arranged / "run.json").read_text())["settings"]["prompt"] == (
        "with brushed drums and a honky-tonk piano")
    helps = {}
    for name in ("generate", "arrange", "separate"):
        with pytest.raises(SystemExit):
            main([name, "--help"])
        helps[name] = capsys.readouterr().out
    assert "--stem-prompt STEM=TEXT" in helps["generate"] and "--stem-prompt STEM=TEXT" in helps["arrange"]
    assert "--stem-prompt" not in helps["separate"]  # separation takes none
