"""Folders of generated pieces, the layout `msgld evaluate generation --samples DIR` reads:

```
samples/
  0000/ bass.wav drums.wav guitar.wav piano.wav    (stems; summed, a missing stem is silence)
  0001/ mixture.wav                                (a folder without stem files: its mixture)
  0002.wav                                         (an already-mixed piece)
```

Pieces are taken in name order; any rate is resampled to 16 kHz; lengths may differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from msgld.audio.io import READ_EXTENSIONS, load_audio, save_audio


def _existing(folder: Path, name: str) -> list[Path]:
    return [folder / f"{name}{ext}" for ext in READ_EXTENSIONS if (folder / f"{name}{ext}").exists()][:1]


def sample_pieces(folder: str | Path, stems: list[str]) -> list[tuple[str, list[Path]]]:
    """(name, files to sum) for each piece of a samples folder, sorted by name."""
    folder = Path(folder)
    pieces = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = [f for s in stems for f in _existing(entry, s)] or _existing(entry, "mixture")
            if files:
                pieces.append((entry.name, files))
        elif entry.suffix.lower() in READ_EXTENSIONS:
            pieces.append((entry.stem, [entry]))
    if not pieces:
        raise ValueError(f"{folder}: no generated pieces (expected <piece>/<stem>.wav folders or <piece>.wav mixes)")
    return pieces


def load_piece(files: list[Path]) -> torch.Tensor:
    """The sum of a piece's files [L] (shorter files padded with silence)."""
    waves = [load_audio(f) for f in files]
    out = np.zeros(max(w.shape[-1] for w in waves), dtype=np.float32)
    for w in waves:
        out[: w.shape[-1]] += w
    return torch.from_numpy(out)


def save_piece(folder: str | Path, name: str, stems: torch.Tensor, stem_names: list[str]) -> Path:
    """Write one piece's stems [S, L] as `folder/name/<stem>.wav` (atomic writes)."""
    piece = Path(folder) / name
    for wave, stem in zip(stems, stem_names):
        save_audio(piece / f"{stem}.wav", wave.detach().cpu().float().numpy())
    return piece
