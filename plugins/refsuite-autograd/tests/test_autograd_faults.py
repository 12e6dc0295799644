"""Each autograd unit fails when the autograd behaviour it checks is broken.

The ``unit`` fixture comes from refsuite's pytest plugin (``refsuite.testing``). Run in an
environment where this plugin is installed: ``python -m pytest plugins/refsuite-autograd/tests``.
"""
import contextlib

import torch
from refsuite.testing import only_called_from

_sin, _backward, _detach = torch.sin, torch.Tensor.backward, torch.Tensor.detach


def test_autograd_units_pass_unbroken(unit, plugins):
    assert len(plugins.units.select("autograd.*")) == 5
    assert len(unit.run_all("autograd.*")) == 5


def test_sin_that_drops_its_history(unit, monkeypatch):
    monkeypatch.setattr(torch, "sin", lambda x: _sin(x.detach()))
    assert "lost track" in unit.fails("autograd.requires_grad.propagates_through_operations")


def test_sin_with_a_wrong_derivative(unit, monkeypatch):
    class WrongSin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return _sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * -torch.cos(x)

    monkeypatch.setattr(torch, "sin", WrongSin.apply)
    assert "d/dx sin" in unit.fails("autograd.gradients.match_analytic_derivatives")


def test_backward_that_sums_non_scalars_silently(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "backward", lambda self, gradient=None, **k: _backward(self.sum() if gradient is None else self, gradient, **k))
    assert "did not raise" in unit.fails("autograd.backward.non_scalar_needs_a_gradient_argument")


def test_detach_that_keeps_history(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "detach", lambda self: self * 1 if self.requires_grad else _detach(self))
    assert "detach()" in unit.fails("autograd.tracking.no_grad_and_detach_stop_it")


def test_no_grad_not_honoured(unit, monkeypatch):
    # torch's own code still needs the real thing; only the plugin's calls are broken
    monkeypatch.setattr(torch, "no_grad", only_called_from("refsuite_autograd", contextlib.nullcontext, torch.no_grad))
    assert "no_grad()" in unit.fails("autograd.tracking.no_grad_and_detach_stop_it")


def test_backward_that_overwrites_instead_of_accumulating(unit, monkeypatch):
    def fresh_each_time(self, *a, **k):
        # find the leaves through the graph and clear their .grad first
        stack, leaves = [self.grad_fn], []
        while stack:
            fn = stack.pop()
            if fn is None:
                continue
            if hasattr(fn, "variable"):
                leaves.append(fn.variable)
            stack.extend(f for f, _ in fn.next_functions)
        for leaf in leaves:
            leaf.grad = None
        _backward(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "backward", fresh_each_time)
    unit.fails("autograd.gradients.accumulate_until_zeroed")
