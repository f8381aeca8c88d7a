"""Command line: python -m repro {list,profile,pretrain,adapt,report} ...

    python -m repro list
    python -m repro profile --model mobilenet_v2 --method lora --rank 8 --batch 8 --size 32
    python -m repro profile --model resnet18 --method fft --json
    python -m repro pretrain [--model resnet18]
    python -m repro adapt --model mobilenet_v2 --method lora --rank 8 --scenario shift
    python -m repro report [--from reports/results.json] [--out reports/]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tabulate import tabulate

from repro.data import DATA_ROOT_ENV, SCENARIOS, DataSpec
from repro.flops import CONVENTIONS
from repro.methods import METHODS, OPTIMIZERS, RANKED, TARGET_POLICIES
from repro.models import MODELS
from repro.profile import LOSSES, CaseSpec, Measurement, check_device, profile

PHASES = ("forward", "backward", "optimizer", "total")


def format_measurement(m: Measurement) -> str:
    p, env = m.params, m.env
    head = (f"{m.spec.id}  ({env['platform']}, {env['device']}, torch {env['torch']}, peft {env['peft']})\n"
            f"parameters: {p['trainable']:,} trainable of {p['total']:,} "
            f"({100 * p['trainable'] / p['total']:.2f}%)")
    flops = tabulate([[c, *(f"{m.flops[c][ph] / 1e6:,.1f}" for ph in PHASES)] for c in CONVENTIONS],
                     headers=["MFLOP", *PHASES], colalign=("left",) + ("right",) * len(PHASES))
    mem = m.memory
    mib = 2**20
    rows = [[name, f"{mem['categories'][name] / mib:,.2f}", f"{mem['at_peak'][name] / mib:,.2f}"]
            for name in mem["categories"]]
    rows.append(["peak", f"{mem['peak']['category_max_sum'] / mib:,.2f}",
                 f"{mem['peak']['simultaneous'] / mib:,.2f}"])
    memory = tabulate(rows, headers=["MiB", "category max (paper)", "at simultaneous peak"],
                      colalign=("left", "right", "right"))
    tail = ("analytic: fake tensors, nothing timed" if m.step_seconds is None
            else f"unprofiled step: {m.step_seconds * 1e3:.1f} ms")
    if mem.get("cuda_max_allocated") is not None:
        tail += f"; torch.cuda.max_memory_allocated: {mem['cuda_max_allocated'] / mib:,.2f} MiB"
    return "\n\n".join([head, flops, memory, tail])


def cmd_list(args) -> int:
    print(tabulate([["models", ", ".join(MODELS)],
                    ["methods", ", ".join(METHODS)],
                    ["methods with a rank", ", ".join(RANKED)],
                    ["lora/dora targets", ", ".join(TARGET_POLICIES)],
                    ["optimizers", ", ".join(OPTIMIZERS)],
                    ["losses", ", ".join(LOSSES)],
                    ["FLOP conventions", ", ".join(CONVENTIONS)]], tablefmt="plain"))
    return 0


def cmd_profile(args) -> int:
    spec = CaseSpec(model=args.model, method=args.method, rank=args.rank, batch=args.batch, size=args.size,
                    num_classes=args.num_classes, seed=args.seed, optimizer=args.optimizer, lr=args.lr,
                    loss=args.loss, targets=args.targets, lora_dropout=args.lora_dropout, device=args.device,
                    analytic=args.analytic)
    check_device(spec.device)  # before the "profiling" line, so a bad device is the only line printed
    if not args.json:
        how = ", on fake tensors" if spec.analytic else ""
        print(f"profiling {spec.id} (one counted step, two tracked iterations{how}) ...", file=sys.stderr)
    record = profile(spec)
    print(record.to_json() if args.json else format_measurement(record))
    return 0


def cmd_pretrain(args) -> int:
    from repro.zoo import base_model, cache_dir

    data = DataSpec(data_root=args.data_root)
    rows = []
    for name in args.model or list(MODELS):
        _, meta = base_model(name, data, progress=True)
        rows.append([name, f"{100 * meta['test_accuracy']:.1f}%", f"{meta['seconds']:.0f}", meta["steps"]])
    print(tabulate(rows, headers=["model", "source test accuracy", "seconds to train", "steps"]))
    print(f"cache: {cache_dir()}")
    return 0


def cmd_adapt(args) -> int:
    from repro.training import AdaptSpec, adapt, bn_stats_only

    data = DataSpec(data_root=args.data_root)
    spec = AdaptSpec(args.model, args.method, args.rank, args.scenario, steps=args.steps, batch=args.batch,
                     lr=args.lr, seed=args.seed, data=data)
    results = [adapt(spec, progress=True)]
    if args.scenario == "shift":
        results.append(bn_stats_only(args.model, args.scenario, data))
    print(tabulate([[r.spec.id, f"{100 * r.before:.1f}%", f"{100 * r.after:.1f}%", f"{r.loss_before:.4f}",
                     f"{r.loss_after:.4f}", f"{r.seconds:.1f}"] for r in results],
                   headers=["case", "before", "after", "test loss before", "after", "seconds"]))
    print(f"data: {results[0].data_source}")
    return 0


def cmd_report(args) -> int:
    from repro.baselines import platform_name
    from repro.report import build, load_inputs

    inputs = load_inputs(Path(args.results), Path(args.baselines_dir), args.platform or platform_name(args.device))
    for problem in inputs.missing:
        print(f"missing: {problem}", file=sys.stderr)
    print(f"report: {build(inputs, Path(args.out))}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m repro", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="models, methods and options").set_defaults(run=cmd_list)

    pp = sub.add_parser("profile", help="FLOPs and memory of one training update")
    pp.add_argument("--model", required=True, choices=list(MODELS))
    pp.add_argument("--method", required=True, choices=list(METHODS))
    pp.add_argument("--rank", type=int, default=None, help=f"required for {', '.join(RANKED)}")
    pp.add_argument("--batch", type=int, default=8)
    pp.add_argument("--size", type=int, default=32, help="input height and width in pixels")
    pp.add_argument("--num-classes", type=int, default=10)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    pp.add_argument("--lr", type=float, default=1e-3)
    pp.add_argument("--loss", choices=list(LOSSES), default="cross_entropy",
                    help="'sum' back-propagates out.sum(), as the paper's profiler does")
    pp.add_argument("--targets", choices=TARGET_POLICIES, default="pointwise+regular",
                    help="which layers LoRA/DoRA adapt")
    pp.add_argument("--lora-dropout", type=float, default=0.0)
    pp.add_argument("--device", default="cpu")
    pp.add_argument("--analytic", action="store_true",
                    help="run the step on fake tensors: the same FLOPs and memory, seconds at any size")
    pp.add_argument("--json", action="store_true", help="print the measurement record as JSON")
    pp.set_defaults(run=cmd_profile)

    data_help = f"a local copy of CIFAR-10 / CIFAR-10-C / VWW (default: ${DATA_ROOT_ENV}, else embedded digits)"
    pt = sub.add_parser("pretrain", help="fill the base-model cache")
    pt.add_argument("--model", action="append", choices=list(MODELS), help="repeatable; default: all")
    pt.add_argument("--data-root", default=None, help=data_help)
    pt.set_defaults(run=cmd_pretrain)

    ad = sub.add_parser("adapt", help="accuracy before and after a short update on a scenario")
    ad.add_argument("--model", required=True, choices=list(MODELS))
    ad.add_argument("--method", required=True, choices=list(METHODS))
    ad.add_argument("--rank", type=int, default=None)
    ad.add_argument("--scenario", choices=SCENARIOS, default="shift")
    ad.add_argument("--steps", type=int, default=100)
    ad.add_argument("--batch", type=int, default=32)
    ad.add_argument("--lr", type=float, default=None, help="default: per method (repro/training.py)")
    ad.add_argument("--seed", type=int, default=0)
    ad.add_argument("--data-root", default=None, help=data_help)
    ad.set_defaults(run=cmd_adapt)
    rp = sub.add_parser("report", help="the claims, figures and drift as reports/index.md and .html")
    rp.add_argument("--from", dest="results", default="reports/results.json",
                    help="a run's records (pytest writes it after -m paper_claims or with --report)")
    rp.add_argument("--out", default="reports")
    rp.add_argument("--baselines-dir", default="baselines")
    rp.add_argument("--platform", default=None, help="baselines/<platform> (default: this machine's, or "
                    "$REPRO_PLATFORM)")
    rp.add_argument("--device", default="cpu", help="the device the baselines were recorded on")
    rp.set_defaults(run=cmd_report)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # its CPU-kernel notice is noise here
    try:
        return args.run(args)
    except (ValueError, ImportError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
