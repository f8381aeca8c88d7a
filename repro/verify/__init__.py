"""Verifying: stored baselines and tolerances, the claims and their bands, what the checks read
(evidence), the claims tables, re-measuring a sample."""
