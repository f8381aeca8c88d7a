"""Memory of training iterations by category, with MemTracker's categories and two peak definitions.

* simultaneous: the largest total held at one moment (MemTracker's own peak).
* category_max_sum: each category's own maximum, summed, as the paper's profiler reports it.
  The categories peak at different moments, so this is an upper bound on `simultaneous`.
"""

from __future__ import annotations

import gc

from torch.distributed._tools.mem_tracker import _TOTAL_KEY, MemTracker, _MemRefType

# MemTracker's category names -> ours
CATEGORIES = {
    _MemRefType.PARAM: "parameter",
    _MemRefType.BUFFER: "buffer",
    _MemRefType.GRAD: "gradient",
    _MemRefType.ACT: "activation",
    _MemRefType.TEMP: "temp",
    _MemRefType.OPT: "optimizer_state",
    _MemRefType.OTH: "other",
}


class CategoryMemTracker(MemTracker):
    """MemTracker that works with frozen parameters and keeps each category's maximum.

    torch 2.14.1's MemTracker registers a gradient hook on every parameter, which raises on one
    that does not require grad; gradients of frozen parameters never exist, so they need no hook.
    """

    def __init__(self):
        super().__init__()
        self.category_max = dict.fromkeys(CATEGORIES.values(), 0)

    def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
        sizes = super()._track_module_params_and_buffers(module, install_grad_hooks=False)
        if install_grad_hooks:
            for p in module.parameters():
                if p.requires_grad and self._param_to_grad_hook_handles.get(p) is None:
                    self._param_to_grad_hook_handles[p] = (
                        p.register_hook(self._track_grad),
                        p.register_post_accumulate_grad_hook(lambda q: self._track_grad(q.grad)),
                    )
        return sizes

    def _track_grad(self, grad):
        self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

    def _update_peak_stats(self, peak_state):
        # Only the global peak: MemTracker also refreshes per-module peak snapshots here, looping over
        # every module after every op, which made it most of the profiling time; we never read them.
        for dev, snap in self._curr_mem_snap.items():
            if self._peak_mem.get(dev, 0) < snap[_TOTAL_KEY]:
                self._peak_mem[dev] = snap[_TOTAL_KEY]
                self._peak_mem_snap[dev] = dict(snap)
        for ref, name in CATEGORIES.items():
            now = sum(snap.get(ref, 0) for snap in self._curr_mem_snap.values())
            self.category_max[name] = max(self.category_max[name], now)

    def breakdown(self, which: str) -> dict[str, int]:
        snaps = self.get_tracker_snapshot(which).values()  # one per device
        return {name: sum(s.get(ref, 0) for s in snaps) for ref, name in CATEGORIES.items()}

    def summary(self) -> dict:
        """categories: each category's maximum (optimizer_state includes the step's temporaries);
        at_peak: the breakdown at the simultaneous peak; at_end: what stays held after the last
        iteration (parameters, buffers, gradients, optimizer state)."""
        peak = self.breakdown("peak")
        return {
            "categories": dict(self.category_max),
            "at_peak": peak,
            "at_end": self.breakdown("current"),
            "peak": {
                "category_max_sum": sum(self.category_max.values()),
                "simultaneous": sum(peak.values()),
            },
        }


def track_memory(model, optimizer, iteration, iterations: int = 2, extra=()) -> dict:
    """Run `iteration()` `iterations` times under the tracker; bytes per category and both peaks.

    `extra` tensors made outside the tracker (the input batch) count as "other".
    """
    tracker = CategoryMemTracker()
    tracker.track_external(model, optimizer, *extra)
    # Tensors held in reference cycles (peft's DoRA on MobileNetV3 leaves some) are freed whenever the
    # cyclic collector happens to run, which depends on everything the process allocated before: a
    # 3.7 MB activation peak came and went between runs of mobilenet_v3_large DoRA r2. With the
    # collector paused and run at the end of each iteration, cyclic garbage counts until the iteration
    # ends, and the peaks are the same integers in any process.
    gc.collect()
    paused = gc.isenabled()
    gc.disable()
    try:
        with tracker:
            for _ in range(iterations):
                iteration()
                gc.collect()
                tracker.reset_mod_stats()  # MemTracker refuses a second forward of a module it has stats for
            return tracker.summary()
    finally:
        if paused:
            gc.enable()
