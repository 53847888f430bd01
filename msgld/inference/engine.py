"""The one inference engine: separation, generation and arrangement are thin modes on it.

`Engine` owns the model bundle, the window geometry (`bundle.geometry`), the typed settings
(each mode's class-level `defaults` dict validated by its `Settings` dataclass), the seeded
generators and the one call into the reverse process (`sample`), so the sampler options are
mapped in one place. Long inputs go through `msgld.audio.chunking`'s batched windowed apply
(separation, decoding) or window-by-window continuation (generation, arrangement).

A `prompt` setting (models with a text pathway; msgld.inference.text_condition) becomes the
text condition of every window, guided by `text_guidance`; a model without one refuses it.

Callbacks: `progress(done, total)` after each window (or batch of windows); `callback(info)`
after every sampler step, as k-diffusion's samplers report: a dict with `window`, `windows`,
`step`, `steps`, `t` and `x0`, the current clean-latent estimate [B, S, C, T, F].
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
import torch

from msgld.audio.io import resample
from msgld.diffusion.samplers import make_scheduler
from msgld.diffusion.sampling import resolve_precision, sample_latents, skips_last_pass
from msgld.inference.bundle import DEFAULT_MODEL, ModelBundle, load_bundle
from msgld.inference.codec import decode_mels, vocode
from msgld.inference.geometry import WindowGeometry
from msgld.inference.settings import SettingError, Settings
from msgld.inference.text_condition import check_prompt, text_condition

Progress = Callable[[int, int], None]
StepCallback = Callable[[dict[str, Any]], None]


def no_rate_error(where: str) -> ValueError:
    return ValueError(f"{where}: give the audio's sample_rate= (e.g. sample_rate=44100); an array does not say "
                      f"its rate, and the model's own 16000 Hz is never assumed")


def as_tensor(audio) -> torch.Tensor:
    """numpy or torch -> float32 CPU tensor."""
    if torch.is_tensor(audio):
        return audio.detach().float().cpu()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(audio, dtype=np.float32)))


def to_rate(wave: torch.Tensor, rate_in: int, rate_out: int, length: int | None = None) -> torch.Tensor:
    """Resample along the last axis (soxr), then cut or zero-pad to `length`."""
    out = wave if rate_in == rate_out else torch.from_numpy(resample(wave.numpy(), rate_in, rate_out))
    if length is not None:
        out = torch.nn.functional.pad(out[..., :length], (0, max(0, length - out.shape[-1])))
    return out


class Engine:
    """Base of `Separator`, `Generator` and `Arranger`."""

    Settings: ClassVar[type[Settings]]
    defaults: ClassVar[dict]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "defaults" in cls.__dict__ and set(cls.defaults) != set(cls.Settings.names()):
            raise TypeError(f"{cls.__name__}.defaults must hold exactly the settings {sorted(cls.Settings.names())}; "
                            f"differs by {sorted(set(cls.defaults) ^ set(cls.Settings.names()))}")

    def __init__(self, model: str | ModelBundle = DEFAULT_MODEL, device: str = "cpu"):
        self.bundle = model if isinstance(model, ModelBundle) else load_bundle(model, device)

    @property
    def stems(self) -> list[str]:
        return self.bundle.stems

    @property
    def geometry(self) -> WindowGeometry:
        return self.bundle.geometry

    @property
    def sample_rate(self) -> int:
        """The model's own audio rate."""
        return self.geometry.sample_rate

    # -- settings ---------------------------------------------------------------------------
    def resolve(self, **overrides) -> Settings:
        """`defaults` + overrides, validated; overlap in seconds and precision made concrete."""
        s = self.Settings.make(self.defaults, overrides)
        check_prompt(self.bundle, s.prompt)
        try:
            overlap = self.geometry.overlap_seconds(s.overlap)
        except ValueError as e:
            raise SettingError("overlap", str(e)) from e
        return s.replace(overlap=overlap, precision=resolve_precision(s.precision, self.bundle.device))

    def settings(self, **overrides) -> dict:
        """The settings a run uses, as a plain dict (what run.json records; `**` it back in)."""
        return self.resolve(**overrides).to_dict()

    # -- sampling ---------------------------------------------------------------------------
    def generators(self, seeds: list[int]) -> list[torch.Generator]:
        return [torch.Generator(device=self.bundle.device).manual_seed(int(seed)) for seed in seeds]

    def sample(self, s: Settings, shape: tuple[int, ...], generator, cond=None, guidance: float = 0.0,
               x0_hook=None, callback: StepCallback | None = None, info: dict | None = None, **kw) -> torch.Tensor:
        """One call into the reverse process with `s`'s sampler options: latents of `shape`."""
        text = text_condition(self.bundle, s.prompt, shape[0])
        if text is not None:
            kw.update(text=text, text_guidance=s.text_guidance)
        steps = s.steps
        if callback is not None:  # the steps the callback will see: a skipped last pass reports nothing
            timesteps = make_scheduler(s.sampler, self.bundle.ldm.diffusion_config, steps, s.spacing).timesteps
            steps -= skips_last_pass(s.last_pass, s.sampler, timesteps)
        return sample_latents(self.bundle.ldm, shape, cond, guidance, s.sampler, kw.pop("steps", s.steps), s.eta,
                              generator=generator, precision=s.precision, spacing=s.spacing,
                              last_pass=s.last_pass,
                              x0_hook=step_reporter(callback, x0_hook, {**(info or {}), "steps": steps}), **kw)

    def to_audio(self, z: torch.Tensor, seeds: list[int], samples: int, mel_match: int = 0) -> torch.Tensor:
        """Latents [B, S', C, T, F] -> waves [B, S', samples] by the vocoder (seeded per item),
        with `mel_match` passes of mel matching."""
        b = self.bundle
        return torch.stack([vocode(b, decode_mels(b, zi), seed, mel_match).cpu()[:, :samples]
                            for zi, seed in zip(z, seeds)])


def step_reporter(callback: StepCallback | None, hook, info: dict):
    """An x0 hook that reports each step's clean estimate to `callback` (then applies `hook`)."""
    if callback is None:
        return hook
    count = [0]

    def report(x0, t):
        x0 = hook(x0, t) if hook is not None else x0
        count[0] += 1
        callback({**info, "step": count[0], "t": int(t), "x0": x0})
        return x0

    return report
