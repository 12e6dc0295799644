"""The fused Triton hot path on the CPU through Triton's interpreter.

Collected by the main run only to be skipped: tests/test_fused_kernels.py runs this file in a
subprocess with TRITON_INTERPRET=1, which Triton reads when the kernels are defined.
"""
import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("runs under TRITON_INTERPRET=1 (tests/test_fused_kernels.py starts it)", allow_module_level=True)
fused_triton = pytest.importorskip("refsuite.fused_triton")


def test_fused_path_passes_unbroken(unit):
    unit.run("models.hotpath.fused_triton_equals_tutorial_path")


def test_weight_gradient_slightly_off(unit, monkeypatch):
    weight_grad = fused_triton.weight_grad
    monkeypatch.setattr(fused_triton, "weight_grad", lambda *a: weight_grad(*a) * 1.01)
    assert "gradient of conv" in unit.fails("models.hotpath.fused_triton_equals_tutorial_path")


def test_winner_ignored_in_the_input_gradient(unit, monkeypatch):
    forward = fused_triton.forward
    monkeypatch.setattr(fused_triton, "forward", lambda *a: (lambda y, w: (y, torch.zeros_like(w)))(*forward(*a)))
    unit.fails("models.hotpath.fused_triton_equals_tutorial_path")


def test_ties_broken_like_max_pool2d(unit):
    # a constant image ties every window: max_pool2d and the kernel both pick the first position
    from refsuite.tutorial.training import new_net

    net = new_net(0)
    x = torch.full((2, 3, 32, 32), 0.5)
    y, which = fused_triton.forward(x, net.conv1.weight.detach(), net.conv1.bias.detach())
    _, indices = torch.nn.functional.max_pool2d(net.conv1(x), 2, return_indices=True)
    first = (indices // 28 % 2) * 2 + indices % 2
    assert torch.equal(which.long(), first)
