"""Which CPU kernels make a trained number, and one set of them for every x86_64 CPU of a vendor.

ATen, oneDNN and MKL pick their kernels by the CPU, and kernels add in different orders, so one seed
trains other weights on one CPU than on another. ATen and oneDNN pick by vector extension: capped at
AVX2, an AMD EPYC with AVX-512 made the records of an AVX2 one (ResNet-18, digits, LoRA r8, shift, seed
0: 0.937778 native, 0.96 capped, and so did all 510 stored digit readings). MKL (torch's BLAS, LAPACK and
the vector maths behind torch.sqrt) picks by vendor too (pytorch/pytorch#155552), and no setting makes an
Intel CPU compute what an AMD one does (benchmarks/kernel_bits.py, measured on an Intel Xeon with
AVX-512 and under qemu-user's AMD EPYC-Rome and Intel Haswell models):

* a classifier head's sgemm: AMD's default path gives bits that no value of MKL_CBWR or
  MKL_ENABLE_INSTRUCTIONS gives on the Intel CPU;
* MKL_CBWR=COMPATIBLE, MKL's documented cross-vendor branch, gives one SVD and one sgemm on both vendors,
  but its torch.sqrt (AdamW's second moment) comes out one way on the real Intel CPU and another under
  both emulated vendors: the emulation is not faithful there, so whether a real AMD CPU would agree
  with a real Intel one cannot be shown here;
* MKL_CBWR=AVX2 holds every Intel CPU with AVX2 to one code path (what the switch is for): the Intel
  Xeon with AVX-512 and the emulated Haswell give the same bits at every stage of a training step
  (sgemm, sqrt, SVD, convolutions, AdamW, head-only and GaLore updates).

So the kernel set is one per vendor, and each has its own records, made on a real CPU of that vendor:

    every x86_64 CPU        ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
    AMD (and any non-Intel)  MKL_CBWR unset: MKL's default path (`pinned-avx2`, the records
                             baselines/x86_64-cpu/accuracy-<benchmark>.json)
    Intel                    MKL_CBWR=AVX2 (`pinned-avx2-intel`, the records accuracy-<benchmark>-intel.json)

MKL_CBWR must stay unset on AMD: MKL_CBWR=AVX2 there moved every GaLore run on a 2-core AMD EPYC with AVX2
(its SVD; ResNet-18 shift seed 1 ended at 0.937778 instead of its record's 0.942222) and nothing else.

The libraries read these once, when torch first uses them, so they must be in the environment before
torch is imported: `import repro` sets them when torch is not imported yet (repro imports no torch), and
every process it spawns inherits them. A process where torch came first, without them, cannot be
pinned any more, and refuses to train (`require_pinned`) instead of training other numbers silently.

    REPRO_ISA=native    train with this CPU's own kernels (faster on AVX-512); its records are its own
                        (baselines/<platform>/accuracy-<benchmark>-<capability>.json)

Only trained numbers need the pin: costs are counted, not computed, and step times are read with the
CPU's own kernels in a process of their own (repro/measure/timing.py), since they stand for a user's training.
"""

from __future__ import annotations

import os
import platform
import sys

ISA_ENV = "REPRO_ISA"
VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")  # what the pin reads and sets
PINNED = "pinned-avx2"  # the kernel set of AMD's (and any non-Intel x86_64 CPU's) records
PINNED_INTEL = "pinned-avx2-intel"  # Intel's: MKL held to its AVX2 path
INTEL = "GenuineIntel"
PIN_ARCHES = ("x86_64", "amd64")


def cpu_fields() -> dict[str, str]:
    """The first processor's entries in /proc/cpuinfo (Linux); empty elsewhere."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def vendor() -> str:
    """GenuineIntel, AuthenticAMD, ...: what MKL picks its code paths by. $REPRO_CPU_VENDOR stands in for
    /proc/cpuinfo under qemu-user, which shows the host's CPU, not the emulated one (benchmarks/kernel_bits.py)."""
    return os.environ.get("REPRO_CPU_VENDOR") or cpu_fields().get("vendor_id", "unknown")


def pin_for(cpu_vendor: str) -> dict[str, str | None]:
    """Each pin variable's value on a CPU of `cpu_vendor` (None: must be unset)."""
    return {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_CBWR": "AVX2" if cpu_vendor == INTEL else None}


PIN_ALL = pin_for(vendor())  # this CPU's, including what must stay unset
PIN = {k: v for k, v in PIN_ALL.items() if v is not None}  # what the pin sets here


class KernelError(ValueError):  # a setting of the environment: one line from the CLI
    pass


def wanted() -> str:
    """`pinned` (x86_64, the default) or `native` (REPRO_ISA=native, or a CPU the pin does not apply to)."""
    value = os.environ.get(ISA_ENV, "").strip().lower() or "avx2"
    if value not in ("avx2", "native"):
        raise KernelError(f"${ISA_ENV}={os.environ[ISA_ENV]!r} is not a kernel set: use avx2 (the default on x86_64, "
                          f"the records' kernels) or native (this CPU's own, with records of its own)")
    return "pinned" if value == "avx2" and platform.machine().lower() in PIN_ARCHES else "native"


def apply(environ=os.environ, modules=sys.modules) -> dict:
    """Put the pin into `environ` where it can still hold (torch not imported yet), and say what this
    process starts with: whether torch came first, and the pin's variables as they were then."""
    torch_first = "torch" in modules
    try:
        pin = wanted() == "pinned"
    except KernelError:  # said in one line where it matters (require_pinned), not as an import traceback
        pin = False
    if not torch_first and pin:
        for key, value in PIN.items():
            environ.setdefault(key, value)  # a value the user set is kept, and checked by require_pinned
    return {"torch_first": torch_first, "env": {k: environ.get(k) for k in VARIABLES}}


# What this process started with, read when repro was first imported (a fact about the process, as
# os.environ is: it cannot change afterwards, whatever the code does)
AT_IMPORT = apply()


def cpu_capability() -> str:
    """The vector extension torch's ATen kernels run with here: avx2, avx512, default, ..."""
    import torch

    return torch.backends.cpu.get_cpu_capability().lower()


def pin_problem(state: dict | None = None) -> str | None:
    """Why the pin does not hold in this process, in one sentence, or None (holds, or not wanted)."""
    if wanted() != "pinned":
        return None
    state = state or AT_IMPORT
    wrong = {k: v for k, v in state["env"].items() if v != PIN_ALL.get(k)}
    fix = (f"start Python with {' '.join(f'{k}={v}' for k, v in PIN.items())}, or set {ISA_ENV}=native to train "
           f"with this CPU's own kernels (records of its own)")
    if wrong and state["torch_first"]:
        return (f"torch was imported before repro without the AVX2 kernel pin, so the kernels are this CPU's own "
                f"and trained numbers would not be the records': import repro before torch, or {fix}")
    if wrong:
        said = ", ".join(f"{k}={v}" for k, v in wrong.items())
        pin = " ".join(f"{k}={v}" for k, v in PIN.items())
        unset = [k for k, v in PIN_ALL.items() if v is None]
        return (f"{said} is set, but trained numbers on this {vendor()} CPU are made with {pin}"
                + (f" and {', '.join(unset)} unset" if unset else "") + f": change it, or {fix}")
    if cpu_capability() == "default":  # ATen falls back below AVX2 only on a CPU that lacks it
        return (f"this CPU has no AVX2, so it cannot make the records' kernels: set {ISA_ENV}=native and record its "
                f"own accuracy file (pytest -m paper_claims --repro-update --repro-reason ...)")
    if cpu_capability() != "avx2":  # ATen read something else: the variables came too late for it
        return f"ATen runs {cpu_capability()} kernels despite the pin (set after torch started?): {fix}"
    return None


def require_pinned() -> None:
    """Refuse to train where the kernel set is not the one the records need (before any training)."""
    problem = pin_problem()
    if problem is not None:
        raise KernelError(problem)


def kernel_set() -> str:
    """The kernels trained numbers are made with here: `pinned-avx2` (AMD), `pinned-avx2-intel`, or
    `native-<capability>`."""
    if wanted() == "pinned":
        return PINNED_INTEL if vendor() == INTEL else PINNED
    return f"native-{cpu_capability()}"


def records_suffix() -> str:
    """What a trained group's file name carries for this kernel set: nothing for AMD's pinned records
    (the first ones), `-intel`, or `-<capability>` for a native run."""
    kind = kernel_set()
    return "" if kind == PINNED else "-intel" if kind == PINNED_INTEL else f"-{cpu_capability()}"


def cpu_model() -> str:
    """The CPU as a person names it: vendor, model name, family and model."""
    f = cpu_fields()
    if not f:
        return platform.processor() or platform.machine()
    return (f"{f.get('vendor_id', '?')} {f.get('model name', '?')} (family {f.get('cpu family', '?')} "
            f"model {f.get('model', '?')})")


def not_reproduced() -> str:
    """What to tell a user whose CPU trains other numbers than the records: which CPU, which libraries,
    and the way out."""
    pinned = " ".join(f"{k}={v}" for k, v in PIN.items())
    return (f"this CPU, {cpu_model()}, does not make the records' numbers with the kernels {kernel_set()} "
            f"({pinned}); the libraries on the training path that pick kernels by CPU are ATen, oneDNN and MKL "
            f"(repro/kernels.py; benchmarks/kernel_bits.py finds the first stage that differs): compare by the "
            f"statistical rule instead, with --accuracy-rule statistical")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is not there."""
    return set(cpu_fields().get("flags", "").split())


def pin_changes_kernels() -> bool:
    """Whether this CPU's own kernels differ from the pinned ones: it has more than AVX2 (AVX-512, AMX,
    AVX-VNNI), or it cannot say (no /proc/cpuinfo), in which case it is taken to."""
    flags = cpu_flags()
    return not flags or bool(flags & {"avx512f", "amx_tile", "avx_vnni"})


def go_native() -> None:
    """A worker process's first act, before it imports torch: this CPU's own kernels from here on."""
    global AT_IMPORT
    if "torch" in sys.modules:  # the spawned interpreter re-imported a __main__ that imports torch
        raise KernelError("torch was imported before the worker could drop the kernel pin: start the run from a "
                          "script that imports torch inside a function, or with python -m repro / pytest")
    for key in VARIABLES:
        os.environ.pop(key, None)
    os.environ[ISA_ENV] = "native"
    AT_IMPORT = apply()


def describe(_=None) -> dict:
    """This process's kernels, as a worker reports them (tests/test_kernels.py)."""
    return {"kernels": kernel_set(), "capability": cpu_capability(), "problem": pin_problem(),
            "env": {k: os.environ.get(k) for k in VARIABLES}, "isa": os.environ.get(ISA_ENV)}


def native_pool():
    """One spawned worker process that runs this CPU's own kernels (step-time readings in a pinned
    process on a CPU the pin slows: they stand for what a user's own training gets)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=go_native)


def times_natively_elsewhere() -> bool:
    """Whether step times must be read in a native_pool: this process trains pinned and the pin changes
    this CPU's kernels. On an AVX2 CPU (or unpinned) they are read here, with the same kernels."""
    return wanted() == "pinned" and pin_problem() is None and pin_changes_kernels()
