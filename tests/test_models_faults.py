"""Each models unit fails when the torch behaviour it checks is broken."""
import torch
import torch.nn.functional as F

from refsuite.tutorial import golden

_conv2d, _linear, _relu, _max_pool2d = F.conv2d, F.linear, F.relu, F.max_pool2d


def test_all_model_units_pass_unbroken(unit):
    for unit_id in unit.runnable("models.*"):
        unit.run(unit_id)


def test_max_pool_replaced_by_avg_pool(unit, monkeypatch):
    monkeypatch.setattr(F, "max_pool2d", lambda x, k, s=None, p=0, d=1, *a, **kw: F.avg_pool2d(x, k, s, p))
    unit.fails("models.pool.max_pool2d_matches_numpy")
    unit.fails("models.lenet.untrained_output_matches_tutorial")


def test_conv_kernels_flipped(unit, monkeypatch):
    monkeypatch.setattr(F, "conv2d", lambda x, w, *a, **k: _conv2d(x, w.flip(-1, -2), *a, **k))
    unit.fails("models.conv.conv2d_matches_numpy")
    unit.fails("models.lenet.untrained_output_matches_tutorial")


def test_relu_leaking(unit, monkeypatch):
    monkeypatch.setattr(F, "relu", lambda x, inplace=False: F.leaky_relu(x, 0.1))
    assert "tutorial" in unit.fails("models.lenet.untrained_output_matches_tutorial")


def test_linear_dropping_its_bias(unit, monkeypatch):
    monkeypatch.setattr(F, "linear", lambda x, w, b=None: _linear(x, w))
    unit.fails("models.lenet.untrained_output_matches_tutorial")


def test_wrong_conv_geometry(unit, monkeypatch):
    monkeypatch.setattr(F, "conv2d", lambda x, w, b=None, stride=1, padding=0, dilation=1, groups=1: _conv2d(x, w, b, stride, padding, 1, groups))
    unit.fails("models.conv.output_shape_follows_formula")


def test_conv_gradient_wrong(unit, monkeypatch):
    class WrongGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g * 1.1

    monkeypatch.setattr(F, "conv2d", lambda x, *a, **k: _conv2d(WrongGrad.apply(x), *a, **k))
    assert "conv2d gradients" in unit.fails("models.gradients.conv_and_linear_pass_gradcheck")


def test_batch_rows_leaking_into_each_other(unit, monkeypatch):
    monkeypatch.setattr(F, "relu", lambda x, inplace=False: _relu(x + 1e-2 * x.mean(0, keepdim=True)))
    unit.fails("models.batch.rows_are_independent")


def test_batch_dimension_dropped(unit, monkeypatch):
    monkeypatch.setattr(F, "max_pool2d", lambda x, *a, **k: _max_pool2d(x[:1], *a, **k))
    unit.fails("models.batch.dimension_is_preserved")


def test_extra_layer_changes_repr_and_parameter_count(unit, monkeypatch):
    monkeypatch.setattr(golden, "LENET_REPR", golden.LENET_REPR.replace("bias=True)\n)", "bias=False)\n)"))
    unit.fails("models.lenet.repr_matches_tutorial")
    monkeypatch.setattr(torch.nn.Linear, "extra_parameters", torch.nn.Parameter(torch.zeros(1)), raising=False)
    monkeypatch.setattr(golden, "NET_PARAMETERS", golden.NET_PARAMETERS + 1)
    unit.fails("models.parameters.match_tutorial_counts")


def test_output_with_wrong_width(unit, monkeypatch):
    monkeypatch.setattr(F, "linear", lambda x, w, b=None: _linear(x, w, b)[..., : 9 if w.shape[0] == 10 else None])
    unit.fails("models.lenet.maps_one_image_to_ten_scores")


def test_num_flat_features_off_by_one(unit, monkeypatch):
    from refsuite.tutorial.nets import LeNet

    original = LeNet.num_flat_features
    monkeypatch.setattr(LeNet, "num_flat_features", lambda self, x: original(self, x) + (x.dim() > 3))
    unit.fails("models.lenet.num_flat_features_is_product")


def test_reordered_path_that_is_not_exact(unit, monkeypatch):
    # Average pooling does not commute with ReLU: the reorder would change results.
    monkeypatch.setattr(F, "max_pool2d", lambda x, k, s=None, p=0, d=1, *a, **kw: F.avg_pool2d(x, k, s, p))
    unit.fails("models.hotpath.pool_first_equals_tutorial_path")


def test_channels_last_conv_slightly_off(unit, monkeypatch):
    def off_in_channels_last(x, w, *args, **kwargs):
        out = _conv2d(x, w, *args, **kwargs)
        return out + 1e-3 if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last) else out

    monkeypatch.setattr(F, "conv2d", off_in_channels_last)
    assert "channels_last" in unit.fails("models.hotpath.pool_first_equals_tutorial_path")
