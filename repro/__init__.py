"""peft-edge-repro: re-verify "From LLMs to Edge: PEFT on Edge Devices" (arXiv 2507.23536)."""

# First, and before anything imports torch: the kernel pin for trained numbers (repro/kernels.py)
from repro import kernels  # noqa: F401
