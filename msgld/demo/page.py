"""Spectrogram pictures (matplotlib) and the demo's HTML page with audio players."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from msgld.atomic import atomic_output, atomic_write_text  # noqa: E402
from msgld.audio.mel import log_mel  # noqa: E402


def spectrogram_picture(path: Path, waves: dict[str, np.ndarray], title: str) -> Path:
    """One row per named wave: its log-mel (THE front-end), time across, 64 bands up."""
    fig, axes = plt.subplots(len(waves), 1, figsize=(9, 1.3 * len(waves) + 0.6), sharex=True, squeeze=False)
    for ax, (name, wave) in zip(axes[:, 0], waves.items()):
        mel = log_mel(torch.from_numpy(np.asarray(wave, np.float32))).numpy().T
        seconds = len(wave) / 16000
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=2.0, extent=(0, seconds, 0, 64))
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("seconds")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return path


def write_page(path: Path, title: str, intro: str, sections: list[dict]) -> Path:
    """sections: {"title", "text", "picture", "audio": [(label, relative path)]}."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em}"
             "section{margin:2em 0;border-top:1px solid #ccc}.row{display:flex;flex-wrap:wrap;gap:1em}"
             ".row div{min-width:220px}img{max-width:100%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s['title'])}</h2><p>{html.escape(s['text'])}</p><div class='row'>")
        for label, rel in s["audio"]:
            parts.append(f"<div><b>{html.escape(label)}</b><br><audio controls preload='none' "
                         f"src='{html.escape(str(rel))}'></audio></div>")
        parts.append(f"</div><img src='{html.escape(str(s['picture']))}' alt='{html.escape(s['title'])}'></section>")
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts) + "\n")
