"""Faults a green run on the tutorial's own inputs would miss: each is planted in torch so that it is
wrong only under one condition (a NaN input, a size past a tile, float16 or bfloat16, a batched
backward, an in-place form, an integer overflow), and the numerics unit built for that condition
turns red."""
import pytest
import torch
import torch.nn.functional as F

from refsuite.units import numerics

_add, _mul, _sin, _clamp, _mean, _std, _max, _argmax = (
    torch.add, torch.mul, torch.sin, torch.clamp, torch.mean, torch.std, torch.max, torch.argmax)
_relu, _f_relu, _relu_, _softmax, _cross_entropy = torch.relu, F.relu, torch.Tensor.relu_, torch.softmax, F.cross_entropy
_linear, _conv2d, _max_pool2d, _add_ = F.linear, F.conv2d, F.max_pool2d, torch.Tensor.add_


def test_all_numerics_units_pass_unbroken(unit):
    ran = unit.run_all("*.elementwise.*") + unit.run_all("*.reductions.*") + unit.run_all("models.activations.*")
    ran += unit.run_all("models.loss.cross_entropy_*") + unit.run_all("models.linear.*")
    ran += [unit.run(u) or u for u in ("models.conv.conv2d_matches_numpy_past_32_channels",
                                       "models.pool.max_pool2d_matches_numpy_in_every_dtype",
                                       "models.gradients.sum_over_the_batch")]
    assert len(ran) == 13, ran


# --- only for NaN inputs --------------------------------------------------------------------


def test_relu_zeroing_nan(unit, monkeypatch):
    monkeypatch.setattr(F, "relu", lambda x, inplace=False: torch.where(x.isnan(), 0, _f_relu(x, inplace)))
    assert "relu" in unit.fails("models.activations.match_numpy_in_every_dtype", match="F.relu")


def test_max_pool2d_ignoring_nan(unit, monkeypatch):
    def nan_blind(x, *args, **kwargs):
        out = _max_pool2d(torch.nan_to_num(x, nan=-torch.inf), *args, **kwargs)
        return out if isinstance(out, torch.Tensor) else out
    monkeypatch.setattr(F, "max_pool2d", nan_blind)
    unit.fails("models.pool.max_pool2d_matches_numpy_in_every_dtype", match="NaN")


def test_max_and_argmax_skipping_nan(unit, monkeypatch):
    def nan_blind_max(x, *args, **kwargs):
        return _max(torch.nan_to_num(x, nan=-torch.inf), *args, **kwargs) if x.isnan().any() else _max(x, *args, **kwargs)
    monkeypatch.setattr(torch, "max", nan_blind_max)
    unit.fails("tensors.reductions.propagate_nan_and_inf", match="torch.max")
    monkeypatch.setattr(torch, "max", _max)
    monkeypatch.setattr(torch, "argmax", lambda x, *a, **k: _argmax(torch.nan_to_num(x, nan=-torch.inf), *a, **k))
    unit.fails("tensors.reductions.propagate_nan_and_inf", match="torch.argmax")


def test_clamp_turning_nan_into_a_bound(unit, monkeypatch):
    monkeypatch.setattr(torch, "clamp", lambda x, *a, **k: _clamp(torch.nan_to_num(x, nan=0.0), *a, **k))
    unit.fails("tensors.elementwise.propagate_extremal_values", match="clamp")
    unit.run("tensors.elementwise.match_numpy_in_every_dtype")  # no NaN there: it stays green


# --- only past a size -----------------------------------------------------------------------


def test_add_wrong_past_16384_elements(unit, monkeypatch):
    monkeypatch.setattr(torch, "add", lambda a, b, **k: _add(a, b, **k) + (1 if a.numel() > 16384 else 0))
    unit.fails("tensors.elementwise.match_numpy_in_every_dtype", match=r"torch\.add.*16411")


def test_mean_wrong_past_16384_elements(unit, monkeypatch):
    monkeypatch.setattr(torch, "mean", lambda x, *a, **k: _mean(x, *a, **k) * (1.01 if x.numel() > 16384 else 1))
    unit.fails("tensors.reductions.match_numpy_in_every_dtype", match="torch.mean")


def test_linear_wrong_past_256_features(unit, monkeypatch):
    def faulty(x, w, b=None, **kwargs):
        out = _linear(x, w, b, **kwargs)
        return out * 1.01 if x.shape[-1] > 256 else out
    monkeypatch.setattr(F, "linear", faulty)
    unit.fails("models.linear.matches_numpy_past_256_features", match="263 features")


def test_conv2d_wrong_past_32_channels(unit, monkeypatch):
    def faulty(x, w, *args, **kwargs):
        out = _conv2d(x, w, *args, **kwargs)
        return out + 0.5 if w.shape[0] > 32 or w.shape[1] > 32 else out
    monkeypatch.setattr(F, "conv2d", faulty)
    unit.fails("models.conv.conv2d_matches_numpy_past_32_channels", match="35 → 37 channels")


# --- only in float16 / only in bfloat16 -----------------------------------------------------


def test_sin_wrong_in_float16(unit, monkeypatch):
    monkeypatch.setattr(torch, "sin", lambda x, **k: _sin(x, **k) * (1.01 if x.dtype == torch.float16 else 1))
    unit.fails("tensors.elementwise.match_numpy_in_every_dtype", match=r"torch\.sin.*float16")


def test_softmax_naive_in_float16(unit, monkeypatch):
    def naive(x, dim, **kwargs):
        if x.dtype != torch.float16:
            return _softmax(x, dim, **kwargs)
        e = torch.exp(x)
        return e / e.sum(dim, keepdim=True)
    monkeypatch.setattr(torch, "softmax", naive)
    unit.fails("models.activations.softmax_stable_at_large_logits", match="float16")


def test_std_wrong_in_bfloat16(unit, monkeypatch):
    monkeypatch.setattr(torch, "std", lambda x, *a, **k: _std(x, *a, **k) * (1.1 if x.dtype == torch.bfloat16 else 1))
    unit.fails("tensors.reductions.match_numpy_in_every_dtype", match=r"^std \(torch\.std\(x[^;]*\); bfloat16;")


def test_cross_entropy_wrong_in_bfloat16(unit, monkeypatch):
    def faulty(x, target, *args, **kwargs):
        out = _cross_entropy(x, target, *args, **kwargs)
        return out * 1.1 if x.dtype == torch.bfloat16 else out
    monkeypatch.setattr(F, "cross_entropy", faulty)
    unit.fails("models.loss.cross_entropy_matches_numpy_in_every_dtype", match="bfloat16")


def test_cross_entropy_naive_at_large_logits(unit, monkeypatch):
    def naive(x, target, *args, reduction="mean", **kwargs):
        losses = -torch.log(torch.exp(x) / torch.exp(x).sum(1, keepdim=True)).gather(1, target[:, None])[:, 0]
        return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]
    monkeypatch.setattr(F, "cross_entropy", naive)
    unit.fails("models.loss.cross_entropy_stable_at_large_logits", match="not finite")


# --- only in a batched backward -------------------------------------------------------------


def _batch_averaged_weight_grad(forward):
    """``forward`` whose backward divides the weight and bias gradients by the batch size when it is > 1."""
    class Averaged(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, *rest):
            ctx.save_for_backward(x, w, b)
            ctx.rest = rest
            return forward(x, w, b, *rest)

        @staticmethod
        def backward(ctx, g):
            x, w, b = ctx.saved_tensors
            with torch.enable_grad():
                leaves = [t.detach().requires_grad_() for t in (x, w, b)]
                grads = torch.autograd.grad(forward(*leaves, *ctx.rest), leaves, g)
            scale = x.shape[0] if x.shape[0] > 1 else 1
            return (grads[0], grads[1] / scale, grads[2] / scale, *[None] * len(ctx.rest))

    def faulty(x, w, b=None, *rest, **kwargs):
        if b is None or not (x.requires_grad or w.requires_grad) or kwargs:
            return forward(x, w, b, *rest, **kwargs)
        return Averaged.apply(x, w, b, *rest)
    return faulty


def test_conv2d_weight_grad_averaged_over_the_batch(unit, monkeypatch):
    monkeypatch.setattr(F, "conv2d", _batch_averaged_weight_grad(_conv2d))
    unit.run("models.conv.conv2d_matches_numpy_past_32_channels")  # the forward is right
    unit.fails("models.gradients.sum_over_the_batch", match=r"conv2d backward.*d/dw")


def test_linear_weight_grad_averaged_over_the_batch(unit, monkeypatch):
    monkeypatch.setattr(F, "linear", _batch_averaged_weight_grad(_linear))
    unit.fails("models.gradients.sum_over_the_batch", match=r"linear backward.*d/dw")


def test_linear_weight_grad_from_the_wrong_samples(unit, monkeypatch):
    def shuffled(x, w, b=None, **kwargs):
        if not x.requires_grad or x.shape[0] < 2:
            return _linear(x, w, b, **kwargs)
        # the forward is right, the weight gradient pairs each upstream gradient with the next sample
        rolled = x.roll(1, 0)
        return _linear(x, w.detach(), b) + _linear(rolled.detach(), w) - _linear(rolled, w).detach()
    monkeypatch.setattr(F, "linear", shuffled)
    unit.fails("models.gradients.sum_over_the_batch", match=r"linear backward.*d/dw")


# --- only in place --------------------------------------------------------------------------


def test_add_wrong_only_in_place(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "add_", lambda self, other, **k: _add_(self, other, **k).mul_(1.01))
    unit.fails("tensors.elementwise.match_numpy_in_every_dtype", match=r"a\.add_\(b\)")


def test_relu_wrong_only_in_place(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "relu_", lambda self: _relu_(self).add_(1))
    unit.fails("models.activations.match_numpy_in_every_dtype", match=r"x\.relu_\(\)")


# --- only on integer overflow ---------------------------------------------------------------


def test_int8_add_saturating_instead_of_wrapping(unit, monkeypatch):
    def saturating(a, b, **kwargs):
        if a.dtype != torch.int8:
            return _add(a, b, **kwargs)
        out = _add(a.to(torch.int16), b.to(torch.int16)).clamp(-128, 127).to(torch.int8)
        return kwargs["out"].copy_(out) if "out" in kwargs else out
    monkeypatch.setattr(torch, "add", saturating)
    unit.fails("tensors.elementwise.integers_wrap_on_overflow", match=r"torch\.add.*int8")


# --- findings bound to older releases ------------------------------------------------------


def _mean_out_off_by_one_in_float16(x, *args, **kwargs):
    result = _mean(x, *args, **kwargs)
    if "out" in kwargs and x.dtype == torch.float16:
        kwargs["out"].add_(1)
    return result


def test_a_finding_of_older_releases_is_compared_on_later_ones(unit, monkeypatch):
    monkeypatch.setattr(torch, "mean", _mean_out_off_by_one_in_float16)
    monkeypatch.setattr(numerics, "torch_at_least", lambda version: True)
    unit.fails("tensors.reductions.match_numpy_in_every_dtype", match=r"torch\.mean\(x, 0, out=\); float16;")


def test_a_finding_of_older_releases_leaves_out_its_form_alone_and_says_so(unit, monkeypatch):
    monkeypatch.setattr(numerics, "torch_at_least", lambda version: False)
    monkeypatch.setattr(torch, "mean", _mean_out_off_by_one_in_float16)
    said = r"mean with out= in float16, bfloat16 \(a documented finding: torch < 2\.5"
    with pytest.warns(numerics.NotChecked, match=said):
        unit.run("tensors.reductions.match_numpy_in_every_dtype")
    # the forms without out= are still compared in float16
    monkeypatch.setattr(torch, "mean", lambda x, *a, **k: _mean(x, *a, **k) * (1.01 if x.dtype == torch.float16 else 1))
    unit.fails("tensors.reductions.match_numpy_in_every_dtype", match=r"torch\.mean\(x[^;]*\); float16;")


#: condition -> the test that plants a fault active only under it (tests/test_fault_coverage.py)
CATEGORIES = {
    "nan": "test_relu_zeroing_nan",
    "size": "test_linear_wrong_past_256_features",
    "half": "test_sin_wrong_in_float16",
    "bfloat16": "test_std_wrong_in_bfloat16",
    "batched_backward": "test_conv2d_weight_grad_averaged_over_the_batch",
    "inplace": "test_add_wrong_only_in_place",
    "int_overflow": "test_int8_add_saturating_instead_of_wrapping",
}
