"""Evaluation: the numbers of the paper's three tables.

- `metrics`: si_sdr_wave / si_sdri_wave (MSDM protocol) and whole-clip variants, mel_mse,
  log_mel_l1, accumulated across clips by `SeparationScores`.
- `fad`, `embeddings`: Frechet Audio Distance with a registry of embeddings (crepe-tiny by
  default, crepe-full, vggish from a user file, logmel).
- `methods`: registries of separation methods, generators and arrangers; a new method is one
  module in `msgld/eval/methods/` that calls `register_*` at import.
- `separation`, `generation`, `arrangement`: the runners behind `msgld evaluate`, writing JSON and
  Markdown through `report`; `clips` iterates a split, `samples` reads folders of generated pieces.
"""
