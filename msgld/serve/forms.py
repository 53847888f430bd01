"""Request fields -> typed settings; uploaded files -> decoded audio.

Every refusal is a `FormError` (a 4xx status and a message that names the field or file and
the reason). Settings are then validated by the pipelines' own `settings()`; this module only
types the text fields and applies the server's caps (steps, ensemble, duration, audio length).
An upload is accepted by decoding it (`msgld.audio.io.load_audio`), never by its file name.
"""

from __future__ import annotations

import math
import re

import numpy as np

from msgld.audio.io import AudioError, audio_info, load_audio
from msgld.diffusion.samplers import SAMPLERS
from msgld.inference.separator import METHODS, RECONSTRUCT
from msgld.serve.config import ServeConfig
from msgld.serve.uploads import UploadedFile
from msgld.text.prompts import parse_stem_prompts

COMMON = {"steps": int, "sampler": str, "seed": int, "eta": float, "prompt": str, "text_guidance": float}
MAX_PROMPT_CHARS = 500  # the prompt, and the stem prompts' field
SEPARATE_FIELDS = {**COMMON, "guidance": float, "overlap": float, "ensemble": int, "method": str,
                   "reconstruct": str}
GENERATE_FIELDS = {**COMMON, "duration": float, "stem_prompts": dict, "regenerate": int, "given_guidance": float}
ARRANGE_FIELDS = {**COMMON, "generate": str, "stem_prompts": dict, "given_guidance": float}
CHOICES = {"sampler": SAMPLERS, "method": METHODS, "reconstruct": RECONSTRUCT}


class FormError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def display_name(filename: str) -> str:
    """The client's file name for messages: its last component, printable, at most 80 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable())[:80].strip()
    return name or "the upload"


def safe_label(filename: str) -> str:
    """A download-name prefix from the client's file name: [A-Za-z0-9._-] only, never a path."""
    stem = display_name(filename).rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60] or "msgld"


def typed(fields: dict[str, str], allowed: dict[str, type]) -> dict:
    """Text fields -> values of their types; empty fields keep the pipeline's default."""
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise FormError(400, f"unknown field(s) {unknown}; this endpoint takes {sorted(allowed)}")
    values = {}
    for name, text in fields.items():
        text = text.strip()
        if not text:
            continue
        kind = allowed[name]
        if kind is dict:
            values[name] = stem_prompts_field(name, text)
            continue
        try:
            value = kind(text)
        except ValueError:
            raise FormError(422, f"{name}: expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise FormError(422, f"{name}: expected a finite number, got {text!r}")
        values[name] = value
    return values


def stem_prompts_field(name: str, text: str) -> dict[str, str]:
    """"guitar=nylon-string lead;bass=slap bass" -> {stem: text}; the stems and the texts
    themselves are checked by the pipeline's settings."""
    if len(text) > MAX_PROMPT_CHARS:
        raise FormError(422, f"{name}: at most {MAX_PROMPT_CHARS} characters, got {len(text)}")
    try:
        return parse_stem_prompts([item for item in text.split(";") if item.strip()])
    except ValueError as e:
        raise FormError(422, f"{name}: {e} (items separated by ';')") from None


def check_caps(values: dict, config: ServeConfig) -> dict:
    """The named choices, and the server's own limits on what one request may cost."""
    for name, choices in CHOICES.items():
        if name in values and values[name] not in choices:
            raise FormError(422, f"{name}: {values[name]!r} is not one of {list(choices)}")
    if len(values.get("prompt", "")) > MAX_PROMPT_CHARS:
        raise FormError(422, f"prompt: at most {MAX_PROMPT_CHARS} characters, got {len(values['prompt'])}")
    if "steps" in values and not 1 <= values["steps"] <= config.max_steps:
        raise FormError(422, f"steps must be between 1 and {config.max_steps}, got {values['steps']}")
    if "ensemble" in values and not 1 <= values["ensemble"] <= config.max_ensemble:
        raise FormError(422, f"ensemble must be between 1 and {config.max_ensemble}, got {values['ensemble']}")
    if "regenerate" in values and not 0 <= values["regenerate"] <= config.max_regenerate:
        raise FormError(422, f"regenerate must be between 0 and {config.max_regenerate}, got {values['regenerate']}")
    if "duration" in values and not 0 < values["duration"] <= config.max_duration_s:
        raise FormError(422, f"duration must be more than 0 and at most {config.max_duration_s:g} s, "
                             f"got {values['duration']:g}")
    return values


def decode(upload: UploadedFile, config: ServeConfig) -> np.ndarray:
    """The upload as 16 kHz mono (what the pipelines take); 422 with the reason when it is not audio."""
    name = display_name(upload.filename)
    try:
        seconds = audio_info(upload.path).duration
        if seconds > config.max_audio_s:
            raise FormError(422, f"{name}: {seconds / 60:.1f} min of audio; this server takes at most "
                                 f"{config.max_audio_s / 60:g} min")
        return load_audio(upload.path)
    except AudioError as e:  # the message names our private path: name the client's file instead
        message = str(e).replace(str(upload.path), name).replace(str(upload.path.parent), "")
        raise FormError(422, message) from None
