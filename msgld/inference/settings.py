"""Typed, validated settings of the three pipelines, and their command-line flags.

Each pipeline class keeps its default values in ONE class-level dict, `defaults` (the values
change when a retrained model ships); the dataclasses here say what each setting is: its type,
its allowed values or range, its help text and its flag. `Settings.make(defaults, overrides)`
validates once; the CLI builds its flags from the same fields (`add_arguments`), so choices,
ranges and defaults are never repeated there.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from msgld.audio.reconstruct import HIGH_BANDS
from msgld.diffusion.samplers import LAST_PASSES, SAMPLERS, SPACINGS
from msgld.diffusion.sampling import PRECISIONS, last_pass_problem
from msgld.text.prompts import parse_stem_prompts

METHODS = ("msgld", "dirac", "gaussian")
RECONSTRUCT = ("mask", "vocoder")
AUTO_OR_NONE = ("auto", "none")  # an optional part of the model; not "off": YAML reads that as false (--option, --cell)


class SettingError(ValueError):
    """A setting out of its range; `.name` is the setting (the CLI names its flag)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def setting(help: str, choices: tuple | None = None, low: float | None = None, high: float | None = None,
            above: bool = False, flag: str | None = None, metavar: str | None = None, cli: bool = True):
    """A settings field: allowed `choices`, or a range [low, high] (`above`: strictly above low)."""
    return field(metadata={"help": help, "choices": choices, "low": low, "high": high, "above": above,
                           "flag": flag, "metavar": metavar, "cli": cli})


def _coerce(name: str, kind, value):
    optional = type(None) in typing.get_args(kind)
    base = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
    if value is None:
        if optional:
            return None
        raise SettingError(name, f"{name} needs a value")
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base is int and isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    if base is str and isinstance(value, str):
        return value
    if typing.get_origin(base) is dict:
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise SettingError(name, f"{name} must be a dict of stem -> text, e.g. {{'guitar': 'nylon-string lead'}}, "
                                 f"got {value!r}")
    raise SettingError(name, f"{name} must be {'an integer' if base is int else base.__name__}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Base of the pipelines' settings: fields are declared by subclasses with `setting(...)`."""

    task: ClassVar[str] = "pipeline"

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def make(cls, defaults: dict, overrides: dict | None = None) -> "Settings":
        """`defaults` with the non-None `overrides` on top, validated."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = set(overrides) - set(cls.names())
        if unknown:
            raise SettingError(sorted(unknown)[0], f"unknown {cls.task} settings {sorted(unknown)}; "
                               f"allowed: {sorted(cls.names())}")
        missing = set(cls.names()) - set(defaults)
        if missing:
            raise SettingError(sorted(missing)[0], f"the {cls.task} defaults lack {sorted(missing)}")
        return cls(**{**{k: defaults[k] for k in cls.names()}, **overrides})

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(f.name, hints[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            m = f.metadata
            if value is None:
                continue
            if m.get("choices") and value not in m["choices"]:
                raise SettingError(f.name, f"unknown {f.name} {value!r}; choose one of {list(m['choices'])}")
            low, high = m.get("low"), m.get("high")
            if low is not None and (value <= low if m.get("above") else value < low):
                raise SettingError(f.name, f"{f.name} must be {'above' if m.get('above') else 'at least'} {low}, "
                                   f"got {value}")
            if high is not None and value > high:
                raise SettingError(f.name, f"{f.name} must be at most {high}, got {value}")
        self.check()

    def check(self) -> None:
        """Rules between fields (subclasses)."""

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SamplingSettings(Settings):
    """What every mode samples with."""

    sampler: str = setting("diffusion sampler", choices=SAMPLERS)
    steps: int = setting("sampling steps", low=1)
    eta: float = setting("DDIM eta (0 = deterministic)", low=0)
    spacing: str = setting("timestep spacing (trailing: the first step at t = T; with --steps 1 the one-step "
                           "estimate)", choices=SPACINGS)
    last_pass: str = setting("skip: end on the clean estimate of the step before the last and save the last "
                             "step's network passes (ddim; with leading spacing the last step is at t = 1, where "
                             "little noise is left); auto: skip exactly there", choices=LAST_PASSES)
    guidance: float = setting("classifier-free guidance weight w (>= 1 separates; 0 < w < 1 gives variations)",
                              low=0, flag="--guidance-scale", metavar="W")
    overlap: float | None = setting("overlap of consecutive model windows, seconds (default: a quarter window)",
                                    low=0, metavar="SEC")
    precision: str = setting("the network's precision (bf16: autocast, faster on recent CPUs; auto: bf16 where "
                             "native)", choices=PRECISIONS)
    prompt: str | None = setting("text prompt, e.g. \"slow jazz with an upright bass\" (models with a text "
                                 "pathway only; separation: an extra hint)", metavar="TEXT")
    text_guidance: float = setting("classifier-free guidance weight of the prompt (its own, beside the mixture's)",
                                   low=0, metavar="W")
    mel_match: int = setting("passes that bring the vocoder's output to the mel it was rendered from (msgld.audio."
                             "mel_match: the level per band and frame; 0: the vocoder as is)", low=0, metavar="N")

    def check_last_pass(self) -> None:
        problem = last_pass_problem(self.last_pass, self.sampler, self.steps)
        if problem:
            raise SettingError("last_pass", problem)

    def check_prompt(self) -> None:
        if self.prompt is not None and not self.prompt.strip():
            raise SettingError("prompt", "the prompt is empty; leave it out for no text")


@dataclass(frozen=True)
class GenerationSettings(SamplingSettings):
    """Total generation and arrangement (w = 0; longer than a window by continuation)."""

    task: ClassVar[str] = "generation"
    repaint: int = setting("RePaint resampling per step (ddim only)", low=0)
    stem_prompts: dict[str, str] | None = setting(
        "a stem's own description, e.g. guitar=\"nylon-string lead\" (repeatable; a given stem too): composed "
        "into the prompt as \"..., with a nylon-string lead guitar\", which run.json records",
        flag="--stem-prompt", metavar="STEM=TEXT")
    given_adapter: str = setting("auto: where the LDM has a given-stems pathway, it also sees what is known (the "
                                 "given stems, a long piece's previous window) clean; none: only through "
                                 "inpainting, noised to each step's level", choices=AUTO_OR_NONE)
    given_guidance: float = setting("guidance weight of the given-stems pathway against nothing given (1: the "
                                    "pathway as trained; above 1 follows the given stems harder, at two passes a step)",
                                    low=0)

    def check(self) -> None:
        self.check_prompt()
        self.check_last_pass()
        for stem, text in (self.stem_prompts or {}).items():
            if not text.strip():
                raise SettingError("stem_prompts", f"the stem prompt of {stem!r} is empty; describe the {stem} "
                                                   "or leave it out")
        if self.repaint and self.sampler != "ddim":
            raise SettingError("repaint", f"RePaint resampling needs the ddim sampler, not {self.sampler!r}")


@dataclass(frozen=True)
class TotalGenerationSettings(GenerationSettings):
    """Total generation: the joint draw, then optionally passes that rewrite stems given the others."""

    regenerate: int = setting("passes after the joint draw that rewrite stems through arrangement (with "
                              "--given-guidance): the 1st every stem but the anchor given it, the 2nd the anchor "
                              "given the rest, and so on (each costs about two joint draws)", low=0, metavar="N")
    anchor: str = setting("the stem the first rewriting pass keeps (one of the model's stems)", metavar="STEM")


@dataclass(frozen=True)
class SeparationSettings(SamplingSettings):
    task: ClassVar[str] = "separation"
    batch_size: int = setting("windows per network call", low=1)
    seed: int = setting("seed of every random draw (recorded in run.json)")
    reconstruct: str = setting("mask: mixture-phase (stems sum to the input); vocoder: HiFi-GAN", choices=RECONSTRUCT)
    method: str = setting("msgld (conditional) or MSDM-style latent separation on the unconditional model",
                          choices=METHODS)
    gaussian_strength: float = setting("share of the residual each stem takes per step (--method gaussian)",
                                       low=0, above=True, high=1)
    ensemble: int = setting("samples per window, averaged (mean mel power; k times slower)", low=1)
    refine: int = setting("warm-start refinement: noise the estimate again to --refine-strength and run K more "
                          "steps", low=0, metavar="K")
    refine_strength: float = setting("where refinement starts, t0 = S * T (0 < S <= 1)", low=0, above=True, high=1,
                                     metavar="S")
    high_band: str = setting("masks above 8 kHz (the model's band): flat = the top band's held; band = each "
                             "stem's 6-8 kHz share; dominant = all to the stem loudest in 6-8 kHz; slope = "
                             "per-stem spectral slope extrapolated", choices=HIGH_BANDS)
    mask_power: float = setting("exponent on the stems' mel magnitudes in the ratio masks (1: magnitude ratios; 2: "
                                "power ratios, harder; below 1 softer)", low=0, above=True, high=8, metavar="P")
    mask_refiner: str = setting("auto: the model's mask refiner corrects the estimated log-mels from the mixture's "
                                "own log-mel before they become masks (where the model has one; method msgld); "
                                "none: the LDM's estimate as it is", choices=AUTO_OR_NONE)

    def check(self) -> None:
        self.check_prompt()
        self.check_last_pass()
        if self.refine and self.sampler == "plms":
            raise SettingError("refine", "refinement (a warm start) needs the ddim or dpmsolver++ sampler, not plms")
        if self.refine == 1 and self.last_pass == "skip":
            raise SettingError("refine", "one refinement step has no pass to skip; use --refine 2 or more, or "
                                         "--last-pass run")


def add_arguments(parser: argparse.ArgumentParser, settings: type[Settings], defaults: dict,
                  skip: tuple[str, ...] = ()) -> None:
    """One flag per setting (`--name-with-hyphens` unless the field names its own); default None,
    so the pipeline's `defaults` apply (shown in the help)."""
    hints = typing.get_type_hints(settings)
    for f in dataclasses.fields(settings):
        m = f.metadata
        if f.name in skip or not m.get("cli", True):
            continue
        kind = next((k for k in typing.get_args(hints[f.name]) if k is not type(None)), hints[f.name])
        flag = m.get("flag") or "--" + f.name.replace("_", "-")
        if typing.get_origin(kind) is dict:  # a repeatable KEY=TEXT flag (from_args makes the dict)
            parser.add_argument(flag, dest=f.name, action="append", metavar=m.get("metavar"), help=m["help"])
            continue
        shown = defaults.get(f.name)
        parser.add_argument(flag, dest=f.name, type=kind, choices=m.get("choices"), metavar=m.get("metavar"),
                            help=f"{m['help']} (default: {shown})" if shown is not None else m["help"])


def flag_of(settings: type[Settings], name: str) -> str:
    for f in dataclasses.fields(settings):
        if f.name == name:
            return f.metadata.get("flag") or "--" + name.replace("_", "-")
    return "--" + name.replace("_", "-")


def from_args(args: argparse.Namespace, settings: type[Settings]) -> dict:
    """The settings the user gave on the command line (None: not given); repeated STEM=TEXT
    flags become their dict."""
    values = {name: getattr(args, name) for name in settings.names() if hasattr(args, name)}
    for name, value in values.items():
        if isinstance(value, list):
            try:
                values[name] = parse_stem_prompts(value)
            except ValueError as e:
                raise SettingError(name, str(e)) from e
    return values
