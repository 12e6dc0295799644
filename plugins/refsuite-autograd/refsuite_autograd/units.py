"""Units for "The Fundamentals of Autograd": tracking, analytic gradients, accumulation."""
from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from refsuite import FLOAT64, SHAPES_ONLY, UnitGroup

units = UnitGroup()

# f, its analytic derivative, and the domain it is drawn from. Every torch function is looked up
# when called, so a replaced torch.sin (a planted fault, a patched backend) is the one checked.
FUNCTIONS = {
    "sin": (lambda x: torch.sin(x), lambda x: torch.cos(x), (-10.0, 10.0)),
    "exp": (lambda x: torch.exp(x), lambda x: torch.exp(x), (-5.0, 5.0)),
    "x**3": (lambda x: x**3, lambda x: 3 * x**2, (-10.0, 10.0)),
    "log": (lambda x: torch.log(x), lambda x: 1 / x, (0.1, 10.0)),
    "sin(x)*x**2": (lambda x: torch.sin(x) * x**2, lambda x: torch.cos(x) * x**2 + 2 * x * torch.sin(x), (-5.0, 5.0)),
}


@units.unit("autograd.requires_grad.propagates_through_operations", requires=SHAPES_ONLY)
def propagates(ctx):
    """Results of operations on a tensor with requires_grad=True require grad and carry a grad_fn."""
    x = torch.linspace(0.0, 2.0 * math.pi, steps=25, device=ctx.torch_device, requires_grad=True)
    y = torch.sin(x)
    z = 2 * y + 1
    assert x.is_leaf and x.grad_fn is None, "a created tensor is a leaf without grad_fn"
    for name, t in (("sin(x)", y), ("2*sin(x)+1", z), ("sum", z.sum())):
        assert t.requires_grad and t.grad_fn is not None, f"{name} lost track of its history"
    plain = torch.ones(3, device=ctx.torch_device)
    assert not (plain * 2).requires_grad, "an untracked tensor started requiring grad"


@units.unit("autograd.gradients.match_analytic_derivatives", requires=FLOAT64)
def analytic(ctx):
    """backward() gives d/dx of sin, exp, x³, log and sin(x)·x² equal to their analytic derivatives (float64)."""

    def check(name, values):
        f, df, _ = FUNCTIONS[name]
        x = torch.tensor(values, dtype=torch.float64, device=ctx.torch_device, requires_grad=True)
        f(x).sum().backward()
        ctx.assert_close(x.grad, df(x.detach()), what=f"d/dx {name}")

    # Each function on a grid over its domain, whichever functions and points hypothesis draws.
    for name, (_, _, (lo, hi)) in FUNCTIONS.items():
        check(name, torch.linspace(lo, hi, 17, dtype=torch.float64).tolist())

    @ctx.given(data=st.data(), name=st.sampled_from(sorted(FUNCTIONS)), n=st.integers(1, 16))
    def prop(data, name, n):
        lo, hi = FUNCTIONS[name][2]
        check(name, data.draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)))

    prop()


@units.unit("autograd.backward.non_scalar_needs_a_gradient_argument")
def non_scalar(ctx):
    """backward() on a non-scalar output raises unless given a gradient; with one it computes the vector-Jacobian product."""
    x = torch.arange(1.0, 5.0, device=ctx.torch_device, requires_grad=True)
    y = x * x
    try:
        y.backward()
    except RuntimeError as exc:
        assert "scalar" in str(exc), f"unexpected error text: {exc}"
    else:
        raise AssertionError("backward() on a non-scalar output did not raise")
    v = torch.tensor([1.0, 0.5, 0.0, -1.0], device=ctx.torch_device)
    y.backward(gradient=v)
    ctx.assert_close(x.grad, v * 2 * x.detach(), what="vector-Jacobian product of x*x")


@units.unit("autograd.tracking.no_grad_and_detach_stop_it")
def stop_tracking(ctx):
    """Inside torch.no_grad() and after detach(), results neither require grad nor carry history; values are unchanged."""
    x = torch.randn(5, generator=ctx.cpu_generator(0)).to(ctx.torch_device).requires_grad_()
    with torch.no_grad():
        inside = x * 3
    assert not inside.requires_grad and inside.grad_fn is None, "no_grad() still tracked an operation"
    detached = x.detach()
    assert not detached.requires_grad and detached.grad_fn is None, "detach() kept the history"
    ctx.assert_close(detached, x.detach().clone(), what="detached values")
    assert (x * 3).requires_grad, "tracking did not resume after no_grad()"


@units.unit("autograd.gradients.accumulate_until_zeroed")
def accumulate(ctx):
    """Repeated backward() calls add into .grad until it is zeroed (property over the number of calls)."""

    @ctx.given(calls=st.integers(1, 5), scale=st.floats(-4, 4))
    def prop(calls, scale):
        w = torch.ones(3, device=ctx.torch_device, requires_grad=True)
        for _ in range(calls):
            (scale * w).sum().backward()
        ctx.assert_close(w.grad, torch.full((3,), calls * scale), what="grad after repeated backward() calls",
                         where=f"{calls} calls", rtol=1e-5, atol=1e-5)
        w.grad.zero_()
        (scale * w).sum().backward()
        ctx.assert_close(w.grad, torch.full((3,), scale), what="grad after zeroing and one call", rtol=1e-5, atol=1e-5)

    prop()
