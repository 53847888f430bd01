"""The reliability battery's tools, shared by `tests/reliability/` and `benchmarks/reliability.py`:
a corpus of bad and odd inputs made by code (`corpus`), SIGKILL fault injection (`kill`), and
tiny or read-only filesystems (`disk`)."""
