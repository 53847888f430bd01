"""DDPM forward process, training objective and samplers (diffusers' schedulers)."""
