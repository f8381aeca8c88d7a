"""GaLore for convolutions: galore-torch's AdamW with a projector that accepts 4-D gradients.

galore-torch 1.0 projects 2-D gradients only. A conv gradient (C_out, C_in/g, kh, kw) is projected
as the matrix (C_out, C_in/g * kh * kw) and reshaped back, as in the paper author's fork.
galore-torch imports transformers and bitsandbytes, so it is imported here only, when asked for.
"""

from __future__ import annotations

import logging


def _not_the_cpu_kernel_notice(record: logging.LogRecord) -> bool:
    """bitsandbytes, imported by galore-torch, warns on CPUs with AVX-512 BF16 that it cannot fetch a 4-bit
    CPU kernel from a hub (offline here, and unused: nothing is quantised). Only that notice is dropped:
    its other warnings still show."""
    return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward from kernels-community")


# on the logger that emits it, before the import that emits it: in every process that imports galore-torch
# through here (the training workers too, which pytest's and the CLI's logging settings never reach)
_NOTICE_LOGGER = logging.getLogger("bitsandbytes.backends.cpu.ops")
if _not_the_cpu_kernel_notice not in _NOTICE_LOGGER.filters:
    _NOTICE_LOGGER.addFilter(_not_the_cpu_kernel_notice)

try:
    from galore_torch import GaLoreAdamW as _GaLoreAdamW
    from galore_torch.galore_projector import GaLoreProjector
except ImportError as err:  # a Jetson may lack bitsandbytes; everything but GaLore still works
    raise ImportError(
        f"method 'galore' needs galore-torch and the packages it imports ({err}); install them with "
        f"pip install 'peft-edge-repro[galore]' (galore-torch, transformers, bitsandbytes)"
    ) from err


def matrix_shape(shape) -> tuple[int, int]:
    """The matrix GaLore sees for a weight: rows are output channels, columns everything else."""
    cols = 1
    for d in shape[1:]:
        cols *= d
    return shape[0], cols


class ConvGaLoreProjector(GaLoreProjector):
    """galore-torch's projector, applied to a weight gradient flattened to 2-D."""

    def project(self, full_rank_grad, iter):
        self.shape = full_rank_grad.shape
        return super().project(full_rank_grad.reshape(matrix_shape(self.shape)), iter)

    def project_back(self, low_rank_grad):
        return super().project_back(low_rank_grad).reshape(self.shape)


class GaLoreAdamW(_GaLoreAdamW):
    """galore-torch's AdamW with our projector installed where it would create its own."""

    def __init__(self, params, **kwargs):
        super().__init__(params, no_deprecation_warning=True, **kwargs)
        for group in self.param_groups:
            if "rank" not in group:
                continue
            for p in group["params"]:
                # galore-torch creates a projector only when the state has none
                self.state[p]["projector"] = ConvGaLoreProjector(
                    group["rank"], update_proj_gap=group["update_proj_gap"], scale=group["scale"],
                    proj_type=group["proj_type"])
