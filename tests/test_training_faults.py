"""Each training and evaluation unit fails when the behaviour it checks is broken."""
import contextlib

import pytest
import torch
import torch.nn.functional as F

from refsuite.testing import only_called_from

_max, _load, _bincount = torch.max, torch.load, torch.bincount


def test_all_training_and_evaluation_units_pass_unbroken(unit):
    for unit_id in unit.runnable("training.*") + unit.runnable("evaluation.*"):
        unit.run(unit_id)


def test_sgd_ignoring_momentum(unit, monkeypatch):
    class NoMomentum(torch.optim.SGD):
        def __init__(self, params, lr=1e-3, momentum=0, **kw):
            super().__init__(params, lr=lr, momentum=0, **kw)

    monkeypatch.setattr(torch.optim, "SGD", NoMomentum)
    unit.fails("training.sgd.momentum_step_matches_textbook")


def test_zero_grad_doing_nothing(unit, monkeypatch):
    monkeypatch.setattr(torch.optim.Optimizer, "zero_grad", lambda self, set_to_none=True: None)
    assert "zero_grad" in unit.fails("training.zero_grad.resets_and_omitting_it_accumulates")


def test_cross_entropy_without_log_softmax(unit, monkeypatch):
    monkeypatch.setattr(torch.nn.CrossEntropyLoss, "forward", lambda self, x, t: F.nll_loss(x, t))
    unit.fails("training.loss.cross_entropy_is_mean_negative_log_softmax")


def test_backward_that_computes_nothing(unit, monkeypatch):
    monkeypatch.setattr(torch.Tensor, "backward", lambda self, *a, **k: None)
    assert "no gradient" in unit.fails("training.backward.fills_every_parameter_of_net")


def test_optimizer_step_that_does_not_learn(unit, monkeypatch):
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, closure=None: None)
    assert "did not fall" in unit.fails("training.loop.running_loss_falls_and_repeats")


class _PathSpy:
    """Records how train_loop computed its steps: SGD's keyword arguments, and whether oneDNN was on
    at each convolution."""

    def __init__(self, monkeypatch):
        self.sgd_kwargs, self.mkldnn = [], []
        sgd_init, conv = torch.optim.SGD.__init__, torch.nn.Conv2d._conv_forward

        def spy_init(opt, params, *args, **kwargs):
            self.sgd_kwargs.append(kwargs)
            sgd_init(opt, params, *args, **kwargs)

        def spy_conv(module, *args):
            self.mkldnn.append(torch.backends.mkldnn.enabled)
            return conv(module, *args)

        monkeypatch.setattr(torch.optim.SGD, "__init__", spy_init)
        monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy_conv)


def test_tutorial_loop_unit_runs_the_tutorials_code(unit, monkeypatch):
    spy = _PathSpy(monkeypatch)
    unit.run("training.loop.running_loss_falls_and_repeats")
    assert spy.sgd_kwargs and not any(k.get("fused") for k in spy.sgd_kwargs), spy.sgd_kwargs
    assert spy.mkldnn and all(spy.mkldnn), "the tutorial's loop ran with oneDNN switched off"


def test_fast_kernel_unit_runs_the_fast_kernels(unit, monkeypatch):
    spy = _PathSpy(monkeypatch)
    unit.run("training.loop.fast_kernels_follow_the_tutorial_loop")
    assert any(k.get("fused") for k in spy.sgd_kwargs), spy.sgd_kwargs
    assert False in spy.mkldnn and True in spy.mkldnn, "expected the tutorial's run and the native-convolution run"


def test_fused_sgd_that_steps_too_far(unit, monkeypatch):
    step = torch.optim.SGD.step

    def off_when_fused(self, closure=None):
        if self.defaults.get("fused"):
            for group in self.param_groups:
                group["lr"] = self.defaults["lr"] * 1.5
        return step(self, closure)

    monkeypatch.setattr(torch.optim.SGD, "step", off_when_fused)
    assert "fast kernels" in unit.fails("training.loop.fast_kernels_follow_the_tutorial_loop")


def test_argmax_off_by_one(unit, monkeypatch):
    def shifted(x, *a, **k):
        out = _max(x, *a, **k)
        if isinstance(out, torch.Tensor):
            return out
        return out[0], (out[1] + 1) % x.shape[1]

    monkeypatch.setattr(torch, "max", shifted)
    unit.fails("evaluation.accuracy.no_grad_matches_manual_count")


def test_no_grad_not_honoured(unit, monkeypatch):
    # torch's own initialisers still need the real thing; only refsuite's calls are broken.
    monkeypatch.setattr(torch, "no_grad", only_called_from("refsuite", contextlib.nullcontext, torch.no_grad))
    assert "built a graph" in unit.fails("evaluation.accuracy.no_grad_matches_manual_count")


def test_confusion_counting_dropping_a_sample(unit, monkeypatch):
    monkeypatch.setattr(torch, "bincount", lambda x, minlength=0: _bincount(x[1:], minlength=minlength))
    unit.fails("evaluation.confusion.rows_sum_to_class_counts")


def test_checkpoint_load_that_perturbs_weights(unit, monkeypatch):
    def perturbed(*a, **k):
        state = _load(*a, **k)
        return {name: t + 1e-6 for name, t in state.items()}

    monkeypatch.setattr(torch, "load", perturbed)
    assert "differ" in unit.fails("evaluation.checkpoint.round_trip_is_bitwise_and_truncation_is_clear")


def test_truncated_checkpoint_accepted_silently(unit, monkeypatch):
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: _load(f, *a, **k) if not hasattr(f, "getvalue") else {})
    assert "did not raise" in unit.fails("evaluation.checkpoint.round_trip_is_bitwise_and_truncation_is_clear")


def test_load_that_unpickles_anything_by_default(unit, monkeypatch):
    monkeypatch.setattr(torch, "load", lambda f, *a, weights_only=False, **k: _load(f, *a, weights_only=weights_only, **k))
    assert "not the default" in unit.fails("evaluation.checkpoint.load_defaults_to_weights_only")


def test_cifar10_claim_fails_when_training_does_not_learn(unit, monkeypatch):
    # Real CIFAR-10 cannot be downloaded here; the synthetic set is in the same format and the
    # planted fault (training that changes nothing) leaves the network at chance either way.
    from refsuite.tutorial import training

    monkeypatch.setattr(training, "train_loop", lambda *a, **k: training.History())
    check = unit.plugins.units.get("training.tutorial.two_epochs_reach_half_accuracy_on_cifar10").check
    with pytest.raises(AssertionError, match="< 50 %"):
        check(unit.ctx)
