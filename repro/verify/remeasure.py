"""How much of the accuracy evidence a claims run makes again: a sample of the stored runs, or all of them.

Every run is a function of its spec alone and, under the kernel pin (repro/kernels.py), gives the same
numbers on every x86_64 CPU. So a stored run made again and found equal, in every reading and to the
last digit, shows that this machine's code and libraries make the stored numbers, and the verdicts
can be read from the records:

    sample   every case that decides an accuracy verdict (the two sides of each headline gap or ratio,
             Verdict.cases, found from the records) is made again for one seed, and the seed turns with
             the date, so a run a day re-makes every stored run of those cases within len(seeds) days
    all      every run made fresh (what --repro-update, real data and CI's full shards use)
"""

from __future__ import annotations

import datetime

from repro.case.protocol import ACCURACY_SEEDS

MODES = ("sample", "all")


def day_seed(day: datetime.date | None = None, seeds=ACCURACY_SEEDS) -> int:
    """The seed a sample re-makes on `day` (UTC today by default): consecutive days take the seeds in turn."""
    day = day or datetime.datetime.now(datetime.timezone.utc).date()
    return seeds[day.toordinal() % len(seeds)]


def deciding_cases(records: dict, data) -> dict[str, tuple]:
    """Accuracy claim id (F, H-exact, ...) -> the (model, method, task) cases its verdict rests on, read
    from `records` (group -> case -> metrics, as the baseline files hold them)."""
    from repro.verify.claims import claim_cases, claim_id
    from repro.verify.evidence import RecordedEvidence

    evidence = RecordedEvidence(records, data)
    return {claim_id(claim, convention, scale): claim.read(evidence.at(scale), convention).cases
            for claim, convention, scale in claim_cases() if claim.kind == "accuracy"}


def sample_specs(deciding: dict, data, seed: int) -> list:
    """The runs a sample makes again: each deciding case once, at `seed` (a case with fewer seeds, such
    as BN statistics alone, at its first)."""
    from repro.case.grid import accuracy_run, seeds_of

    specs = []
    for model, method, task in dict.fromkeys(c for cases in deciding.values() for c in cases):
        seeds = seeds_of(method)
        specs.append(accuracy_run(model, method, task, seed if seed in seeds else seeds[0], data))
    return specs
