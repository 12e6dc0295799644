"""Each tensors unit fails when the torch behaviour it checks is broken."""
import torch

_zeros, _ones, _full, _rand, _det, _abs, _max, _svd, _std_mean, _asin, _add = (
    torch.zeros, torch.ones, torch.full, torch.rand, torch.det, torch.abs, torch.max, torch.svd,
    torch.std_mean, torch.asin, torch.add,
)


def test_all_tensor_units_pass_unbroken(unit):
    for unit_id in unit.runnable("tensors.*"):
        unit.run(unit_id)


def test_zeros_with_wrong_default_dtype(unit, monkeypatch):
    monkeypatch.setattr(torch, "zeros", lambda *s, **k: _zeros(*s, **{**k, "dtype": torch.float64}))
    assert "float32" in unit.fails("tensors.creation.zeros_default_float32")


def test_ones_dropping_its_dtype(unit, monkeypatch):
    monkeypatch.setattr(torch, "ones", lambda *s, dtype=None, **k: _ones(*s, **k))
    unit.fails("tensors.creation.ones_keeps_dtype")


def test_full_off_by_one(unit, monkeypatch):
    monkeypatch.setattr(torch, "full", lambda size, fill, **k: _full(size, fill + 1, **k))
    unit.fails("tensors.creation.factories_any_shape_dtype")


def test_rand_shifted(unit, monkeypatch):
    monkeypatch.setattr(torch, "rand", lambda *s, **k: _rand(*s, **k) + 1e-3)
    assert "tutorial" in unit.fails("tensors.seed.golden")


def test_manual_seed_doing_nothing(unit, monkeypatch):
    monkeypatch.setattr(torch, "manual_seed", lambda seed: None)
    assert "did not repeat" in unit.fails("tensors.seed.repeats")


def test_ones_not_quite_one(unit, monkeypatch):
    monkeypatch.setattr(torch, "ones", lambda *s, **k: _ones(*s, **k) * 1.001)
    unit.fails("tensors.arithmetic.ones_plus_twos")


def test_add_that_crops_instead_of_raising(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "__add__", lambda a, b: a)
    assert "did not raise" in unit.fails("tensors.arithmetic.mismatched_shapes_raise")


def test_add_slightly_wrong(unit, monkeypatch):
    monkeypatch.setattr(torch, "add", lambda a, b: _add(a, b) + 1e-3)
    unit.fails("tensors.arithmetic.broadcast_matches_numpy")


def test_det_with_wrong_sign(unit, monkeypatch):
    monkeypatch.setattr(torch, "det", lambda a: -_det(a))
    assert "det(r)" in unit.fails("tensors.math.golden")
    unit.fails("tensors.math.det_is_multiplicative")


def test_abs_that_does_nothing(unit, monkeypatch):
    monkeypatch.setattr(torch, "abs", lambda x: x.clone())
    unit.fails("tensors.math.abs_matches_numpy")


def test_asin_that_is_sin(unit, monkeypatch):
    monkeypatch.setattr(torch, "asin", torch.sin)
    unit.fails("tensors.math.asin_inverts_sin")


def test_svd_with_scaled_singular_values(unit, monkeypatch):
    def bad_svd(a, *args, **kwargs):
        u, s, v = _svd(a, *args, **kwargs)
        return u, s * 1.001, v

    monkeypatch.setattr(torch, "svd", bad_svd)
    unit.fails("tensors.math.svd_reconstructs")


def test_svd_may_negate_a_singular_pair(unit, monkeypatch):
    """(−uᵢ, −vᵢ) is as valid as (uᵢ, vᵢ): what cuSOLVER returns for the tutorial's r."""
    def negated_pair(a, *args, **kwargs):
        u, s, v = _svd(a, *args, **kwargs)
        sign = torch.tensor([-1.0, 1.0], device=u.device)
        return u * sign, s, v * sign

    monkeypatch.setattr(torch, "svd", negated_pair)
    unit.run("tensors.math.golden")


def test_svd_negating_u_alone(unit, monkeypatch):
    def bad_svd(a, *args, **kwargs):
        u, s, v = _svd(a, *args, **kwargs)
        return u * torch.tensor([-1.0, 1.0], device=u.device), s, v

    monkeypatch.setattr(torch, "svd", bad_svd)
    assert "svd(r).V" in unit.fails("tensors.math.golden")


def test_std_mean_without_bessel(unit, monkeypatch):
    monkeypatch.setattr(torch, "std_mean", lambda x, *a, **k: _std_mean(x, correction=0))
    assert "Bessel" in unit.fails("tensors.math.std_mean_matches_numpy")


def test_max_that_returns_min(unit, monkeypatch):
    monkeypatch.setattr(torch, "max", lambda x, *a, **k: torch.min(x, *a, **k))
    unit.fails("tensors.math.max_matches_numpy")
