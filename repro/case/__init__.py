"""What a case is: the grid's numbers and names, the frozen specs and their keys, which cases run,
the model and method registries. Imports nothing above it."""
