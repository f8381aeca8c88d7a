"""Measuring one update: FLOPs under two conventions, memory by category, fake tensors, one clock, a
spec to a measurement record, step time against FFT. Imports only the case role below it."""
