"""Inference: separation, total generation and arrangement with one multi-track LDM, as thin
modes on one engine (`msgld.inference.engine`)."""

from msgld.inference.arranger import Arranger
from msgld.inference.bundle import ModelBundle, load_bundle
from msgld.inference.generator import Generator
from msgld.inference.separator import Separator

__all__ = ["Arranger", "Generator", "ModelBundle", "Separator", "load_bundle"]
