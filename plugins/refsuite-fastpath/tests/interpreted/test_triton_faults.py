"""The fused Triton hot path on the CPU through Triton's interpreter.

Collected by a plain run only to be skipped: test_triton_kernels.py runs this file in a subprocess
with TRITON_INTERPRET=1, which Triton reads when the kernels are defined.
"""
import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("runs under TRITON_INTERPRET=1 (test_triton_kernels.py starts it)", allow_module_level=True)
triton_kernels = pytest.importorskip("refsuite_fastpath.triton_kernels")
UNIT = "fastpath.triton_kernels.equal_tutorial_path"


def test_unit_passes_unbroken(unit):
    unit.run(UNIT)


def test_weight_gradient_slightly_off(unit, monkeypatch):
    weight_grad = triton_kernels.weight_grad
    monkeypatch.setattr(triton_kernels, "weight_grad", lambda *a: (lambda dw, db: (dw * 1.01, db))(*weight_grad(*a)))
    assert "gradient of conv" in unit.fails("fastpath.triton_kernels.equal_tutorial_path")


def test_winner_ignored_in_the_input_gradient(unit, monkeypatch):
    forward = triton_kernels.forward
    monkeypatch.setattr(triton_kernels, "forward", lambda *a: (lambda y, w: (y, torch.zeros_like(w)))(*forward(*a)))
    unit.fails("fastpath.triton_kernels.equal_tutorial_path")


def test_ties_broken_like_max_pool2d():
    # a constant image ties every window: max_pool2d and the kernel both pick the first position
    from refsuite.tutorial.training import new_net

    net = new_net(0)
    x = torch.full((2, 3, 32, 32), 0.5)
    y, which = triton_kernels.forward(x, net.conv1.weight.detach(), net.conv1.bias.detach())
    _, indices = torch.nn.functional.max_pool2d(net.conv1(x), 2, return_indices=True)
    first = (indices // 28 % 2) * 2 + indices % 2
    assert torch.equal(which.long(), first)
