"""Command line: python -m repro {list,profile,pretrain,adapt,calibrate,sweep,report,verdicts} ...

    python -m repro list
    python -m repro profile --model mobilenet_v2 --method lora --rank 8 --batch 8 --size 32
    python -m repro profile --model resnet18 --method fft --json
    python -m repro pretrain [--model resnet18]
    python -m repro adapt --model mobilenet_v2 --method lora --rank 8 --scenario shift
    python -m repro sweep --model mypkg.nets:tiny_cnn [--methods lora,loha] [--ranks 1,4,16] [--analytic]
    python -m repro report [--from reports/results.json] [--out reports/]
    python -m repro verdicts [--from reports/results.json | --baselines baselines] [--check] [--against baselines]

A model is a registered name (`list`), an entry point of the group repro.models, or package.module:factory.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import warnings
from pathlib import Path

from tabulate import tabulate

# Only what needs no torch at the top: `--help`, and every command's parser but the one given, are built
# without importing torch or peft (a second or more); each command imports what it runs.
from repro.case.protocol import ACCURACY_MODELS, BENCHMARKS, PAPER_MODELS, RANKED, RANKS
from repro.case.specs import DATA_ROOT_ENV, GLYPH_TASKS, SCENARIOS, DataSpec
from repro.files import reports_dir, slug
from repro.learn import engines

PHASES = ("forward", "backward", "optimizer", "total")


def format_measurement(m) -> str:
    from repro.case.protocol import CONVENTIONS

    p, env = m.params, m.env
    head = (f"{m.spec.key}  ({env['platform']}, {env['device']}, torch {env['torch']}, peft {env['peft']})\n"
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
    # names only: the registries' torch-free lists (repro/case/protocol.py), so `list` starts at once
    from repro.case.models import entry_point_models, model_names
    from repro.case.protocol import CONVENTIONS, LOSS_NAMES, OPTIMIZERS, RANK_MEANING, TARGET_POLICIES

    plugins = entry_point_models()
    print(tabulate([["models", ", ".join(model_names())],
                    ["  the paper's", ", ".join(PAPER_MODELS)],
                    ["  from installed packages", ", ".join(f"{n} ({ep.value})" for n, ep in plugins.items()) or
                     "none (entry-point group repro.models)"],
                    ["  your own", "--model package.module:factory, a callable taking num_classes"],
                    ["methods", ", ".join(RANK_MEANING)],
                    ["methods with a rank", ", ".join(RANKED)],
                    ["lora/dora targets", ", ".join(TARGET_POLICIES)],
                    ["optimizers", ", ".join(OPTIMIZERS)],
                    ["losses", ", ".join(LOSS_NAMES)],
                    ["FLOP conventions", ", ".join(CONVENTIONS)]], tablefmt="plain"))
    print()
    print(tabulate(list(RANK_MEANING.items()), headers=["method", "what --rank means"]))
    return 0


def cmd_profile(args) -> int:
    from repro.case.models import factory
    from repro.measure.profile import CaseSpec, check_device, profile

    spec = CaseSpec(model=args.model, method=args.method, rank=args.rank, batch=args.batch, size=args.size,
                    num_classes=args.num_classes, seed=args.seed, optimizer=args.optimizer, lr=args.lr,
                    loss=args.loss, targets=args.targets, lora_dropout=args.lora_dropout, device=args.device,
                    analytic=args.analytic, head=args.head)
    factory(spec.model)  # before the "profiling" line: a bad model or device is the only line printed
    check_device(spec.device)
    if not args.json:
        how = ", on fake tensors" if spec.analytic else ""
        print(f"profiling {spec.key} (one counted step, two tracked iterations{how}) ...", file=sys.stderr)
    record = profile(spec)
    print(record.to_json() if args.json else format_measurement(record))
    return 0


def cmd_pretrain(args) -> int:
    from repro.case.grid import recipe_for
    from repro.learn.runs import pretrain_all
    from repro.learn.zoo import base_model, cache_dir

    data = DataSpec(data_root=args.data_root, benchmark=args.benchmark)
    names = args.model or list(ACCURACY_MODELS)
    engine = engines.make(args.executor)
    try:  # side by side, one core (one job) each
        pretrain_all([(name, data, recipe_for(data, name)) for name in names], engine=engine)
    finally:
        engine.close()
    rows = []
    for name in names:
        _, meta = base_model(name, data, recipe_for(data, name), progress=True)
        rows.append([name, f"{100 * meta['test_accuracy']:.1f}%", f"{meta['seconds']:.0f}", meta["steps"]])
    print(tabulate(rows, headers=["model", "source test accuracy", "seconds to train", "steps"]))
    print(f"cache: {cache_dir()}")
    return 0


def cmd_adapt(args) -> int:
    from repro.case.grid import accuracy_run
    from repro.learn.training import adapt, bn_stats_only

    data = DataSpec(data_root=args.data_root, benchmark=args.benchmark)
    # one run of the benchmark's protocol (steps, rate, BN policy, base model), the command line over it
    run = accuracy_run(args.model, args.method, args.scenario, args.seed, data)
    spec = dataclasses.replace(run, rank=args.rank, batch=args.batch, head=args.head, checkpoints=(),
                               steps=args.steps if args.steps is not None else run.steps,
                               lr=args.lr if args.lr is not None else run.lr)
    results = [adapt(spec, progress=True)]
    if args.scenario.startswith("shift"):
        results.append(bn_stats_only(args.model, args.scenario, data, recipe=spec.recipe))
    print(tabulate([[f"{r.spec.key} seed {r.spec.seed}", f"{100 * r.before:.1f}%", f"{100 * r.after:.1f}%",
                     f"{r.loss_before:.4f}", f"{r.loss_after:.4f}", f"{r.seconds:.1f}"] for r in results],
                   headers=["case", "before", "after", "test loss before", "after", "seconds"]))
    print(f"data: {results[0].data_source}")
    return 0


def cmd_calibrate(args) -> int:
    from repro.case.grid import ACCURACY_SEEDS
    from repro.learn.calibration import calibrate

    engine = engines.make(args.executor, args.workers)
    try:
        checks = calibrate(tuple(args.model or ACCURACY_MODELS), ACCURACY_SEEDS[:args.seeds], args.workers,
                           engine=engine)
    finally:
        engine.close()
    print(tabulate([[c.model, c.task, c.criterion, c.measured, "yes" if c.ok else "NO"] for c in checks],
                   headers=["model", "task", "criterion", "measured", "met"], disable_numparse=True))
    return 0 if all(c.ok for c in checks) else 1


def cmd_sweep(args) -> int:
    from repro.case.methods import METHODS
    from repro.measure.profile import check_device
    from repro.show.sweep import BREAK_EVEN_HEADERS, HEADERS, Sweep, break_even, run, table, write

    sweep = Sweep(args.model, tuple(args.methods or METHODS), tuple(args.ranks), batch=args.batch, size=args.size,
                  num_classes=args.num_classes, head=args.head, analytic=args.analytic, device=args.device)
    check_device(sweep.device)
    out = out_folder(Path(args.out or reports_dir() / f"sweep-{slug(args.model)}"))  # before the sweep, not after
    costs, failed = run(sweep)
    print(tabulate(table(sweep, costs, failed), headers=HEADERS, disable_numparse=True))
    for case, why in failed.items():
        print(f"cannot: {case}: {why}")
    print(f"\nbreak-even ranks: the smallest rank at which each method's {sweep.model} update costs as much as "
          f"FFT's (r8: it saves nothing from rank 8 on; 'none up to rN': it saves at every rank swept)")
    print(tabulate(break_even(sweep, costs), headers=BREAK_EVEN_HEADERS))
    print(f"written: {write(sweep, costs, failed, out)}, {out / 'index.html'}")
    return 0


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,4,16, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def out_folder(path: Path) -> Path:
    """An --out folder, refused in one line when it or a folder above it is a file: before anything is drawn."""
    for above in (path, *path.parents):
        if above.exists():
            if not above.is_dir():
                raise ValueError(f"--out {path}: {above} is a file; name a folder (index.md, index.html and "
                                 f"figures/ are written there)")
            break
    return path


def cmd_report(args) -> int:
    out = out_folder(Path(args.out or reports_dir()))
    from repro.show.report import build, load_inputs  # after the checks: it imports torch (repro/case/grid.py)
    from repro.verify.baselines import check_platform, platform_name

    platform = check_platform(args.platform, "--platform") if args.platform else platform_name(args.device)
    inputs = load_inputs(Path(args.results or reports_dir() / "results.json"), Path(args.baselines_dir), platform)
    named = [p for p in inputs.missing if args.results and p.startswith(args.results)]
    if named:  # a file the user named: a report without it would not be the one asked for
        raise ValueError(named[0])
    for problem in inputs.missing:
        print(f"missing: {problem}", file=sys.stderr)
    print(f"report: {build(inputs, out)}")
    return 0


MODEL_HELP = "a registered name (see list), an installed package's entry point, or package.module:factory"
HEAD_HELP = "module name of the classifier head, an nn.Linear (default: the model's last Linear)"


BENCHMARK_HELP = ("the embedded data: digits (quick, what the unit tests train on) or glyphs (the calibrated "
                  "benchmark the claims run reads)")
EXECUTOR_HELP = f"where the jobs go: {engines.CHOICES} (default: ${engines.EXECUTOR_ENV}, else local)"
DATA_HELP = f"a local copy of CIFAR-10 / CIFAR-10-C / VWW (default: ${DATA_ROOT_ENV}, else --benchmark)"


def list_args(pl):
    pl.set_defaults(run=cmd_list)


def profile_args(pp):
    from repro.case.protocol import LOSS_NAMES, OPTIMIZERS, RANK_MEANING, TARGET_POLICIES

    pp.add_argument("--model", required=True, help=MODEL_HELP)
    pp.add_argument("--head", default=None, help=HEAD_HELP)
    pp.add_argument("--method", required=True, choices=list(RANK_MEANING))
    pp.add_argument("--rank", type=int, default=None, help=f"required for {', '.join(RANKED)}")
    pp.add_argument("--batch", type=int, default=8)
    pp.add_argument("--size", type=int, default=32, help="input height and width in pixels")
    pp.add_argument("--num-classes", type=int, default=10)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    pp.add_argument("--lr", type=float, default=1e-3)
    pp.add_argument("--loss", choices=LOSS_NAMES, default="cross_entropy",
                    help="'sum' back-propagates out.sum(), as the paper's profiler does")
    pp.add_argument("--targets", choices=TARGET_POLICIES, default="pointwise+regular",
                    help="which layers LoRA/DoRA adapt")
    pp.add_argument("--lora-dropout", type=float, default=0.0)
    pp.add_argument("--device", default="cpu")
    pp.add_argument("--analytic", action="store_true",
                    help="run the step on fake tensors: the same FLOPs and memory, seconds at any size")
    pp.add_argument("--json", action="store_true", help="print the measurement record as JSON")
    pp.set_defaults(run=cmd_profile)


def pretrain_args(pt):
    pt.add_argument("--model", action="append", help="repeatable; default: the two the accuracy claims read. "
                    + MODEL_HELP)
    pt.add_argument("--data-root", default=None, help=DATA_HELP)
    pt.add_argument("--benchmark", choices=BENCHMARKS, default="glyphs",
                    help=BENCHMARK_HELP + "; default: glyphs, what `pytest -m paper_claims` reads")
    pt.add_argument("--executor", default=None, help=EXECUTOR_HELP)
    pt.set_defaults(run=cmd_pretrain)


def adapt_args(ad):
    from repro.case.methods import METHODS

    ad.add_argument("--model", required=True, help=MODEL_HELP)
    ad.add_argument("--head", default=None, help=HEAD_HELP)
    ad.add_argument("--method", required=True, choices=list(METHODS))
    ad.add_argument("--rank", type=int, default=None)
    ad.add_argument("--scenario", choices=[*SCENARIOS, *GLYPH_TASKS], default="shift",
                    help="shift or unseen (digits, real data); the glyph tasks with --benchmark glyphs")
    ad.add_argument("--benchmark", choices=BENCHMARKS, default="digits", help=BENCHMARK_HELP)
    ad.add_argument("--steps", type=_positive, default=None,
                    help="default: the benchmark's protocol (repro/case/protocol.py)")
    ad.add_argument("--batch", type=_positive, default=32)
    ad.add_argument("--lr", type=float, default=None,
                    help="default: the benchmark's protocol, else per method (repro/learn/training.py)")
    ad.add_argument("--seed", type=int, default=0)
    ad.add_argument("--data-root", default=None, help=DATA_HELP)
    ad.set_defaults(run=cmd_adapt)


def calibrate_args(ca):
    ca.add_argument("--model", action="append", help="repeatable; default: the accuracy grid's models")
    ca.add_argument("--seeds", type=_positive, default=5)
    ca.add_argument("--workers", type=_positive, default=None,
                    help="parallel runs (default: $REPRO_WORKERS, else every core)")
    ca.add_argument("--executor", default=None, help=EXECUTOR_HELP)
    ca.set_defaults(run=cmd_calibrate)


def sweep_args(sw):
    sw.add_argument("--model", required=True, help=MODEL_HELP)
    sw.add_argument("--head", default=None, help=HEAD_HELP)
    sw.add_argument("--methods", type=_names, default=None, help="comma-separated (default: all)")
    sw.add_argument("--ranks", type=_ints, default=list(RANKS), help="comma-separated (default: 1,2,4,...,64)")
    sw.add_argument("--batch", type=int, default=8)
    sw.add_argument("--size", type=int, default=32, help="input height and width in pixels")
    sw.add_argument("--num-classes", type=int, default=10)
    sw.add_argument("--analytic", action="store_true", help="fake tensors: any size in seconds per case")
    sw.add_argument("--device", default="cpu")
    sw.add_argument("--out", default=None, help="default: reports/sweep-<model> ($REPRO_REPORTS_DIR for reports)")
    sw.set_defaults(run=cmd_sweep)


def report_args(rp):
    rp.add_argument("--from", dest="results", default=None,
                    help="a run's records (pytest writes it after -m paper_claims or with --write-report)")
    rp.add_argument("--out", default=None, help="default: reports, or $REPRO_REPORTS_DIR")
    rp.add_argument("--baselines-dir", default="baselines")
    rp.add_argument("--platform", default=None, help="baselines/<platform> (default: this machine's, or "
                    "$REPRO_PLATFORM)")
    rp.add_argument("--device", default="cpu", help="the device the baselines were recorded on")
    rp.set_defaults(run=cmd_report)


def verdicts_args(vd):
    from repro.verify import verdicts  # its own parser too: `python -m repro verdicts` never reaches this module

    vd.description = verdicts.__doc__.splitlines()[0]
    verdicts.add_arguments(vd)
    vd.set_defaults(run=verdicts.run)


COMMANDS = {
    "list": ("models, methods and options", list_args),
    "profile": ("FLOPs and memory of one training update", profile_args),
    "pretrain": ("fill the base-model cache (side by side, one core each)", pretrain_args),
    "adapt": ("accuracy before and after a short update on a scenario", adapt_args),
    "calibrate": ("are the glyph tasks as easy or hard as their names say (reference methods only)",
                  calibrate_args),
    "sweep": ("every method at every rank for one model: costs, break-even ranks, figures", sweep_args),
    "report": ("the claims, figures and drift as reports/index.md and .html", report_args),
    "verdicts": ("the claims table from stored records (results.json or baselines), no model built", verdicts_args),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command with its one-line help, and the arguments of `command` alone: argparse reads only the
    command it parses, and building another's would import what that one runs."""
    ap = argparse.ArgumentParser(prog="python -m repro", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (summary, add_arguments) in COMMANDS.items():
        sp = sub.add_parser(name, help=summary)
        if name == command:
            add_arguments(sp)
    return ap


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = parser(command).parse_args(argv)
    # peft's per-layer notices: OFT moving a block size to a divisor (RANK_MEANING says so), BOFT looking for
    # its CUDA kernel (it runs without it); one line per layer buries the table
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    for message in ("Invalid `oft_block_size`", "Failed to load the CUDA extension", "Setting boft_n_butterfly"):
        warnings.filterwarnings("ignore", message=message)
    try:
        return args.run(args)
    except (ValueError, ImportError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except engines.JobsFailed as err:  # some jobs failed on the engine; each named with its message
        print(f"error: {err}", file=sys.stderr)
        return 1

