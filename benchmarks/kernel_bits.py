"""Which kernels make other bits on this CPU: short hashes of each stage a trained number goes through.

    python benchmarks/kernel_bits.py                                  # this CPU, its vendor's pinned kernels
    REPRO_CPU_VENDOR=AuthenticAMD qemu-x86_64 -cpu EPYC-Rome-v1 .venv/bin/python benchmarks/kernel_bits.py
    REPRO_CPU_VENDOR=GenuineIntel qemu-x86_64 -cpu Haswell-v1 .venv/bin/python benchmarks/kernel_bits.py

(qemu-user shows the host's /proc/cpuinfo, so the emulated vendor is named for the pin; a variable set
by hand, MKL_CBWR=COMPATIBLE say, is kept and printed on the first line.)

Two CPUs that print the same line for every stage train the same weights from one seed; the first
stage that differs names the library to pin (repro/kernels.py). Kept small, because QEMU's TCG runs
it about 100x slower than native: a stage's name as an argument runs that stage alone (the full SVD
takes over 15 minutes under an emulated Haswell; "svd small" takes the same path on smaller matrices).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

import repro  # noqa: F401 (puts the kernel pin in the environment before torch starts)
from repro.kernels import cpu_model


def digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


def stages():
    """(name, thunk) in the order a training run meets them; each thunk returns its hash."""
    import torch
    import torch.nn.functional as F

    from repro.case.methods import apply_method
    from repro.case.models import build_model
    from repro.case.specs import MethodOptions

    def gen(*shape, seed=0):
        return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))

    def mm():  # a classifier head: Linear through BLAS sgemm
        return digest(torch.addmm(gen(10), gen(8, 512, seed=1), gen(512, 10, seed=2)),
                      gen(512, 8, seed=3) @ gen(8, 10, seed=4))

    def conv():  # a 3x3 convolution forward and backward (oneDNN, or ATen's own where oneDNN declines)
        x, w = gen(4, 64, 16, 16, seed=5).requires_grad_(), gen(64, 64, 3, 3, seed=6).requires_grad_()
        y = F.conv2d(x, w, padding=1)
        y.square().sum().backward()
        return digest(y, x.grad, w.grad)

    def depthwise():
        x, w = gen(4, 32, 16, 16, seed=7).requires_grad_(), gen(32, 1, 3, 3, seed=8).requires_grad_()
        y = F.conv2d(x, w, padding=1, groups=32)
        y.square().sum().backward()
        return digest(y, x.grad, w.grad)

    def init():  # weight initialisation draws from torch's CPU generator
        torch.manual_seed(0)
        return digest(*build_model("resnet18", 5, 32).state_dict().values())

    def step(name, method="fft", rank=None, steps=2):
        def run():  # the suite's own method builders: the optimizer a run of that method gets
            torch.manual_seed(0)
            model, opt = apply_method(build_model(name, 5, 32), method, rank, MethodOptions(update_proj_gap=2))
            x, y = gen(4, 3, 32, 32, seed=9), torch.tensor([0, 1, 2, 3])
            for _ in range(steps):
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            return digest(*model.state_dict().values())
        return run

    def sqrt():  # AdamW's second moment: torch.sqrt goes through MKL's vector maths, not the CPU's sqrt
        return digest(gen(36864, seed=30).abs().add(0.1).sqrt())

    def svd(shapes=((512, 4608), (64, 576), (256, 2304))):  # GaLore's projection: LAPACK through MKL
        outs = []
        for i, (m, n) in enumerate(shapes):
            u, s, _ = torch.linalg.svd(gen(m, n, seed=20 + i), full_matrices=False)
            outs += [u[:, :8], s]
        return digest(*outs)

    def data():  # the digits source task and its shift (corruptions run torch ops too)
        from repro.learn.data.digits import digits, shifted
        train, _ = digits(32, 0, classes=range(5))
        return digest(train.x, shifted(train, 0).x)

    return [("mm", mm), ("sqrt", sqrt), ("conv", conv), ("depthwise", depthwise), ("init", init), ("data", data),
            ("resnet18 step", step("resnet18")), ("mobilenet_v2 step", step("mobilenet_v2")), ("svd", svd),
            ("svd small", lambda: svd(((64, 576), (128, 1152)))),  # the same path, minutes sooner under emulation
            # GaLore's projection is remade every 2 steps here, so 3 steps take two SVDs of every weight
            ("resnet18 head", step("resnet18", "head")), ("mobilenet_v2 galore", step("mobilenet_v2", "galore", 8, 3))]


def main(only: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    keys = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE")
    print(f"# {cpu_model()} | ATen {torch.backends.cpu.get_cpu_capability()} | "
          + " ".join(f"{k}={os.environ[k]}" for k in keys if k in os.environ), flush=True)
    for name, thunk in stages():
        if only and name not in only:
            continue
        start = time.perf_counter()
        print(f"{name:20} {thunk()}  ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
