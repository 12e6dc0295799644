"""What a unit's check receives: the device, tolerances, seeding, a scratch directory, hypothesis settings."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable

import torch
import hypothesis
from hypothesis import Phase, given, reproduce_failure, settings

from . import interrupts, locks
from .comparison_log import ComparisonLog
from .devices import Device
from .errors import PluginError
from .profiles import DEFAULT_PROFILE, settings_for
from .tolerance import TolerancePolicy, error_stats


@dataclasses.dataclass
class Context:
    device: Device
    tmp_path: Path
    hypothesis: settings
    tolerance: TolerancePolicy
    dataset_name: str | None = None
    #: returns the selected dataset (loaded once per session); None when no dataset is configured
    dataset_loader: Callable[[], Any] | None = None
    #: comparisons made so far, summarised per ``what`` (count, largest errors and where), for drift reports
    comparisons: ComparisonLog = dataclasses.field(default_factory=ComparisonLog)
    #: figures a unit measured (an accuracy, a loss), kept in `refsuite run --record` files
    metrics: dict = dataclasses.field(default_factory=dict)
    #: (n, blob): replay hypothesis's failing example ``blob`` in the unit's n-th property (``--reproduce n:blob``)
    reproduce: tuple[int, str] | None = None
    #: the ordinal of the property that failed (1 for the unit's first ``ctx.given``), for replay advice
    failed_property: int | None = dataclasses.field(default=None, init=False)
    #: keep the last failing comparison's tensors, tolerances and recomputation (``--repro``)
    capture_failures: bool = False
    #: the last failing comparison, when ``capture_failures`` (see :func:`refsuite.core.repro.capture`)
    failure: dict | None = dataclasses.field(default=None, init=False)
    #: a line to the user now, while the unit runs (waiting on the dataset's lock): past pytest's
    #: output capture when the pytest plugin made this context, stderr otherwise
    report: Callable[[str], None] = locks.to_stderr
    _properties: int = dataclasses.field(default=0, init=False, repr=False)

    @property
    def torch_device(self) -> torch.device:
        return self.device.torch

    @property
    def dataset(self):
        if self.dataset_loader is None:
            raise PluginError("this unit needs a dataset; declare Requires(dataset=True)")
        # a dataset plugin's load takes no reporter: the lock it may wait on finds this context's here
        with locks.reporting(self.report):
            return self.dataset_loader()

    def given(self, *args, max_examples: int | None = None, **kwargs) -> Callable:
        """hypothesis.given under this run's profile: ``@ctx.given(x=st.integers())``.

        ``max_examples`` caps the profile's count for properties whose examples are costly.
        """
        chosen = self.hypothesis
        if max_examples is not None and max_examples < chosen.max_examples:
            chosen = settings(chosen, max_examples=max_examples)

        def wrap(func: Callable) -> Callable:
            @functools.wraps(func)
            def example(*a, **kw):
                interrupts.check()
                try:
                    return func(*a, **kw)
                finally:
                    self.flush()  # one example, one graph on a lazy backend

            test = chosen(given(*args, **kwargs)(example))
            self._properties += 1
            ordinal = self._properties
            if self.reproduce is not None and self.reproduce[0] == ordinal:
                test = reproduce_failure(hypothesis.__version__, self.reproduce[1].encode())(test)

            @functools.wraps(test)
            def run(*a, **kw):
                try:
                    return test(*a, **kw)
                except BaseException:
                    self.failed_property = ordinal
                    raise

            return run

        return wrap

    def cpu_generator(self, seed: int) -> torch.Generator:
        """A seeded CPU generator: CPU and accelerator streams differ, so seed here and move."""
        return torch.Generator().manual_seed(seed)

    @contextlib.contextmanager
    def tiny_kernels(self):
        """One intra-op thread for CPU kernels while the unit runs kernels too small to split (a batch
        of four 32×32 images through the tutorial's Net).

        There, handing each kernel to several threads costs more than it saves, on any number of
        cores, and threads spinning between kernels starve whatever else shares the cores (DataLoader
        workers, other xdist workers). ``refsuite train`` uses one thread for such batches too.
        Accelerator kernels are not affected; the thread count is restored afterwards.
        """
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def record_metric(self, name: str, value: float) -> None:
        self.metrics[name] = value

    def synchronize(self) -> None:
        self.device.synchronize()

    def flush(self) -> None:
        """A step boundary: a lazy backend runs what it has recorded (see ``DeviceType.flush``)."""
        self.device.flush()

    def assert_close(self, actual: Any, expected: Any, *, what: str = "", where: Any = None,
                     repro: tuple[str, dict] | None = None, **tolerances) -> None:
        """Result on the device vs a reference (usually CPU float64), under the device's tolerances.

        ``what`` names the comparison and ``where`` the example it was made on (drawn parameters):
        records keep one entry per ``what`` with the ``where`` of its largest error.
        ``equal_nan=True`` (NaN matches NaN) keeps the dtype's tolerances; ``rtol``/``atol`` replace them.
        ``repro``: how ``actual`` was computed, as torch code over named inputs, e.g.
        ``("torch.nn.functional.conv2d(x, w, b, stride=2)", {"x": x, "w": w, "b": b})``; a repro
        bundle (``--repro``) then recomputes it with torch alone instead of only re-checking the values.
        """
        # reading a lazy backend's result would otherwise run only the graph behind it, leaving the rest pending
        self.flush()
        msg = None
        if what or where is not None:
            said = f"{what} ({where})" if where is not None else what
            msg = lambda default: f"{said.strip()} on {self.device.label}:\n{default}"  # noqa: E731
        try:
            stats = self.tolerance.assert_close(actual, expected, msg=msg, **tolerances)
        except AssertionError as exc:
            # the failing comparison's errors are the ones a record most needs
            self.comparisons.add(what, _errors(actual, expected), _describe(actual, where), failed=True)
            if self.capture_failures:
                from .repro import capture

                self.failure = capture(exc, actual, expected, self.tolerance, tolerances, repro,
                                       message=msg("").rstrip("\n") if msg else None, device=self.device)
            raise
        self.comparisons.add(what, stats, _describe(actual, where))

    def assert_golden(self, actual: Any, printed: Any, *, what: str = "") -> None:
        """Value vs the number the tutorial printed (4 decimals)."""
        try:
            stats = self.tolerance.assert_golden(actual, printed)
        except AssertionError as exc:
            self.comparisons.add(what, _errors(actual, printed), _describe(actual, None), failed=True)
            raise AssertionError(f"{what or 'value'} differs from the tutorial's printed output:\n{exc}") from None
        self.comparisons.add(what, stats, _describe(actual, None))


def make_context(device: Device, tmp_path: Path, *, profile: str = DEFAULT_PROFILE, dataset: Any = None,
                 reproduce: tuple[int, str] | None = None, capture_failures: bool = False, shrink: bool = True,
                 report: Callable[[str], None] | None = None) -> Context:
    """The context a unit's check receives, as every runner makes it (the pytest plugin, the
    ``unit`` fixture): the ``profile``'s hypothesis settings under the device's ``max_examples``
    cap, the device's tolerances, and ``dataset`` (anything with ``name`` and ``load()``, such as a
    ``DatasetSelection``; None: no dataset). ``shrink=False`` stops at the first failing example
    (a faster red where only the verdict matters); ``report``: see :attr:`Context.report`."""
    chosen = settings_for(profile, device.type.name, device.type.max_examples)
    if not shrink:
        chosen = settings(chosen, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    return Context(device=device, tmp_path=tmp_path, hypothesis=chosen, tolerance=TolerancePolicy(device.type.tolerances),
                   dataset_name=dataset.name if dataset is not None else None,
                   dataset_loader=dataset.load if dataset is not None else None, reproduce=reproduce,
                   capture_failures=capture_failures, report=report or locks.to_stderr)


def _errors(actual: Any, expected: Any) -> dict:
    try:
        return error_stats(torch.as_tensor(actual), torch.as_tensor(expected))
    except Exception:  # what could not be compared (a shape or dtype mismatch) has no error to measure
        return {"max_abs_err": 0.0, "max_rel_err": 0.0}


def _describe(actual: Any, where: Any) -> str:
    """Where a comparison was made: what the unit says, and the result's dtype and shape."""
    parts = [] if where is None else [str(where)]
    if isinstance(actual, torch.Tensor):
        parts.append(f"{str(actual.dtype).removeprefix('torch.')} {tuple(actual.shape)}")
    return "; ".join(parts)
