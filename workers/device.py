"""Where a worker's tensors live: the device picked once at start, CPU threads, mixed precision on CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    """The device of one worker process; AMP (float16 autocast and a gradient scaler) only on CUDA.

    >>> runtime = Runtime(torch.device("cpu"))
    >>> runtime.amp, runtime.scaler().is_enabled()
    (False, False)
    >>> with runtime.autocast():
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """

    device: torch.device

    @property
    def amp(self) -> bool:
        return self.device.type == "cuda"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """float16 autocast on CUDA; nothing on CPU."""
        if self.amp:
            with torch.autocast(device_type="cuda", dtype=torch.float16):
                yield
        else:
            yield

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only where autocast runs in float16."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp)


def configure(device: str = "auto", threads: int = 1) -> Runtime:
    """Pick the device once and set torch's CPU threads (so a worker does not starve its neighbours).

    ``device`` is ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    >>> configure("cpu", threads=1).device.type
    'cpu'
    """
    if threads < 1:
        msg = f"threads must be >= 1, got {threads}"
        raise ValueError(msg)
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # allowed only before the first parallel work; harmless after
        torch.set_num_interop_threads(threads)
    if device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        chosen = torch.device(device)
        if chosen.type == "cuda" and not torch.cuda.is_available():
            msg = f"device {device!r} requested but CUDA is not available"
            raise RuntimeError(msg)
    return Runtime(chosen)
