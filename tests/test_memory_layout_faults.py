"""For each memory layout the strategies draw, a torch operation that goes wrong only for that layout
turns a unit red: a kernel that assumes contiguous input cannot hide behind contiguous examples."""
import pytest
import torch
import torch.nn.functional as F


def _big(x):
    """Sizes and strides of the dimensions that matter (size-1 dimensions may have any stride)."""
    return [(size, stride) for size, stride in zip(x.shape, x.stride()) if size > 1]


def transposed(x):
    strides = [stride for _, stride in _big(x)]
    return 0 not in strides and strides != sorted(strides, reverse=True)


def sliced(x):
    strides = [stride for _, stride in _big(x)]
    return not x.is_contiguous() and 0 not in strides and strides == sorted(strides, reverse=True)


def expanded(x):
    return any(stride == 0 for _, stride in _big(x))


def offset(x):
    return x.storage_offset() > 0


def channels_last(x):
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


# layout: (module, operation, the unit that must catch it)
PLANTED = {
    "transposed": (torch, "abs", transposed, "tensors.math.abs_matches_numpy"),
    "sliced": (torch, "abs", sliced, "tensors.math.abs_matches_numpy"),
    "expanded": (torch, "abs", expanded, "tensors.math.abs_matches_numpy"),
    "offset": (torch, "abs", offset, "tensors.math.abs_matches_numpy"),
    "channels_last": (F, "conv2d", channels_last, "models.conv.conv2d_matches_numpy"),
}


def _plant(monkeypatch, layout):
    module, name, only_for, unit_id = PLANTED[layout]
    real = getattr(module, name)
    hits = []

    def wrong_for_this_layout(x, *args, **kwargs):
        out = real(x, *args, **kwargs)
        if isinstance(x, torch.Tensor) and only_for(x):
            hits.append(tuple(x.stride()))
            return out + 1
        return out

    monkeypatch.setattr(module, name, wrong_for_this_layout)
    return unit_id, hits


@pytest.mark.parametrize("layout", ["transposed", "sliced", "expanded", "offset"])
def test_abs_wrong_only_for_one_layout(unit, monkeypatch, layout):
    _, hits = _plant(monkeypatch, layout)
    unit.fails("tensors.math.abs_matches_numpy")
    assert hits, f"no {layout} operand reached torch.abs"


def test_conv2d_wrong_for_channels_last_input(unit, monkeypatch):
    _, hits = _plant(monkeypatch, "channels_last")
    assert "conv2d" in unit.fails("models.conv.conv2d_matches_numpy")
    assert hits


@pytest.mark.parametrize("layout", sorted(PLANTED))
def test_each_planted_fault_spares_the_other_layouts(layout):
    # the predicates tell the layouts apart, so each test above proves its own layout is drawn
    from hypothesis import given, settings

    from refsuite.core import strategies as rst

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)  # a loaded machine is no defect
    @given(how=rst.layouts((2, 3, 4, 5)))
    def prop(how):
        x = how.apply(torch.arange(120.0).view(2, 3, 4, 5))
        assert PLANTED[layout][2](x) == (how.name == layout or (layout == "channels_last" and how.arg == (0, 2, 3, 1))
                                         or (layout == "transposed" and how.name == "channels_last")), how

    prop()


def test_units_tagged_layouts_draw_them_and_say_so(plugins, unit, monkeypatch):
    import collections

    from refsuite.core import strategies as rst

    drawn = collections.Counter()
    apply = rst.Layout.apply

    def counted(self, x):
        drawn[self.name] += 1
        return apply(self, x)

    monkeypatch.setattr(rst.Layout, "apply", counted)
    tagged = [u.id for u in plugins.units if "layouts" in u.tags]
    assert len(tagged) >= 12
    for unit_id in tagged:
        drawn.clear()
        unit.run(unit_id)
        assert len(drawn) >= 3 and drawn.keys() - {"contiguous"}, f"{unit_id} drew only {dict(drawn)}"
