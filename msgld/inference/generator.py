"""Total generation: all stems at once from the unconditional model (w = 0), any duration
(longer than one window by continuation), then (`regenerate`) passes that write stems again
given the others, as arrangement writes them; back to audio by the vocoder."""

from __future__ import annotations

import torch

from msgld.inference.engine import Engine, Progress, StepCallback
from msgld.inference.long_sampling import sample_sequence
from msgld.inference.settings import GenerationSettings, SettingError, TotalGenerationSettings
from msgld.inference.text_condition import check_prompt
from msgld.text.prompts import compose_prompt


class Generator(Engine):
    """`Generator().generate(duration=10.24, seed=0)` -> stems [S, L] at the model's 16 kHz;
    `prompt="slow jazz"` (with `text_guidance=W`) for a model with a text pathway, and
    `stem_prompts={"guitar": "nylon-string lead"}`, composed into that one prompt."""

    Settings = TotalGenerationSettings
    # mel_match 0: matching brings the decoders' ceilings down (stemfit-complete 24.6 -> 10.1) but the
    # generated pieces up (61.2 -> 79.6), their stems louder and no better fitting (README, session 18)
    defaults = {"sampler": "ddim", "steps": 50, "eta": 0.0, "overlap": None, "repaint": 0, "guidance": 0.0, "given_adapter": "auto",
                "given_guidance": 8.0, "precision": "auto", "spacing": "leading", "last_pass": "run",
                "prompt": None, "text_guidance": 3.0, "stem_prompts": None, "mel_match": 0, "regenerate": 1, "anchor": "drums"}

    def resolve(self, **overrides) -> GenerationSettings:
        """As Engine's, with the stem prompts composed into `prompt` (msgld.text.prompts) and then
        cleared, so the settings a run records give the same run when `**`-ed back in."""
        s = super().resolve(**overrides)
        if s.stem_prompts:
            check_prompt(self.bundle, "", "stem_prompts")
            try:
                prompt = compose_prompt(s.prompt, s.stem_prompts, self.stems)
            except ValueError as e:
                raise SettingError("stem_prompts", str(e)) from e
            s = s.replace(prompt=prompt)
        if getattr(s, "regenerate", 0) and s.anchor not in self.stems:  # before any sampling
            raise SettingError("anchor", f"unknown anchor {s.anchor!r}; this model's stems are {self.stems}")
        return s.replace(stem_prompts=None)

    def latent_frames(self, duration: float) -> tuple[int, int]:
        """(frames to sample, frames wanted) for `duration` seconds."""
        return self.geometry.latent_frames(duration)

    def sample_latents(self, frames: int, s: GenerationSettings, generators: list[torch.Generator], known=None,
                       stem_mask=None, cond=None, progress: Progress | None = None,
                       callback: StepCallback | None = None, info: dict | None = None) -> torch.Tensor:
        """-> latents [B, S, C, frames, F], B = len(generators) (one per sequence), by continuation;
        `info` joins what the step callback is told (with the window)."""
        g = self.geometry
        shape = (len(generators), len(self.stems), self.bundle.vae.latent_channels, frames, g.latent_bins)
        window = [0]

        def one_window(k, mask, c):
            window[0] += 1
            return self.sample(s, (*shape[:3], g.window_frames, shape[-1]), generators, cond=c, guidance=s.guidance,
                               known=k, known_mask=mask, repaint=s.repaint, callback=callback,
                               given_adapter=s.given_adapter == "auto", given_guidance=s.given_guidance,
                               info={**(info or {}), "window": window[0]})

        return sample_sequence(one_window, shape, g.window_frames, g.overlap_latent_frames(s.overlap), known=known,
                               stem_mask=stem_mask, cond=cond, progress=progress, device=self.bundle.device)

    def generate(self, duration: float = 10.24, seed: int = 0, progress: Progress | None = None,
                 **settings) -> torch.Tensor:
        """-> stems [S, L] of one piece."""
        return self.generate_batch([seed], duration, progress, **settings)[0]

    def generate_batch(self, seeds: list[int], duration: float = 10.24, progress: Progress | None = None,
                       callback: StepCallback | None = None, **settings) -> torch.Tensor:
        """-> stems [len(seeds), S, L]: pieces sampled together (faster than one by one); piece i
        is the piece `generate(seed=seeds[i])` gives, up to float rounding."""
        if duration <= 0:
            raise ValueError(f"duration must be positive, got {duration}")
        if not seeds:
            raise ValueError("give at least one seed")
        s = self.resolve(**settings)
        frames, wanted = self.latent_frames(duration)
        z = self.sample_latents(frames, s, self.generators(seeds), progress=progress, callback=callback)
        z = self.rewrite(z, s, seeds, progress, callback)
        return self.to_audio(z[..., :wanted, :], seeds, self.geometry.samples(duration), s.mel_match)

    def rewrite(self, z: torch.Tensor, s: TotalGenerationSettings, seeds: list[int], progress: Progress | None = None,
                callback: StepCallback | None = None) -> torch.Tensor:
        """`s.regenerate` passes over latents z [B, S, C, T, F]: pass 1 keeps the anchor stem and
        writes the others given it (arrangement, `given_guidance`), pass 2 writes the anchor given
        them, and so on; each pass draws with the pieces' own seeds."""
        if not getattr(s, "regenerate", 0):  # arrangement's settings have no such passes
            return z
        anchor = torch.tensor([1.0 if st == s.anchor else 0.0 for st in self.stems], device=z.device)
        for r in range(s.regenerate):
            keep = anchor if r % 2 == 0 else 1 - anchor
            k = keep.view(1, -1, 1, 1, 1)
            new = self.sample_latents(z.shape[-2], s, self.generators(seeds), known=z * k,
                                      stem_mask=keep.expand(len(seeds), -1), progress=progress, callback=callback,
                                      info={"pass": r + 2})
            z = z * k + new * (1 - k)
        return z
