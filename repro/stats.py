"""Seeds to intervals, intervals to three-valued verdicts.

An accuracy is a random variable of the seed (the head's and the adapters' initialisation, the batch
order), so a case is summarised by its mean and a 95% t-interval over the seeds, and two methods are
compared by their gap paired by seed (same seed, same batches, same test images). A claim's band is
then decided three ways: the interval inside the band holds, outside does not reproduce, and across an
edge is inconclusive, which is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _stats

HOLDS, NO, INCONCLUSIVE = "holds", "does not reproduce", "inconclusive"
LEVEL = 0.95


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float
    n: int
    lo: float  # the 95% confidence interval of the mean
    hi: float

    def points(self) -> str:
        """'12.3 [10.1, 14.5]' in percentage points."""
        return f"{100 * self.mean:.1f} [{100 * self.lo:.1f}, {100 * self.hi:.1f}]"


def summarize(values) -> Summary:
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = sum(values) / n
    if n == 1:
        return Summary(mean, 0.0, 1, -math.inf, math.inf)  # one seed says nothing about the spread
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = _stats.t.ppf((1 + LEVEL) / 2, n - 1) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


def paired(a, b) -> Summary:
    """The gap a - b, paired by seed: a and b are lists in the same seed order."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same seeds, got {len(a)} and {len(b)}")
    return summarize([x - y for x, y in zip(a, b, strict=True)])


@dataclass(frozen=True)
class Band:
    """A claim's reading as an interval of the measured quantity: [lo, hi], either end open."""
    lo: float = -math.inf
    hi: float = math.inf

    def decide(self, s: Summary) -> str:
        if self.lo <= s.lo and s.hi <= self.hi:
            return HOLDS
        if s.hi < self.lo or s.lo > self.hi:
            return NO
        return INCONCLUSIVE

    def __str__(self):
        if self.lo == -math.inf:
            return f"at most {100 * self.hi:.0f}"
        if self.hi == math.inf:
            return f"at least {100 * self.lo:.0f}"
        return f"{100 * self.lo:.0f} to {100 * self.hi:.0f}"


def combine(verdicts) -> str:
    """All parts of a claim together: one part that does not reproduce decides; else any inconclusive
    part leaves the claim inconclusive; else it holds."""
    verdicts = list(verdicts)
    if NO in verdicts:
        return NO
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else HOLDS
