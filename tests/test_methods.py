"""Methods: what trains, what peft and galore-torch build, and the errors for bad input."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from repro.case.grid import UNIT_PAIRS
from repro.case.methods import RANKED, lora_targets
from repro.case.models import PAPER_MODELS, build_model
from repro.measure.flops import count_step_flops
from repro.measure.profile import CaseSpec, build_case, profile, step_phases


def rank_for(method):
    return 8 if method in RANKED else None


GRID = [CaseSpec(m, meth, rank_for(meth), batch=2) for m, meth in UNIT_PAIRS]


@pytest.mark.parametrize("spec", GRID, ids=lambda s: f"{s.model}-{s.method}")
def test_every_model_and_method_builds_and_takes_a_step(spec):
    model, optimizer, x, y = build_case(spec)
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for phase in step_phases(model, optimizer, x, y, spec.loss):
        phase()
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, trainable[n])]
    assert moved, "no trainable parameter changed in one step"
    frozen = [p for p in model.parameters() if not p.requires_grad]
    assert bool(frozen) == (spec.method not in ("fft", "galore"))
    assert optimizer.param_groups and all(p.requires_grad for g in optimizer.param_groups for p in g["params"])


class DepthwiseNet(nn.Module):
    # groups is 4 so that ranks 4, 8, ... satisfy peft's "rank divisible by groups"
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.dw(x).mean((2, 3)))


@pytest.mark.parametrize("rank", [4, 8, 12, 16, 64])
def test_lora_on_a_depthwise_conv_outweighs_the_conv(rank):
    # peft directly: our own rank check would cap the rank at this toy layer's 4 channels
    model = get_peft_model(DepthwiseNet(), LoraConfig(r=rank, target_modules=["dw"]))
    adapter = sum(p.numel() for n, p in model.named_parameters() if ".dw.lora_" in n)
    assert adapter > 4 * 9  # the conv: C * k * k
    # peft's adapter: Conv(C -> r, 3x3) then a grouped Conv(r -> C, 1x1)
    assert adapter == rank * 4 * 9 + 4 * (rank // 4)


@pytest.mark.parametrize("rank", [1, 8, 64])
def test_claim_s1s_pre_grouped_adapter_record_is_the_smallest_such_adapter_of_any_depthwise_conv(rank):
    """What claim S1 reads (repro.verify.evidence.depthwise_adapters): before peft supported groups (PR 2202 era)
    an adapter on a depthwise conv was Conv(C -> r, k x k) + Conv(r -> C, 1 x 1). Counted here by hand,
    over every depthwise conv of the model, the record must be the layer whose adapter is smallest
    against its conv; and even that adapter outweighs its conv."""
    from repro.verify.evidence import depthwise_adapters

    record = depthwise_adapters("mobilenet_v2", rank)
    convs = [m for m in build_model("mobilenet_v2").modules()
             if isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels == m.out_channels]
    assert record["depthwise.layers"] == len(convs) == 17
    sizes = [(c.weight.numel(), c.in_channels * rank * c.kernel_size[0] * c.kernel_size[1] + rank * c.out_channels)
             for c in convs]
    assert (record["pre_grouped.conv"], record["pre_grouped.adapter"]) == min(sizes, key=lambda ca: ca[1] / ca[0])
    assert record["pre_grouped.adapter"] > record["pre_grouped.conv"]


def test_dora_forward_costs_more_than_lora_on_targeted_convs():
    def forward_flops(method):
        model, optimizer, x, y = build_case(CaseSpec("mobilenet_v3_small", method, 8, batch=2))
        return count_step_flops(*step_phases(model, optimizer, x, y, "cross_entropy"))["exact"]["forward"]

    assert forward_flops("dora") > forward_flops("lora")


def test_default_targets_skip_depthwise_and_head():
    targets = lora_targets(build_model("mobilenet_v2"), "pointwise+regular")
    assert "classifier.1" not in targets
    assert all(getattr(m, "groups", 1) == 1 for m in targets.values())
    assert len(targets) == 35  # stem + first block project + 16 expand/project pairs + last 1x1


@pytest.mark.parametrize("model", PAPER_MODELS)
def test_galore_optimizer_state_is_smaller_than_fft_adamw(measure, model):
    galore = measure(CaseSpec(model, "galore", 8, batch=2))
    fft = measure(CaseSpec(model, "fft", batch=2))
    assert galore.memory["at_end"]["optimizer_state"] < fft.memory["at_end"]["optimizer_state"]
    assert galore.params["trainable"] == fft.params["trainable"]


def test_galore_projects_conv_gradients_to_rank():
    model, optimizer, x, y = build_case(CaseSpec("resnet18", "galore", 4, batch=2))
    for phase in step_phases(model, optimizer, x, y, "cross_entropy"):
        phase()
    conv = model.layer1[0].conv1.weight  # (64, 64, 3, 3) -> matrix (64, 576): projected from the left
    assert optimizer.state[conv]["exp_avg"].shape == (4, 576)


# ---- bad input: one clear error each, naming the problem and the fix ----

BAD = [
    (dict(model="vgg16", method="fft"), "unknown model 'vgg16'; valid models: resnet18, mobilenet_v2"),
    (dict(model="resnet18", method="vera"), "unknown method 'vera'; valid methods: fft, bn_head, head, lora"),
    (dict(model="resnet18", method="ia3", rank=4), "method 'ia3' takes no rank (got rank=4)"),
    (dict(model="resnet18", method="loha"), "method 'loha' needs a rank"),
    (dict(model="resnet18", method="lora"), "method 'lora' needs a rank: pass --rank R with R >= 1"),
    (dict(model="resnet18", method="galore"), "method 'galore' needs a rank"),
    (dict(model="resnet18", method="lora", rank=0), "rank must be an integer >= 1, got 0"),
    (dict(model="resnet18", method="fft", rank=4), "method 'fft' takes no rank (got rank=4)"),
    (dict(model="resnet18", method="lora", rank=600), "rank 600 is larger than any targeted layer of this "
                                                      "model allows; valid ranks are 1..512"),
    (dict(model="resnet18", method="galore", rank=600), "valid ranks are 1..512"),
    (dict(model="resnet18", method="fft", optimizer="adam"), "unknown optimizer 'adam'; valid optimizers"),
    (dict(model="resnet18", method="galore", rank=4, optimizer="sgd"), "uses GaLore's AdamW"),
    (dict(model="resnet18", method="lora", rank=4, targets="some"), "unknown target policy 'some'"),
    (dict(model="mobilenet_v2", method="lora", rank=8, targets="all"),
     "rank 8 cannot adapt grouped conv features.1.conv.0.0 (groups=32)"),
    (dict(model="resnet18", method="fft", size=16), "input size 16 is too small for resnet18"),
    (dict(model="resnet18", method="fft", loss="mse"), "unknown loss 'mse'; valid losses"),
    (dict(model="resnet18", method="fft", batch=0), "batch must be >= 1"),
    (dict(model="resnet18", method="oft", rank=8), "oft cannot adapt resnet18 at 32x32: peft's OFT needs every "
                                                   "adapted k x k conv's input to be at least k x k"),
    (dict(model="mobilenet_v2", method="boft", rank=8, batch=1, targets="all"),
     "peft cannot apply boft at rank 8 to this model (BOFT does not support Conv2d layers with groups > 1"),
]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[m.split(";")[0][:40] for _, m in BAD])
def test_bad_input_names_the_problem_and_the_fix(kwargs, message):
    with pytest.raises(ValueError) as err:
        profile(CaseSpec(**kwargs))
    assert message in str(err.value)


def test_missing_weights_file():
    with pytest.raises(FileNotFoundError, match="weights file /nowhere/w.pt does not exist"):
        build_model("resnet18", weights="/nowhere/w.pt")


def test_the_torch_free_lists_of_names_are_the_registries():
    """`python -m repro list` and the CLI's choices read the names from repro/case/protocol.py."""
    from repro.case.protocol import CONVENTIONS, LOSS_NAMES
    from repro.measure.flops import PAPER
    from repro.measure.profile import LOSSES

    assert list(LOSSES) == list(LOSS_NAMES)
    assert CONVENTIONS == ("exact", "paper") and PAPER  # the counter keeps one table per convention


def test_every_method_says_what_its_rank_means():
    from repro.case.methods import METHODS, RANK_MEANING

    assert list(RANK_MEANING) == list(METHODS)  # RANK_MEANING is also the torch-free list of names, in order
    for method, meaning in RANK_MEANING.items():
        assert meaning.startswith("no rank") == (method not in RANKED), method
