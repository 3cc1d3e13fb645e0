"""The official attention computes softmax in fp32 even under fp16 (docs/official.md, "Building blocks").
`models.layers.AttentionBlock` calls `F.scaled_dot_product_attention`, whose reduced-precision
kernels accumulate in fp32; this pins that down so a change of kernel or torch cannot silently
drop to a bf16 softmax on the fast path."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def test_bf16_attention_softmax_is_computed_in_fp32() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (2 * torch.randn(2, 1, 256, 64, generator=g).bfloat16() for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v).float()
    logits = q.float() @ k.float().transpose(-1, -2) / 8.0
    fp32_softmax = logits.softmax(-1) @ v.float()
    bf16_softmax = ((q @ k.transpose(-1, -2)) / 8.0).softmax(-1) @ v  # what we must not do
    err_fp32 = (out - fp32_softmax).abs().max().item()
    err_bf16 = (out - bf16_softmax.float()).abs().max().item()
    assert err_fp32 < 0.03  # bf16 rounding of the output only
    assert err_bf16 > 2 * err_fp32  # the bf16-softmax result is measurably different
