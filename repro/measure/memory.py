"""Memory of training iterations by category, with MemTracker's categories and two peak definitions.

* simultaneous: the largest total held at one moment (MemTracker's own peak).
* category_max_sum: each category's own maximum, summed, as the paper's profiler reports it.
  The categories peak at different moments, so this is an upper bound on `simultaneous`.
"""

from __future__ import annotations

import gc

import torch
from torch._guards import active_fake_mode
from torch.distributed._tools.mem_tracker import _TOTAL_KEY, MemTracker, _MemRefType, _UpdateType, _WeakRefInfo
from torch.utils._python_dispatch import is_traceable_wrapper_subclass


def _tensors(out):
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors(o)


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


_FAKE = torch._C._TorchDispatchModeKey.FAKE


class _AutogradFlag:
    """All CategoryMemTracker needs of MemTracker's ModTracker: whether autograd's engine is running.

    ModTracker hooks every module's forward and wraps its inputs and outputs in gradient hooks, so
    that MemTracker can take per-module snapshots (which we never read) and notice activation
    checkpointing re-running a forward inside backward (which no case here uses). Its `is_bw` is
    this same engine query; the hooks made memory tracking 12-20x a plain step.
    """

    @property
    def is_bw(self) -> bool:
        return torch._C._current_graph_task_id() != -1

    def register_user_hooks(self, *hooks):
        pass

    def clear_user_hooks(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass


# MemTracker's private attributes CategoryMemTracker reads or overrides. They are the same in torch 2.9.1
# and 2.14.1 (tox -e floor runs the tests on the oldest); a torch that renames one fails here, in words.
PRIVATE_SURFACE = ("_track_module_params_and_buffers", "_param_to_grad_hook_handles", "_update_and_maybe_create_winfos",
                   "_track", "_in_opt", "_in_ac", "_curr_mem_snap", "_peak_mem", "_peak_mem_snap", "_mod_tracker",
                   "_WINFO", "_update_snap", "_delete_callback")


class CategoryMemTracker(MemTracker):
    """MemTracker's categories with none of its module hooks; keeps each category's maximum.

    Tensors made by an op are categorised as in MemTracker: optimizer state inside optimizer.step,
    temporaries inside backward, activations otherwise; gradients by their parameters' hooks.
    MemTracker (torch 2.9 to 2.14) registers a gradient hook on every parameter, which raises on one
    that does not require grad; gradients of frozen parameters never exist, so they need no hook.
    Activation checkpointing is not supported: its recomputed activations would count as temporaries.
    """

    def __init__(self):
        super().__init__()
        missing = [name for name in PRIVATE_SURFACE if not hasattr(self, name)]
        if missing:
            raise RuntimeError(f"torch {torch.__version__}'s MemTracker lacks {', '.join(missing)}, which the memory "
                               f"categories rely on; the suite runs on torch 2.9 to 2.14 (pyproject.toml)")
        self._mod_tracker = _AutogradFlag()
        self.category_max = dict.fromkeys(CATEGORIES.values(), 0)
        self._entry_fake_mode = None

    def __enter__(self):
        # Fake tensors (--analytic) are tracked when the tracker is entered inside their mode; any other
        # fake mode met inside is someone's shape propagation, not memory. torch 2.13+ keeps the same
        # reference as `_fake_mode_on_entry`, which 2.9 to 2.12 lack, so it is kept here under our name.
        self._entry_fake_mode = active_fake_mode()
        return super().__enter__()

    def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
        # Called by track_external on the whole model: every gradient hook is installed there.
        sizes = super()._track_module_params_and_buffers(module, install_grad_hooks=False)
        for p in module.parameters():
            if p.requires_grad and self._param_to_grad_hook_handles.get(p) is None:
                self._param_to_grad_hook_handles[p] = (
                    p.register_hook(self._track_grad),
                    p.register_post_accumulate_grad_hook(lambda q: self._track_grad(q.grad)),
                )
        return sizes

    def _track(self, reftype, t) -> None:
        # MemTracker's, for a tensor that is not a wrapper subclass (every tensor here, fake ones included):
        # its one storage, without the set and the subclass walk of get_untyped_storages on every output
        if is_traceable_wrapper_subclass(t):
            return super()._track(reftype, t)
        st = t.untyped_storage()
        winfo, _ = self._WINFO.get(st, (None, None))
        if winfo is not None:
            if winfo.size != st.size():
                old = winfo.mem_consumed
                winfo.update_mem_consumed(st)
                self._update_snap(_UpdateType.SIZE, winfo, old_mem_consumed=old)
            return
        winfo, w_st = _WeakRefInfo.create_winfo(st, t.device, reftype, self._delete_callback)
        self._WINFO[st] = (winfo, w_st)
        if winfo.mem_consumed > 0:
            self._update_snap(_UpdateType.ADD, winfo)

    def _track_grad(self, grad):
        self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        # MemTracker's, without its DTensor and collective branches (nothing here is distributed) and
        # with a plain walk over the outputs in place of pytree; the categories are decided the same way.
        out = func(*args, **(kwargs or {}))
        # active_fake_mode() walks the whole mode stack; a fake mode is only ever held in the FAKE slot
        if torch._C._get_dispatch_mode(_FAKE) is self._entry_fake_mode:
            if self._in_opt:
                reftype = _MemRefType.OPT
            elif self._mod_tracker.is_bw and not self._in_ac:
                reftype = _MemRefType.TEMP
            else:
                reftype = _MemRefType.ACT
            for t in _tensors(out):
                self._track(reftype, t)
            self._update_peak_stats(None)
        return out

    def _update_peak_stats(self, peak_state):
        # Only the global peak: MemTracker also refreshes per-module peak snapshots here, looping over
        # every module after every op, which made it most of the profiling time; we never read them.
        snaps = self._curr_mem_snap
        for dev, snap in snaps.items():
            if self._peak_mem.get(dev, 0) < snap[_TOTAL_KEY]:
                self._peak_mem[dev] = snap[_TOTAL_KEY]
                self._peak_mem_snap[dev] = dict(snap)
        # called after every op: the common single-device case skips the sums
        now = (next(iter(snaps.values())) if len(snaps) == 1
               else {ref: sum(snap.get(ref, 0) for snap in snaps.values()) for ref in CATEGORIES})
        category_max = self.category_max
        for ref, name in CATEGORIES.items():
            if now.get(ref, 0) > category_max[name]:
                category_max[name] = now[ref]

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


def track_memory(model, optimizer, iteration, iterations: int = 2, extra=(), tracker=None) -> dict:
    """Run `iteration()` `iterations` times under the tracker (a CategoryMemTracker unless given); bytes per
    category and both peaks.

    `extra` tensors made outside the tracker (the input batch) count as "other".
    """
    tracker = tracker or CategoryMemTracker()
    tracker.track_external(model, optimizer, *extra)
    # Tensors held in reference cycles (peft's DoRA on MobileNetV3 leaves some) are freed whenever the
    # cyclic collector happens to run, which depends on everything the process allocated before: a
    # 3.7 MB activation peak came and went between runs of mobilenet_v3_large DoRA r2. With the
    # collector paused and run at the end of each iteration, cyclic garbage counts until the iteration
    # ends, and the peaks are the same integers in any process. The collections stop at generation 1:
    # everything an iteration allocates stays young while the collector is paused, and a full pass over
    # the process (peft and transformers make it large) took 0.3 s each time.
    paused = gc.isenabled()
    gc.disable()
    try:
        with tracker:
            for _ in range(iterations):
                iteration()
                gc.collect(1)
            return tracker.summary()
    finally:
        if paused:
            gc.enable()
