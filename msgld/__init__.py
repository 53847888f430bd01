"""msgld: one multi-track latent diffusion model that separates, generates and arranges music."""

__version__ = "0.1.0"

SAMPLE_RATE = 16000
