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

from scipy.special import stdtrit  # Student's t quantile; scipy.stats would cost a second to import

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
    half = float(stdtrit(n - 1, (1 + LEVEL) / 2)) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


def paired(a, b) -> Summary:
    """The gap a - b, paired by seed: a and b are lists in the same seed order."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same seeds, got {len(a)} and {len(b)}")
    return summarize([x - y for x, y in zip(a, b, strict=True)])


@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95% interval that does not come from seeds (a measured time's rounds)."""
    mean: float
    lo: float
    hi: float


UNITS = {  # how a band's numbers read
    "%": lambda v: f"{100 * v:.0f}%",  # a fraction shown as a percentage (a reduction)
    "points": lambda v: f"{100 * v:.0f} points",  # a fraction of accuracy, shown in percentage points
    "x": lambda v: f"x{v:g}",  # a ratio
    "": lambda v: f"{v:g}",  # a count (parameters, a rank)
    "bytes": lambda v: f"{v:g} byte{'' if v == 1 else 's'}",
}


@dataclass(frozen=True)
class Band:
    """A claim's reading as a closed interval of the measured quantity, either end open. A cost is one
    exact number and either lies in the band or not; an accuracy is a Summary over seeds, decided on
    its 95% interval."""
    lo: float = -math.inf
    hi: float = math.inf
    unit: str = "points"

    @classmethod
    def at_least(cls, lo, unit="points"):
        return cls(lo, math.inf, unit)

    @classmethod
    def at_most(cls, hi, unit="points"):
        return cls(-math.inf, hi, unit)

    @classmethod
    def within(cls, centre, tolerance, unit="points"):
        return cls(centre - tolerance, centre + tolerance, unit)

    @classmethod
    def up_to(cls, x, unit="points"):
        """The paper's "up to X", read the same in every claim: about X, within 10 points either way
        (a best case or a worst case that is X give or take what one more task or rank would change)."""
        return cls.within(x, 0.10, unit)

    def decide(self, s: Summary | Interval | float) -> str:
        lo, hi = (s.lo, s.hi) if isinstance(s, Summary | Interval) else (s, s)
        if self.lo <= lo and hi <= self.hi:
            return HOLDS
        if hi < self.lo or lo > self.hi:
            return NO
        return INCONCLUSIVE

    def contains(self, x: float) -> bool:
        return self.decide(x) == HOLDS

    def __str__(self):
        f = UNITS[self.unit]
        if self.lo == -math.inf:
            return f"at most {f(self.hi)}"
        if self.hi == math.inf:
            return f"at least {f(self.lo)}"
        lo = f"{100 * self.lo:.0f}" if self.unit == "points" else f(self.lo)  # "10 to 30 points"
        return f"{lo} to {f(self.hi)}"


def combine(verdicts) -> str:
    """All parts of a claim together: one part that does not reproduce decides; else any inconclusive
    part leaves the claim inconclusive; else it holds."""
    verdicts = list(verdicts)
    if NO in verdicts:
        return NO
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else HOLDS
