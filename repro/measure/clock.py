"""One clock for every step time, on the CPU and on CUDA.

On a CPU a step's seconds are the wall clock around it. On CUDA the call only queues kernels, so the
clock waits for the work queued before it, then records an event on each side of the step's work and
reads the GPU's time between them: launch overhead on the host and earlier work are not counted, and
the step is counted whole (the end event waits for its last kernel).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def seconds(run: Callable[[], object], device: str = "cpu") -> float:
    """The seconds one call of `run` takes on `device`."""
    if not device.startswith("cuda"):
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize(device)
    start.record()
    run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3
