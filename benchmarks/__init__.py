"""Benchmarks: `python -m benchmarks [NAME ...] [--quick] [--out FILE.json]`.

Each module `benchmarks/bench_<name>.py` exposes `run(quick: bool = False) -> list[dict]`, one
dict per row (e.g. {"name": ..., "seconds": ..., "x_realtime": ...}); the runner (`run.py`)
finds the modules, prints one table and writes the rows with the machine's details as JSON.
"""
