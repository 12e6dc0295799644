"""Units for the tutorial's "Datasets and Dataloaders" part."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import example
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.utils.data import DataLoader, TensorDataset

from ..core import strategies as rst
from ..core.registry import Requires, UnitGroup
from ..tutorial import data as tdata
from ..tutorial import golden
from ..tutorial.data import transformed

units = UnitGroup()
DATASET = Requires(dataset=True, packages=("torchvision",))
TORCHVISION = Requires(packages=("torchvision",))
#: the tutorial's batches: 32×32 images, labels 0..9
TUTORIAL_SHAPED = Requires(dataset=True, packages=("torchvision",), dataset_capabilities=frozenset({"32x32", "ten_classes"}))
#: data whose content refsuite knows, because refsuite wrote it
WRITTEN_BY_REFSUITE = Requires(dataset="synthetic-cifar10", packages=("torchvision",))
#: the tutorial's Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
TUTORIAL_MEAN = TUTORIAL_STD = 0.5


@units.unit("data.to_tensor.scales_uint8_to_unit_interval", requires=TORCHVISION)
def to_tensor(ctx):
    """ToTensor turns an HWC uint8 image into a CHW float32 tensor in [0, 1], 255 becoming exactly 1.0."""
    from PIL import Image
    from torchvision import transforms

    @ctx.given(pixels=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=8).map(lambda s: (*s[:2], 3))))
    def prop(pixels):
        got = transforms.ToTensor()(Image.fromarray(pixels))
        assert got.dtype == torch.float32 and got.shape == (3, *pixels.shape[:2]), f"{got.dtype} {tuple(got.shape)}"
        want = torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
        ctx.assert_close(got.to(ctx.torch_device), want, what="ToTensor vs pixels / 255", rtol=0, atol=0)

    prop()
    white = transforms.ToTensor()(Image.fromarray(np.full((2, 2, 3), 255, np.uint8)))
    assert bool((white == 1.0).all()), f"255 became {white.flatten()[0].item()!r}, not exactly 1.0"


@units.unit("data.normalize.inverse_round_trips", requires=TORCHVISION, tags=("layouts",))
def normalize(ctx):
    """Normalize with the tutorial's constants computes (x - mean) / std per channel, and its inverse restores x."""
    from torchvision import transforms

    mean, std = golden.CIFAR10_MEAN, golden.CIFAR10_STD
    norm = transforms.Normalize(mean, std)
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)

    # a batch too (Normalize takes (..., C, H, W)): 4-D tensors can be channels_last
    image_shapes = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
        lambda hw: st.sampled_from([(3, *hw), (1, 3, *hw), (2, 3, *hw)]))

    @ctx.given(x=rst.tensors(ctx.device, shape=image_shapes, min_value=0, max_value=1))
    def prop(x):
        y = norm(x)
        ref = (x.cpu().numpy().astype(np.float64) - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
        ref = ref.astype(np.float32)
        ctx.assert_close(y, torch.from_numpy(ref), what="Normalize vs (x - mean) / std")
        back = y * s.to(ctx.torch_device) + m.to(ctx.torch_device)
        ctx.assert_close(back, x, what="inverse(Normalize(x))")

    prop()


@units.unit("data.stats.streaming_mean_std_match_documented", requires=DATASET)
def streaming_stats(ctx):
    """Per-channel mean and std over the training images, in one streaming pass, equal the documented values."""
    from torchvision import transforms

    ds = ctx.dataset
    loader = DataLoader(transformed(ds.train, transforms.ToTensor()), batch_size=500)
    total = torch.zeros(ds.channels, dtype=torch.float64)
    total_sq = torch.zeros(ds.channels, dtype=torch.float64)
    count = 0
    for images, _ in loader:
        x = images.to(torch.float64)
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = ((total_sq - count * mean**2) / (count - 1)).sqrt()  # Bessel, as the tutorial's torch.std
    # The tutorial quotes 4 decimals; the synthetic statistics (computed by the code) are exact.
    ctx.assert_close(mean, torch.tensor(ds.mean, dtype=torch.float64), what=f"{ds.name} channel means", rtol=0, atol=1e-4)
    ctx.assert_close(std, torch.tensor(ds.std, dtype=torch.float64), what=f"{ds.name} channel stds", rtol=0, atol=1e-4)


@units.unit("data.loader.yields_batches_of_four", requires=TUTORIAL_SHAPED)
def batches_of_four(ctx):
    """A DataLoader with batch_size=4 yields (4, 3, 32, 32) float tensors and int64 labels in [0, 10)."""
    ds = ctx.dataset
    loader = DataLoader(transformed(ds.train, tdata.training_transform(ds.channels)), batch_size=4, shuffle=True, num_workers=2)
    for step, (images, labels) in enumerate(loader):
        images, labels = images.to(ctx.torch_device), labels.to(ctx.torch_device)
        assert images.shape == (4, ds.channels, 32, 32) and images.dtype == torch.float32, f"{tuple(images.shape)} {images.dtype}"
        assert labels.shape == (4,) and labels.dtype == torch.int64, f"labels {tuple(labels.shape)} {labels.dtype}"
        assert bool(((labels >= 0) & (labels < 10)).all()), f"labels outside [0, 10): {labels.tolist()}"
        if step == 2:
            break


def _epoch(n, batch_size, shuffle, drop_last, num_workers, seed):
    loader = DataLoader(
        TensorDataset(torch.arange(n)), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
        num_workers=num_workers, generator=torch.Generator().manual_seed(seed),
    )
    return [int(i) for (batch,) in loader for i in batch]


@units.unit("data.loader.epoch_sees_every_index_once")
def epoch_coverage(ctx):
    """Over batch size, shuffle, drop_last and workers, an epoch yields each index once; a seeded generator repeats the order."""

    # Starting worker processes dominates the cost, so fewer examples than other properties, and
    # one pool of workers per example: the in-process epoch is checked and repeated, and the
    # workers' epoch must equal it, which makes it cover every index and repeat too.
    @ctx.given(
        max_examples=8,
        n=st.integers(1, 40), batch_size=st.integers(1, 8), shuffle=st.booleans(), drop_last=st.booleans(),
        seed=st.integers(0, 2**31 - 1),
    )
    # A shuffle that ignores its generator repeats a 40-index order by chance once in 40! epochs;
    # the drawn examples alone may all be unshuffled or too short to tell.
    @example(n=40, batch_size=4, shuffle=True, drop_last=False, seed=0)
    def prop(n, batch_size, shuffle, drop_last, seed):
        seen = _epoch(n, batch_size, shuffle, drop_last, 0, seed)
        expected = (n // batch_size) * batch_size if drop_last else n
        assert len(seen) == expected and len(set(seen)) == len(seen), f"indices {seen} for n={n}"
        assert set(seen) <= set(range(n))
        if not drop_last:
            assert sorted(seen) == list(range(n)), f"epoch missed indices: {sorted(set(range(n)) - set(seen))}"
        assert _epoch(n, batch_size, shuffle, drop_last, 0, seed) == seen, "same seed, different order"
        workers = _epoch(n, batch_size, shuffle, drop_last, 2, seed)
        assert workers == seen, f"same seed, num_workers=2 vs 0 gave a different epoch: {workers} vs {seen}"

    prop()


@units.unit("data.classes.are_the_tutorials_ten", requires=Requires(dataset=("synthetic-cifar10", "cifar10"), packages=("torchvision",)))
def classes(ctx):
    """The dataset's ten classes are the tutorial's (plane, car, bird, cat, deer, dog, frog, horse, ship, truck)."""
    names = tuple(golden.ABBREVIATIONS.get(c, c) for c in ctx.dataset.classes)
    assert names == golden.CLASSES, f"classes {ctx.dataset.classes} are not the tutorial's {golden.CLASSES}"


@units.unit("data.show_batch.grid_shape_and_range", requires=TUTORIAL_SHAPED)
def show_batch(ctx):
    """The un-normalised make_grid of a batch of four is a (3, 36, 138) image in [0, 1] holding the four images."""
    images, labels = tdata.first_batch(ctx.dataset.train, channels=ctx.dataset.channels)
    grid = tdata.unnormalized_grid(images.to(ctx.torch_device))
    assert grid.shape == (3, 36, 138), f"grid shape {tuple(grid.shape)}, expected (3, 36, 138) for 4 padded 32×32 tiles"
    assert float(grid.min()) >= 0.0 and float(grid.max()) <= 1.0, f"grid range [{float(grid.min())}, {float(grid.max())}]"
    for j in range(4):  # make_grid pads by 2: tile j starts at column 2 + 34 j
        tile = (images[j] / 2 + 0.5).expand(3, -1, -1)  # make_grid shows greyscale as three equal channels
        ctx.assert_close(grid[:, 2:34, 2 + 34 * j : 34 + 34 * j], tile, what=f"tile {j}")
    png = tdata.save_grid_png(grid, [golden.CLASSES[int(j)] for j in labels], ctx.tmp_path / "batch.png")
    assert png.stat().st_size > 0


def _written(ds):
    written = getattr(ds, "written", None)
    assert callable(written), f"dataset {ds.name!r} ({type(ds).__name__}) has no written(): it cannot say what it wrote"
    return written()


def _sample(split) -> list[int]:
    """Fixed indices to read through the PIL path: the first and last images, the middle, and both
    sides of every boundary between files (where an off-by-one in a reader shows)."""
    n = len(split.labels)
    starts, at = [], 0
    for _, count in split.files:
        starts.append(at)
        at += count
    picked = {0, 1, n // 2, n - 2, n - 1, *starts, *(s - 1 for s in starts)}
    return sorted(i for i in picked if 0 <= i < n)


def _same_images(ctx, got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Whole arrays compared at once; the first differing image is then compared alone for its message."""
    assert got.shape == want.shape and got.dtype == want.dtype, f"{what}: {got.dtype} {got.shape}, written {want.dtype} {want.shape}"
    differ = np.flatnonzero((got != want).any(axis=tuple(range(1, want.ndim))))
    if differ.size:
        i = int(differ[0])
        ctx.assert_close(torch.from_numpy(np.array(got[i])), torch.from_numpy(np.array(want[i])), rtol=0, atol=0,
                         what=f"{what}: {differ.size} of {len(want)} images differ from the written ones; image {i} (H, W, C)")


@units.unit("data.reader.returns_what_was_written", requires=WRITTEN_BY_REFSUITE)
def reader_returns_what_was_written(ctx):
    """torchvision's CIFAR10 reader returns, image by image (pixel-exact, HWC) and label by label, what refsuite wrote, for both splits."""
    ds = ctx.dataset
    written = _written(ds)
    names = written.label_names
    for where, classes in (("the dataset", ds.classes), ("train", ds.train.classes), ("test", ds.test.classes)):
        assert tuple(classes) == names, f"{where}'s classes are {tuple(classes)}, but batches.meta names {names}"
    for split, want, size in (("train", written.train, ds.sizes[0]), ("test", written.test, ds.sizes[1])):
        got = getattr(ds, split)
        assert len(want.labels) == size, f"{split}: the files hold {len(want.labels)} images, the generation {size}"
        assert len(got) == size, f"{split}: the reader has {len(got)} images, refsuite wrote {size}"
        targets = np.asarray(got.targets)
        _same_images(ctx, np.asarray(got.data), want.images, f"{split}.data")
        wrong = np.flatnonzero(targets != want.labels)
        if wrong.size:
            i = int(wrong[0])
            raise AssertionError(
                f"{split}.targets: {wrong.size} of {size} labels differ from the written ones; label {i} is "
                f"{targets[i]} ({got.classes[targets[i]]}), refsuite wrote {want.labels[i]} ({names[want.labels[i]]})")
        for i in _sample(want):  # the path a user's DataLoader takes: PIL images and int labels
            image, label = got[i]
            assert image.mode == "RGB", f"{split}[{i}] is a {image.mode} image, not RGB"
            pixels = np.asarray(image)
            if not np.array_equal(pixels, want.images[i]):
                ctx.assert_close(torch.from_numpy(np.array(pixels)), torch.from_numpy(np.array(want.images[i])), rtol=0,
                                 atol=0, what=f"{split}[{i}] as a PIL image (H, W, C) vs the written pixels")
            # with the classes equal, the same label names the class refsuite wrote
            assert isinstance(label, int) and label == want.labels[i], (
                f"{split}[{i}] is labelled {label!r}, refsuite wrote {want.labels[i]} ({names[want.labels[i]]})")
    # The reference above is refsuite's decoding of the files; the generator itself pins it down:
    # the first file rendered again from the seed (the others would cost every rendering before them).
    name, images, labels = next(ds.generated())
    n = len(labels)
    _same_images(ctx, written.train.images[:n], images.transpose(0, 2, 3, 1), f"{name} decoded vs rendered again from seed {ds.seed}")
    assert np.array_equal(written.train.labels[:n], labels), f"{name}: decoded labels differ from those generated again"


@units.unit("data.transforms.match_numpy_on_written_pixels", requires=WRITTEN_BY_REFSUITE)
def transforms_match_numpy(ctx):
    """The tutorial's ToTensor + Normalize on images the reader returns equal (pixels / 255 - 0.5) / 0.5, CHW, from the written pixels."""
    from torchvision import transforms

    ds = ctx.dataset
    written = _written(ds)
    tutorial = tdata.training_transform(3)
    picked, outputs, unit_chw = [], [], []
    for split, want in (("train", written.train), ("test", written.test)):
        through = transformed(getattr(ds, split), tutorial)
        for i in _sample(want):
            image, label = through[i]
            picked.append(f"{split}[{i}]")
            outputs.append(image)
            assert label == want.labels[i], f"{split}[{i}] is labelled {label}, refsuite wrote {want.labels[i]}"
            unit_chw.append(want.images[i].transpose(2, 0, 1).astype(np.float64) / 255)
    unit_chw = np.stack(unit_chw)
    reference = torch.from_numpy(((unit_chw - TUTORIAL_MEAN) / TUTORIAL_STD).astype(np.float32))
    # One comparison for all the images, each comparison having a fixed cost well above a 32×32
    # image's; kernels this small only lose by being split among threads.
    with ctx.tiny_kernels():
        ctx.assert_close(torch.stack(outputs), reference,
                         what=f"tutorial transform of {', '.join(picked)} (stacked in that order) vs numpy on the written pixels")
        # the same Normalize on the device, as a user normalising there would
        normalize = transforms.Normalize((TUTORIAL_MEAN,) * 3, (TUTORIAL_STD,) * 3)
        on_device = normalize(torch.from_numpy(unit_chw.astype(np.float32)).to(ctx.torch_device))
        ctx.assert_close(on_device, reference, what=f"Normalize of {', '.join(picked)} on the device vs numpy")


def _unchanged(before, after, what: str) -> None:
    """``after``, the input after the call, equals ``before``, a copy taken before it."""
    if tuple(before.shape) != tuple(after.shape):
        raise AssertionError(f"{what} changed its input's shape from {tuple(before.shape)} to {tuple(after.shape)}")
    same = bool(torch.equal(before, after)) if isinstance(before, torch.Tensor) else np.array_equal(before, after)
    if not same:
        changed, total = int((before != after).sum()), int(np.prod(before.shape))
        raise AssertionError(f"{what} changed its input: {changed} of {total} values differ afterwards")


@units.unit("data.transforms.leave_their_input_untouched", requires=DATASET)
def transforms_leave_input(ctx):
    """ToTensor, Normalize and the tutorial's Compose leave the PIL image, array or tensor they are given unchanged."""
    from torchvision import transforms

    ds = ctx.dataset
    channels = ds.channels
    to_tensor = transforms.ToTensor()
    normalize = transforms.Normalize((TUTORIAL_MEAN,) * channels, (TUTORIAL_STD,) * channels)
    tutorial = tdata.training_transform(channels)
    for split in (ds.train, ds.test):
        for i in (0, len(split) - 1):
            image, _ = split[i]
            pixels = np.array(image)
            for name, transform in (("ToTensor", to_tensor), ("the tutorial's Compose", tutorial)):
                transform(image)
                _unchanged(pixels, np.array(image), f"{name} on a PIL image")
                array = pixels.copy()
                transform(array)
                _unchanged(pixels, array, f"{name} on an array")
            tensor = to_tensor(image).to(ctx.torch_device)
            for x in (tensor, tensor.unsqueeze(0)):  # an image and a batch of one
                before = x.clone()
                normalize(x)
                _unchanged(before, x, f"Normalize on a {x.dim()}-d tensor")
