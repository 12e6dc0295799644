"""What people look at: show-batch's PNG, synthetic-cifar10's pictures, train's loss curve, progress in a log."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsuite.datasets import synthetic

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def small_synthetic(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(REFSUITE_CACHE=str(cache), REFSUITE_SYNTHETIC_SIZE="600,600")  # the smallest a run accepts
    return env


def test_show_batch_writes_one_label_under_each_tile(tmp_path, small_synthetic):
    from PIL import Image

    out = tmp_path / "grid.png"
    done = subprocess.run([sys.executable, "-m", "refsuite", "show-batch", "--out", str(out)], env=small_synthetic,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()[0].split()) == 4  # the tutorial's label line
    image = np.asarray(Image.open(out).convert("L"), dtype=np.int32)
    scale = 4
    tiles_bottom = 36 * scale  # make_grid: 32-pixel tiles, 2 pixels of padding around each
    assert image.shape[1] == 138 * scale and image.shape[0] > tiles_bottom
    ink = image[tiles_bottom:] < 128  # dark text on the white band under the tiles
    columns = np.nonzero(ink.any(axis=0))[0]
    for j in range(4):
        left, right = (2 + 34 * j) * scale, (34 + 34 * j) * scale
        under = columns[(columns >= left) & (columns < right)]
        assert len(under), f"no label under tile {j}"
        assert abs((under.min() + under.max()) / 2 - (left + right) / 2) <= 2 * scale, f"label {j} is not centred under its tile"
    between = [c for c in columns if not any((2 + 34 * j) * scale <= c < (34 + 34 * j) * scale for j in range(4))]
    assert not between, "a label runs past its tile"


def test_synthetic_pictures_stand_out_of_the_noise():
    """Every image's picture spans at least twice the pixel noise's standard deviation, in some channel."""
    labels = np.arange(2000) % 10
    clean = synthetic.render(np.random.default_rng(0), labels, noise=0).astype(float)
    noisy = synthetic.render(np.random.default_rng(0), labels).astype(float)
    low, high = np.percentile(clean.reshape(len(labels), 3, -1), [2, 98], axis=2)
    contrast = (high - low).max(axis=1)
    noise = (noisy - clean).reshape(len(labels), -1).std(axis=1)
    assert noise.mean() == pytest.approx(synthetic.NOISE * 255, rel=0.1)
    worst = np.argmin(contrast / noise)
    assert contrast[worst] / noise[worst] >= 2, f"image {worst} (class {labels[worst]}): the picture is lost in the noise"


def test_readme_says_how_the_synthetic_classes_look():
    text = README.read_text()
    for picture in synthetic.PICTURES:
        assert picture in text, f"README does not describe the class picture {picture!r}"


def test_loss_curve_is_in_epochs():
    from refsuite.cli.train import loss_figure

    windows = [{"epoch": e, "batch": b, "loss": 2.0 / (e + b / 1250)} for e in (1, 2) for b in (416, 832, 1248)]
    fig = loss_figure(windows, 1250, "test")
    ax = fig.axes[0]
    fig.canvas.draw()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [416 / 1250, 832 / 1250, 1248 / 1250, 1 + 416 / 1250,
                                                         1 + 832 / 1250, 1 + 1248 / 1250])
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.isdigit() for label in labels), labels
    assert {"1", "2"} <= set(labels) and ax.get_xlabel() == "epoch"


def test_train_progress_in_a_log_is_plain_lines(tmp_path, small_synthetic):
    done = subprocess.run([sys.executable, "-m", "refsuite", "train", "--epochs", "1", "--out", str(tmp_path / "out")],
                          env=small_synthetic, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout + done.stderr
    assert "training on cpu: 100% 150/150" in done.stderr, done.stderr  # 600 images in batches of 4


def test_train_progress_on_a_terminal_is_a_bar(tmp_path, small_synthetic):
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing 0 wide
    proc = subprocess.Popen([sys.executable, "-m", "refsuite", "train", "--epochs", "1", "--out", str(tmp_path / "out")],
                            env=small_synthetic, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=300) == 0
    os.close(controller)
    assert b"\rtraining on cpu:" in shown and b"|" in shown, shown[-500:]
