"""Learning: the benchmarks (data/), cached base models, the train and evaluation loops, adaptation
runs and where they run (engines), finished runs kept, the glyph calibration."""
