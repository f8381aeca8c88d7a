"""Memory categories against what the model and optimizer must hold."""

import pytest

from repro.measure.profile import CaseSpec, build_case

CASES = [CaseSpec("mobilenet_v3_small", m, rank=8 if m in ("lora", "dora", "galore") else None, batch=2)
         for m in ("fft", "bn_head", "lora", "dora", "galore")]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.key)
def test_parameter_bytes_are_numel_times_element_size(measure, spec):
    model, *_ = build_case(spec)
    expected = sum(p.numel() * p.element_size() for p in model.parameters())
    assert measure(spec).memory["categories"]["parameter"] == expected


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.key)
def test_the_simultaneous_peak_holds_what_the_optimizer_step_holds_at_once(measure, spec):
    """At the optimizer step the parameters, their gradients and the optimizer's state are all alive,
    so the tracker's simultaneous peak is at least their sum (GaLore's gradients and states are counted
    in their own categories as well)."""
    record = measure(spec)
    categories = record.memory["categories"]
    at_once = categories["parameter"] + categories["gradient"] + categories["optimizer_state"]
    assert record.memory["peak"]["simultaneous"] >= at_once > max(categories["parameter"], categories["gradient"])


def test_fft_adamw_state_is_two_moments_per_trainable_parameter(measure):
    spec = CASES[0]
    model, *_ = build_case(spec)
    record = measure(spec)
    # exp_avg and exp_avg_sq in fp32, plus AdamW's per-tensor `step` counter (a 4-byte scalar)
    tensors = sum(1 for p in model.parameters() if p.requires_grad)
    state = 2 * record.params["trainable"] * 4 + 4 * tensors
    assert record.memory["at_end"]["optimizer_state"] == state
    # the category maximum also holds the step's temporaries (denominators of the largest tensor)
    assert record.memory["categories"]["optimizer_state"] > state


def test_frozen_parameters_have_no_gradient_memory(measure):
    fft, bn_head = measure(CASES[0]), measure(CASES[1])
    assert bn_head.memory["categories"]["gradient"] == bn_head.params["trainable"] * 4
    assert fft.memory["categories"]["gradient"] == fft.params["trainable"] * 4


def test_same_spec_gives_same_flops_and_memory(measure):
    spec = CASES[2]
    first, again = measure(spec), measure.__wrapped__(spec)
    assert (first.flops, first.memory, first.params) == (again.flops, again.memory, again.params)
