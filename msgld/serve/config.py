"""The server's settings and limits, in one place (the CLI fills them from its flags)."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Host headers a locally bound server answers: a web page on another site that makes its name
# resolve to 127.0.0.1 (DNS rebinding) sends its own name and is refused
LOCAL_HOST_HEADERS = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass(frozen=True)
class ServeConfig:
    max_upload_mb: float = 200.0   # one request's body, all files together
    queue_size: int = 16           # jobs waiting (not counting the running ones); more -> 503
    workers: int = 1               # jobs run at once (threads sharing one loaded model)
    job_ttl_s: float = 3600.0      # a finished job (and its files) is deleted this long after it ended
    max_duration_s: float = 120.0  # the longest piece /api/generate writes
    max_steps: int = 200           # sampler steps a request may ask for
    max_ensemble: int = 8          # separation samples per window a request may ask for
    max_regenerate: int = 4        # rewriting passes after a generation's joint draw a request may ask for
    max_audio_s: float = 1800.0    # the longest upload (checked from its header before decoding)
    allowed_hosts: tuple[str, ...] = ("*",)  # Host headers answered (local names only when bound locally)

    def __post_init__(self):
        if self.max_upload_mb <= 0:
            raise ValueError(f"max upload size must be positive, got {self.max_upload_mb} MB")
        if self.queue_size < 1:
            raise ValueError(f"queue size must be at least 1, got {self.queue_size}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.job_ttl_s <= 0:
            raise ValueError(f"job expiry must be positive, got {self.job_ttl_s} s")
        if self.max_duration_s <= 0:
            raise ValueError(f"max duration must be positive, got {self.max_duration_s} s")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
