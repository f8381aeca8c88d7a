"""One profiled update: a case spec in, a measurement record out.

    spec = CaseSpec("mobilenet_v2", "lora", rank=8)
    record = profile(spec)            # FLOPs per phase in both conventions, memory by category
    record.to_json()
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import statistics
from dataclasses import dataclass
from importlib import metadata

import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import DataDependentOutputException
from torch.utils._python_dispatch import TorchDispatchMode

from repro.case.methods import apply_method
from repro.case.models import build_model
from repro.case.specs import CaseSpec
from repro.determinism import seeded
from repro.kernels import cpu_capability, kernel_set
from repro.measure import clock
from repro.measure.fake import AnalyticMode, to_fake
from repro.measure.flops import PHASES, TwoConventionCounter, by_convention
from repro.measure.memory import CategoryMemTracker, track_memory

SCHEMA_VERSION = 1
LOSSES = {
    "cross_entropy": F.cross_entropy,
    "sum": lambda out, _: out.sum(),  # what the paper's profiler back-propagates
}


@dataclass(frozen=True)
class Measurement:
    """What one profiled update cost. Integers are analytic and exact; seconds are not."""

    spec: CaseSpec
    params: dict  # trainable, total
    flops: dict  # convention -> phase -> FLOPs
    memory: dict  # categories, at_peak, peak.{category_max_sum, simultaneous}, cuda_max_allocated
    step_seconds: float | None  # median wall time of an unprofiled step; None when analytic
    env: dict
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def environment(device: str) -> dict:
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "torch": torch.__version__,
        **{d: version(d) for d in ("torchvision", "peft", "galore-torch", "transformers")},
        "python": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "cpu_capability": cpu_capability(),
        "kernels": kernel_set(),  # what trained numbers are made with here (repro/kernels.py)
    }


def check_device(device: str) -> None:
    """A device this machine has, or one line that says what is wrong (torch's own errors are tracebacks)."""
    try:
        kind = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from err
    if kind.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA device is available on this machine "
                             f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use --device cpu")
        if kind.index is not None and kind.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif kind.type != "cpu":
        raise ValueError(f"--device {device}: only cpu and cuda are supported")


def build_case(spec: CaseSpec):
    """The model with its method applied, its optimizer, and one seeded batch."""
    if spec.loss not in LOSSES:
        raise ValueError(f"unknown loss {spec.loss!r}; valid losses: {', '.join(LOSSES)}")
    if spec.batch < 1:
        raise ValueError(f"batch must be >= 1, got {spec.batch}")
    check_device(spec.device)
    with seeded(spec.seed):  # the initial weights and adapters follow the spec, not earlier work
        model = build_model(spec.model, spec.num_classes, spec.size).to(spec.device).train()
        model, optimizer = apply_method(model, spec.method, spec.rank, spec.options())
    gen = torch.Generator().manual_seed(spec.seed)
    x = torch.randn(spec.batch, 3, spec.size, spec.size, generator=gen).to(spec.device)
    y = torch.randint(0, spec.num_classes, (spec.batch,), generator=gen).to(spec.device)
    if spec.method == "oft":
        _check_oft_fits(model, x[:1], spec)
    return model, optimizer, x, y


def _check_oft_fits(model, x, spec: CaseSpec) -> None:
    """peft's OFT rotates each k x k conv's input patches, unfolded without padding, so every adapted conv
    needs an input of at least k x k; a small image leaves ResNet-18's last 3 x 3 convs a 2 x 2 or 1 x 1
    map and torch fails deep in peft's forward. One eval-mode forward of one image finds out first."""
    was_training = model.training
    try:
        with torch.no_grad(), seeded(spec.seed):
            model.eval()(x)
    except RuntimeError as err:
        raise ValueError(f"oft cannot adapt {spec.model} at {spec.size}x{spec.size}: peft's OFT needs every adapted "
                         f"k x k conv's input to be at least k x k, and this model's late feature maps are "
                         f"smaller ({err}); use a larger --size (224 works) or another method") from err
    finally:
        model.train(was_training)


def step_phases(model, optimizer, x, y, loss: str):
    """forward (with the loss), backward and optimizer step of one update, as three callables."""
    loss_fn = LOSSES[loss]
    held = {}

    def forward():
        optimizer.zero_grad(set_to_none=True)
        held["loss"] = loss_fn(model(x), y)

    def backward():
        held.pop("loss").backward()

    return forward, backward, optimizer.step


def _run(phases):
    for phase in phases:
        phase()


class CountingMemTracker(CategoryMemTracker):
    """The memory tracker that also counts FLOPs while `counter` is set: one Python dispatch per op where
    FlopCounterMode stacked on the tracker took two (each op went through both modes), and the same
    counts: an op FlopCounterMode would decompose is decomposed here too, its parts counted and tracked."""

    def __init__(self):
        super().__init__()
        self.counter: TwoConventionCounter | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        counter = self.counter
        if counter is None:
            return super().__torch_dispatch__(func, types, args, kwargs)
        kwargs = kwargs or {}
        if counter.decomposes(func):
            TorchDispatchMode.__enter__(self)  # the parts come back through this mode; not MemTracker's __enter__
            try:
                out = func.decompose(*args, **kwargs)
            finally:
                TorchDispatchMode.__exit__(self, None, None, None)
            if out is not NotImplemented:
                return out
        out = super().__torch_dispatch__(func, types, args, kwargs)
        counter._count_flops(func._overloadpacket, out, args, kwargs)
        return out

    def count(self, phases) -> dict[str, dict[str, int]]:
        """Run the phases of one step (forward, backward, optimizer) with their FLOPs counted, as
        count_step_flops counts them."""
        counter, counts = TwoConventionCounter(), {}
        self.counter = counter
        try:
            for name, run in zip(PHASES, phases, strict=True):
                counter.reset()
                run()
                counts[name] = counter.totals()
        finally:
            self.counter = None
        return by_convention(counts)


def profiled_update(model, optimizer, phases, extra=()) -> tuple[dict, dict]:
    """FLOPs of the first step and memory of two iterations, in one pass: the first tracked
    iteration is also the counted step."""
    tracker, flops = CountingMemTracker(), {}

    def iteration():
        if flops:
            _run(phases)
        else:
            flops.update(tracker.count(phases))

    memory = track_memory(model, optimizer, iteration, extra=extra, tracker=tracker)
    return flops, memory


def profile(spec: CaseSpec, timed_steps: int = 3) -> Measurement:
    """Build the case and profile its update. The counted step is the first one, as in the paper's
    profiler (GaLore's SVD happens in it); the second tracked iteration sees the optimizer state held
    while activations peak. With `spec.analytic` the step runs on fake tensors and nothing is timed.
    """
    with seeded(spec.seed):  # dropout in the steps draws too
        return _profile(spec, timed_steps)


def _profile(spec: CaseSpec, timed_steps: int) -> Measurement:
    model, optimizer, x, y = build_case(spec)
    params = {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }
    mode = AnalyticMode() if spec.analytic else contextlib.nullcontext()
    if spec.analytic:
        x, y = to_fake(mode, model, optimizer, x, y)
    cuda = spec.device.startswith("cuda") and not spec.analytic
    if cuda:
        torch.cuda.synchronize(spec.device)
        torch.cuda.reset_peak_memory_stats(spec.device)
    phases = step_phases(model, optimizer, x, y, spec.loss)
    try:
        with mode:
            flops, memory = profiled_update(model, optimizer, phases, extra=(x, y))
    except DataDependentOutputException as err:  # only fake tensors raise it
        raise ValueError(f"--analytic cannot run {spec.method}: its step reads a tensor's value ({err.func}), which "
                         f"fake tensors do not have; profile it without --analytic") from err
    memory["cuda_max_allocated"] = torch.cuda.max_memory_allocated(spec.device) if cuda else None

    seconds = None
    if not spec.analytic and timed_steps > 0:
        times = []
        for _ in range(timed_steps + 1):  # the first step warms up allocator and kernels
            times.append(clock.seconds(lambda: _run(phases), spec.device))
        seconds = statistics.median(times[1:])
    return Measurement(spec=spec, params=params, flops=flops, memory=memory, step_seconds=seconds,
                       env=environment(spec.device))
