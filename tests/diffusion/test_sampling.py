import pytest
import torch

from msgld.config import load_config
from msgld.diffusion.samplers import SAMPLERS, make_scheduler
from msgld.diffusion.sampling import guided_eps, sample_latents
from msgld.models.unet3d import build_ldm

DIFF = load_config("ldm", "tiny")["diffusion"]


class Recorder(torch.nn.Module):
    """A stand-in network: eps = 0.1 z + (cond mean if conditioned); records its calls."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))
        self.calls = []
        self.diffusion_config = DIFF

    def forward(self, z, t, cond):
        self.calls.append((z.shape[0], None if cond is None else cond.flatten(1).abs().sum(1).tolist()))
        out = 0.1 * z
        if cond is not None:
            out = out + cond.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1, 1)
        return out


def test_guidance_passes():
    m, z, t = Recorder(), torch.randn(2, 4, 8, 4, 4), torch.tensor([10])
    cond = torch.ones(2, 8, 4, 4)
    guided_eps(m, z, t, cond, 0.0)
    guided_eps(m, z, t, cond, 1.0)
    out = guided_eps(m, z, t, cond, 3.0)
    assert m.calls[0] == (2, None)                 # w = 0: unconditional only
    assert m.calls[1] == (2, [128.0, 128.0])       # w = 1: conditional only
    assert m.calls[2] == (4, [0.0, 0.0, 128.0, 128.0])  # both, as one doubled batch
    torch.testing.assert_close(out, 0.1 * z + 3.0)  # eps_u + 3 (eps_c - eps_u)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("steps", [1, 7, 20])
def test_every_sampler_any_steps(sampler, steps):
    s = make_scheduler(sampler, DIFF, steps)
    # PLMS repeats its first timestep to warm up its multistep history: one evaluation more
    assert len(s.timesteps) == steps + (sampler == "plms" and steps > 1)
    m = Recorder()
    g = torch.Generator().manual_seed(0)
    z = sample_latents(m, (1, 4, 8, 4, 4), torch.ones(1, 8, 4, 4), 2.0, sampler, steps, generator=g)
    assert z.shape == (1, 4, 8, 4, 4) and torch.isfinite(z).all()
    assert len(m.calls) == len(s.timesteps)


def test_deterministic_given_seed():
    m = Recorder()
    a = sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 5, eta=1.0, generator=torch.Generator().manual_seed(3))
    b = sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 5, eta=1.0, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_known_stems_are_kept_and_repaint_repeats_steps():
    m = Recorder()
    known = torch.randn(1, 4, 8, 4, 4)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 4, 1, 1, 1)
    z = sample_latents(m, known.shape, None, 0.0, "ddim", 6, known=known, known_mask=mask, repaint=2,
                       generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z[:, [0, 2]], known[:, [0, 2]])
    assert not torch.allclose(z[:, 1], known[:, 1])
    assert len(m.calls) == 6 * 3
    with pytest.raises(ValueError, match="RePaint"):
        sample_latents(m, known.shape, None, 0.0, "plms", 6, known=known, known_mask=mask, repaint=1)


def test_x0_hook_constrains_the_estimate():
    m = Recorder()
    z = sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 10, x0_hook=lambda x0, t: torch.zeros_like(x0),
                       generator=torch.Generator().manual_seed(0))
    assert z.abs().max() < 1e-3  # every clean estimate forced to 0 -> DDIM (eta 0) lands on 0


def test_unknown_sampler_and_steps():
    with pytest.raises(ValueError, match="choose one of"):
        make_scheduler("euler-x", DIFF, 10)
    with pytest.raises(ValueError, match="steps"):
        make_scheduler("ddim", DIFF, 0)


def test_real_unet_v_prediction_runs():
    net = build_ldm({"model": {"channels": 8, "channel_mult": [1, 2], "attention_levels": [1], "head_dim": 8,
                               "norm_groups": 4}, "diffusion": {**DIFF, "prediction_type": "v_prediction"}})
    z = sample_latents(net, (1, 4, 8, 8, 8), torch.randn(1, 8, 8, 8), 2.0, "dpmsolver++", 3,
                       generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(z).all()


def test_bf16_precision_runs_the_network_under_autocast():
    seen = []

    class DtypeRecorder(Recorder):
        def forward(self, z, t, cond):
            out = torch.nn.functional.linear(z, torch.eye(z.shape[-1]))  # autocast casts matmuls
            seen.append(out.dtype)
            return out

    m = DtypeRecorder()
    z = sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 3, precision="bf16")
    assert seen == [torch.bfloat16] * 3 and z.dtype == torch.float32  # the sampler's arithmetic stays fp32
    sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 1)
    assert seen[-1] == torch.float32
    with pytest.raises(ValueError, match="bf16"):
        sample_latents(m, (1, 4, 8, 4, 4), None, 0.0, "ddim", 1, precision="fp8")


def test_auto_precision_follows_the_hardware(monkeypatch):
    from msgld.diffusion import sampling

    monkeypatch.setattr(sampling, "native_bf16", lambda device: True)
    assert sampling.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(sampling, "native_bf16", lambda device: False)
    assert sampling.resolve_precision("auto", "cpu") == "fp32"
    assert sampling.resolve_precision("bf16", "cpu") == "bf16"  # asked for explicitly: kept
    assert sampling.native_bf16("meta") is False


def test_trailing_spacing_starts_at_T_and_leading_does_not():
    assert make_scheduler("ddim", DIFF, 1, "trailing").timesteps.tolist() == [999]
    assert make_scheduler("ddim", DIFF, 3, "trailing").timesteps.tolist()[0] == 999
    assert make_scheduler("ddim", DIFF, 1, "leading").timesteps.tolist() == [1]
    with pytest.raises(ValueError, match="spacing"):
        make_scheduler("ddim", DIFF, 3, "middle")


class X0Oracle(torch.nn.Module):
    """Predicts x0 = a fixed target exactly (prediction type `sample`)."""

    def __init__(self, target):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))
        self.target = target
        self.diffusion_config = {**DIFF, "prediction_type": "sample"}
        self.calls = 0

    def forward(self, z, t, cond):
        self.calls += 1
        return self.target.expand_as(z)


def test_one_trailing_step_returns_the_x0_estimate():
    target = torch.randn(1, 4, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    m = X0Oracle(target)
    z = sample_latents(m, tuple(target.shape), None, 0.0, "ddim", 1, generator=torch.Generator().manual_seed(1))
    assert m.calls == 1
    torch.testing.assert_close(z, target, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sampler", ["ddim", "dpmsolver++"])
def test_warm_start_runs_only_the_last_steps(sampler):
    target = torch.randn(1, 4, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    m = X0Oracle(target)
    z = sample_latents(m, tuple(target.shape), None, 0.0, sampler, 10, init=torch.zeros_like(target), strength=0.3,
                       generator=torch.Generator().manual_seed(1))
    assert m.calls == 3
    torch.testing.assert_close(z, target, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="strength"):
        sample_latents(m, tuple(target.shape), None, 0.0, sampler, 10, init=target, strength=0.0)


def test_skipping_the_last_pass_ends_on_the_previous_steps_clean_estimate():
    target = torch.randn(1, 4, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    m = X0Oracle(target)
    z = sample_latents(m, tuple(target.shape), None, 0.0, "ddim", 3, spacing="leading", last_pass="skip",
                       generator=torch.Generator().manual_seed(1))
    assert m.calls == 2  # t = 667 and 334; the pass at t = 1 is not run
    torch.testing.assert_close(z, target, rtol=1e-4, atol=1e-4)  # a clean estimate, not x_1 with noise left
    r = Recorder()
    full = sample_latents(r, tuple(target.shape), None, 0.0, "ddim", 3, spacing="leading",
                          generator=torch.Generator().manual_seed(1))
    skipped = sample_latents(r, tuple(target.shape), None, 0.0, "ddim", 3, spacing="leading", last_pass="skip",
                             generator=torch.Generator().manual_seed(1))
    assert len(r.calls) == 5 and not torch.equal(full, skipped)
    for bad in (dict(sampler="plms", steps=3), dict(sampler="ddim", steps=1)):
        with pytest.raises(ValueError, match="last pass"):
            sample_latents(r, tuple(target.shape), None, 0.0, bad["sampler"], bad["steps"], last_pass="skip")


def test_auto_last_pass_skips_only_a_last_step_at_t_1():
    target = torch.randn(1, 4, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    for spacing, steps, sampler, calls in (("leading", 3, "ddim", 2), ("trailing", 3, "ddim", 3),
                                           ("leading", 1, "ddim", 1), ("leading", 3, "dpmsolver++", 3)):
        m = X0Oracle(target)
        sample_latents(m, tuple(target.shape), None, 0.0, sampler, steps, spacing=spacing, last_pass="auto",
                       generator=torch.Generator().manual_seed(1))
        assert m.calls == calls, (spacing, steps, sampler)


def test_a_network_with_the_given_pathway_sees_the_known_latents_clean():
    class Given(Recorder):
        has_given = True

        def forward(self, z, t, cond, given=None):
            self.calls.append(given)
            return 0.1 * z

    m, known = Given(), torch.randn(1, 4, 8, 4, 4)
    mask = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 4, 1, 1, 1)
    sample_latents(m, known.shape, None, 0.0, "ddim", 3, known=known, known_mask=mask)
    assert len(m.calls) == 3 and all(torch.equal(k, known) and torch.equal(g, mask.expand_as(known))
                                     for k, g in m.calls)
    m.calls.clear()
    sample_latents(m, known.shape, None, 0.0, "ddim", 3, known=known, known_mask=mask, given_adapter=False)
    assert m.calls == [None] * 3
    sample_latents(m, known.shape, None, 0.0, "ddim", 2)  # nothing known: nothing given
    assert m.calls == [None] * 5


class GivenShift(Recorder):
    """A network with a given pathway whose output moves with what is given (nothing given:
    0.1 z, like the shipped pathway's exact zero)."""

    has_given = True

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, z, t, cond, given=None):
        self.batches.append(z.shape[0])
        out = 0.1 * z
        if given is not None:
            known, mask = given
            out = out + 0.5 * (known * mask).sum(1, keepdim=True)
        return out


def test_given_guidance_weighs_the_pathway_against_nothing_given():
    known = torch.randn(2, 4, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 4, 1, 1, 1)

    def run(steps, **kw):
        return sample_latents(GivenShift(), known.shape, None, 0.0, "ddim", steps, known=known, known_mask=mask,
                              generator=torch.Generator().manual_seed(1), **kw)

    torch.testing.assert_close(run(3, given_guidance=0.0), run(3, given_adapter=False))
    torch.testing.assert_close(run(3, given_guidance=1.0), run(3))
    assert not torch.allclose(run(3, given_guidance=2.0), run(3))
    # one DDIM step is linear in the network's output: weight 2 extrapolates 0 -> 1 once more
    torch.testing.assert_close(run(1, given_guidance=2.0), 2 * run(1) - run(1, given_guidance=0.0), atol=1e-4, rtol=1e-4)
    m = GivenShift()
    sample_latents(m, known.shape, None, 0.0, "ddim", 2, known=known, known_mask=mask, given_guidance=3.0)
    assert m.batches == [4, 4]  # the null and the given pass as one doubled batch
