"""The numbers and names the grid, the claims and the records share, torch-free: reading a stored
record back needs them, building a model does not."""

PAPER_MODELS = ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
PAPER_METHODS = ("fft", "bn_head", "head", "lora", "dora", "galore")
RANKED = ("lora", "dora", "galore", "loha", "lokr", "oft", "boft")  # the methods that take a rank

RANKS = (1, 2, 4, 8, 16, 32, 64)
# ImageNet resolution, as the paper's models are published; the paper gives no batch (paper.md section 2)
PAPER_SIZE = 224
PAPER_BATCHES = (1, 8, 32)

# The accuracy protocol, fixed before any method ran under it, from the time budget alone: every
# method gets the same steps, batch and seeds; each run is also read at CHECKPOINTS for the learning
# curves of claim J. The grid keeps one model of each kind, standard and depthwise-separable: the runs
# dominate the claims run's time, and the MobileNetV3s are in the cost grid.
ACCURACY_RANK = 8
ACCURACY_SEEDS = (0, 1, 2, 3, 4)
ACCURACY_STEPS = 100
ACCURACY_BATCH = 16
CHECKPOINTS = (25, 50)
ACCURACY_MODELS = ("resnet18", "mobilenet_v2")
