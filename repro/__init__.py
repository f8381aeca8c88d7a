"""peft-edge-repro: re-verify "From LLMs to Edge: PEFT on Edge Devices" (arXiv 2507.23536)."""
