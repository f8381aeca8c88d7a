"""Results that are a function of their spec alone.

Two things decide whether a run gives the same numbers twice: where its random draws come from and
how its kernels reduce. `seeded` gives a block its own random stream and hands the caller's back
afterwards; `deterministic` fixes the thread count and the kernels.

    with deterministic(), seeded(spec.seed):
        model = build(...)    # every draw in here (init, adapters, dropout) follows spec.seed alone
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from repro.kernels import require_pinned


@contextmanager
def seeded(seed: int):
    """Draws from torch's global generators inside the block follow `seed` alone, and the caller's
    state is restored on exit. peft, torchvision and dropout draw from the global generators and take
    no generator argument, so a private stream has to be made out of the global one; without the
    restore, whatever ran before in the process (a pretraining on a cache miss, another test) would
    decide what the next run draws.
    """
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


@contextmanager
def deterministic(threads: int = 1):
    """Same spec, same numbers, on every x86_64 CPU: fixed thread count, deterministic kernels, and
    the pinned kernel set (repro/kernels.py; a process where it cannot hold refuses here).

    The thread count is part of the result: MobileNetV2 FFT on the unseen digits ended at 78.7% with 2
    threads and 92.7% with 1 (the reduction order changes, and 100 steps amplify it). One thread is
    the count every machine has, so a run gives the same numbers on a 2-core laptop and a 64-core
    server; more cores run more runs at once (repro/learn/runs.py) instead of splitting one.
    """
    require_pinned()  # every trained number passes here: the kernels must be the records' (repro/kernels.py)
    saved = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1])
