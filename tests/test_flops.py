"""FLOP formulas against figures computed by hand on single layers.

Every figure below is written out from the layer's shapes, so a change in torch's counter or in
our formulas shows up as a mismatch with arithmetic a reader can check.
"""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from repro.measure.flops import count_step_flops


def count(layer, x, input_grad=False):
    """FLOPs of forward and backward of `layer` on `x`, per convention."""
    x = x.clone().requires_grad_(input_grad)
    held = {}

    def forward():
        held["out"] = layer(x).sum()

    return count_step_flops(forward, lambda: held.pop("out").backward(), lambda: None)


def test_regular_conv_first_layer_has_no_grad_input():
    # B=2, C_in=3, C_out=8, 3x3, 8x8 out: MACs = 2*8*64*3*9 = 27,648
    f = count(nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.randn(2, 3, 8, 8))
    assert f["exact"]["forward"] == 55_296
    assert f["exact"]["backward"] == 55_296  # grad weight only: the input needs no gradient
    assert f["paper"]["forward"] == 55_296
    # grad weight: 2*(C_in*B*C_out*Ho*Wo*k*k + C_in*C_in*k*k) = 2*(27,648 + 81)
    assert f["paper"]["backward"] == 55_458


def test_strided_conv_with_bias_and_grad_input():
    # 4 -> 6 channels, stride 2: 8x8 -> 4x4 out; MACs = 2*6*16*4*9 = 6,912
    f = count(nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=True), torch.randn(2, 4, 8, 8), input_grad=True)
    assert f["exact"]["forward"] == 13_824  # bias not counted
    assert f["exact"]["backward"] == 2 * 13_824  # grad input + grad weight
    assert f["paper"]["forward"] == 2 * (6_912 + 2 * 6 * 16)  # bias: B*C_out*Ho*Wo
    grad_input = 2 * (6_912 + 2 * 4 * 64)  # + the spurious B*C_in*H_in*W_in
    grad_weight = 2 * (6_912 + 4 * 4 * 9)  # + the spurious C_in*(C_in/g)*k*k
    assert f["paper"]["backward"] == grad_input + grad_weight


def test_grouped_conv_weight_gradient_divides_by_groups():
    # groups=2: weight (8, 4, 3, 3); MACs = 2*8*64*4*9 = 36,864
    f = count(nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False), torch.randn(2, 8, 8, 8))
    assert f["exact"]["forward"] == 73_728
    assert f["exact"]["backward"] == 73_728
    assert f["paper"]["backward"] == 2 * (8 * 2 * 8 * 64 * 9 + 8 * 4 * 9)  # groups ignored: 2x


def test_depthwise_conv_exact_and_paper():
    f = count(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), torch.randn(2, 32, 16, 16))
    assert f["exact"]["forward"] == 294_912  # 2 * 2*32*256*9
    assert f["exact"]["backward"] == 294_912
    assert f["paper"]["backward"] == 2 * (32 * 2 * 32 * 256 * 9 + 32 * 1 * 9)  # 32x over-count


def test_upstream_counter_still_ignores_groups_in_weight_gradient():
    """Pins torch's behaviour (docs/paper.md, the depthwise over-count). If this fails, torch fixed the
    depthwise over-count: the `exact` override in repro/measure/flops.py is then redundant."""
    conv = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
    out = conv(torch.randn(2, 32, 16, 16)).sum()
    with FlopCounterMode(display=False) as counter:
        out.backward()
    assert counter.get_total_flops() == 9_437_184  # correct: 294,912


def test_linear_forward_and_backward():
    # (2 x 16) @ (16 x 4) + bias(4)
    f = count(nn.Linear(16, 4), torch.randn(2, 16), input_grad=True)
    assert f["exact"]["forward"] == 2 * 2 * 16 * 4
    assert f["exact"]["backward"] == 2 * (2 * 2 * 16 * 4)  # grad input and grad weight
    assert f["paper"]["forward"] == (2 * 2 * 16 * 4 - 2 * 4) + 4 * 16  # 2mnl - ml + j*n
    grad_input = 2 * 2 * 4 * 16 - 2 * 16  # (2x4) @ (4x16)
    grad_weight = 2 * 4 * 2 * 16 - 4 * 16  # (4x2) @ (2x16)
    assert f["paper"]["backward"] == grad_input + grad_weight


@pytest.mark.parametrize("layer, x", [
    (nn.Conv2d(4, 6, 3, padding=1), torch.randn(2, 4, 8, 8)),
    (nn.Linear(16, 4), torch.randn(2, 16)),
], ids=["conv", "linear"])
def test_frozen_weight_costs_no_weight_gradient(layer, x):
    layer.requires_grad_(False)
    f = count(layer, x, input_grad=True)
    assert f["exact"]["backward"] == f["exact"]["forward"]  # grad input only, same MACs as forward


def test_batch_norm_counts_only_under_paper_rules():
    # N = 2*4*3*3 = 72 elements, C = 4 channels; weight and bias both train
    f = count(nn.BatchNorm2d(4), torch.randn(2, 4, 3, 3), input_grad=True)
    assert f["exact"]["forward"] == f["exact"]["backward"] == 0
    # + 2: train mode bumps num_batches_tracked, an add_ on one element
    assert f["paper"]["forward"] == 6 * 72 + 2 * 4 + 2 * 72 + 2
    assert f["paper"]["backward"] == 4 * 72 + 4 + 72 + 4


def test_frozen_batch_norm_under_paper_rules():
    bn = nn.BatchNorm2d(4).requires_grad_(False)
    f = count(bn, torch.randn(2, 4, 3, 3), input_grad=True)
    assert f["paper"]["forward"] == 6 * 72 + 2 * 4 + 2
    assert f["paper"]["backward"] == 4 * 72 + 4
