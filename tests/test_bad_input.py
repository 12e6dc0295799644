"""Bad input, run as a user runs it: each case a subprocess, with its exit code, its one-line message,
no traceback, and nothing written where the user works.

Usage errors exit 4 in every refsuite command, as in pytest (refsuite.cli.exit_codes).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from distributions import write_distribution

# Each case: argv, extra environment, exit code, the message (a regex over the one error line).
# In argv and the environment, {file}, {dir}, {shared}, {missing}, {json_list}, {json_row},
# {not_json}, {site}, {fifo}, {trainout} and the malformed records ({deep}, {format_true}...) are
# paths made per case ({site}: installed plugins that fail to import).
CASES = {
    # refsuite run: settings and providers the run depends on, whatever -k selects
    "run: synthetic size not a pair": (["run", "-k", "seed"], {"REFSUITE_SYNTHETIC_SIZE": "abc"}, 4,
                                       r"REFSUITE_SYNTHETIC_SIZE='abc': expected TRAIN,TEST"),
    "run: synthetic size negative": (["run", "-k", "seed"], {"REFSUITE_SYNTHETIC_SIZE": "100,-3"}, 4,
                                     r"each split needs 600 to 50,000 images \(fewer leave the training units too little data; "
                                     r"50,000,50,000 takes about 4 GB of memory\)"),
    "run: synthetic size below what the units need": (["run", "-k", "seed"], {"REFSUITE_SYNTHETIC_SIZE": "10,10"}, 4,
                                                      r"REFSUITE_SYNTHETIC_SIZE='10,10': each split needs 600 to"),
    "run: synthetic size past the memory it is documented for": (["run", "-k", "seed"],
                                                                 {"REFSUITE_SYNTHETIC_SIZE": "50001,1000"}, 4,
                                                                 r"REFSUITE_SYNTHETIC_SIZE='50001,1000': each split needs"),
    "run: a cache others may write": (["run", "-k", "seed"], {"REFSUITE_CACHE": "{shared}"}, 4,
                                      r"refusing .*shared: group or others may write it"),
    "run: a cache inside a directory others may write": (["run", "-k", "seed"], {"REFSUITE_CACHE": "{shared}/cache"}, 4,
                                                         r"refusing .*shared: group or others may write it.*REFSUITE_CACHE"),
    "run: synthetic data root others may write": (["run", "-k", "seed", "--data-root", "{shared}"], {}, 4,
                                                  r"refusing .*shared: group or others may write it.*data root of your own"),
    "run: cifar10 data root others may write": (["run", "--dataset", "cifar10", "--data-root", "{shared}"], {}, 4,
                                                r"refusing .*shared: group or others may write it.*copy CIFAR-10"),
    "run: the cache is a file": (["run", "-k", "seed"], {"REFSUITE_CACHE": "{file}"}, 4,
                                 r"cannot use .*afile as a cache directory .*set \$REFSUITE_CACHE"),
    "run: data root from the environment is a file": (["run", "--dataset", "cifar10"], {"REFSUITE_DATA_ROOT": "{file}"}, 4,
                                                      r"data root .*afile is not a directory"),
    "run: empty device": (["run", "--device", ""], {}, 4, r"empty device name in --device ''"),
    "run: empty device in a list": (["run", "--device", "cpu,"], {}, 4, r"empty device name"),
    "run: unknown device": (["run", "--device", "nope"], {}, 4, r"unknown device 'nope': available: cpu"),
    "run: device index out of range": (["run", "--device", "cpu,cuda:9"], {}, 4, r"device 'cuda:9' is not available"),
    "run: cpu index that is not there": (["run", "--device", "cpu:7"], {}, 4, r"device 'cpu:7' does not exist: cpu has 1 device"),
    "run: dataset plugin failed to load": (["run", "--dataset", "tinyfake"], {"PYTHONPATH": "{site}"}, 4,
                                           r"dataset plugin 'tinyfake' failed to load: ImportError: broken on purpose"),
    "run: device plugin failed to load": (["run", "--device", "hpu"], {"PYTHONPATH": "{site}"}, 4,
                                          r"device plugin 'hpu' failed to load: ImportError: broken on purpose"),
    "train: device plugin failed to load": (["train", "--device", "hpu:1"], {"PYTHONPATH": "{site}"}, 4,
                                            r"device plugin 'hpu' failed to load: ImportError: broken on purpose"),
    "show-batch: dataset plugin failed to load": (["show-batch", "--out", "g.png", "--dataset", "tinyfake"],
                                                  {"PYTHONPATH": "{site}"}, 4, r"dataset plugin 'tinyfake' failed to load"),
    "bench: variant plugin failed to load": (["bench", "--quick"], {"PYTHONPATH": "{site}"}, 4,
                                             r"bench variant plugin 'fancy' failed to load: ImportError: broken on purpose"),
    "run: unknown dataset": (["run", "--dataset", "nope"], {}, 4, r"unknown dataset 'nope': available: .*synthetic-cifar10"),
    "run: data root is a file": (["run", "--dataset", "cifar10", "--data-root", "{file}"], {}, 4,
                                 r"data root .*afile is not a directory"),
    "run: data root missing": (["run", "--dataset", "cifar10", "--data-root", "{missing}"], {}, 4,
                               r"data root .*missing does not exist \(it is not created for you\)"),
    "run: synthetic data root missing": (["run", "--data-root", "{missing}"], {}, 4, r"data root .*missing does not exist"),
    "run: download without network": (["run", "--dataset", "cifar10", "--data-root", "{dir}", "--download"],
                                      {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}, 4,
                                      r"downloading CIFAR-10 into .*adir failed"),
    "run: record path unwritable": (["run", "--record", "/proc/x/r.json"], {}, 4, r"--record /proc/x/r.json: cannot write there"),
    "run: record path is a directory": (["run", "--record", "{dir}"], {}, 4, r"--record .*adir: is a directory"),
    "run: junitxml path unwritable": (["run", "--junitxml", "/proc/x/u.xml"], {}, 4, r"--junitxml /proc/x/u.xml: cannot write there"),
    # an output replaces only a regular file: a named pipe stands for devices and other special files
    "run: record is a named pipe": (["run", "--record", "{fifo}"], {}, 4,
                                    r"--record .*fifo: is a named pipe \(FIFO\); refsuite replaces only a regular file"),
    "run: junitxml is a named pipe": (["run", "--junitxml", "{fifo}"], {}, 4, r"--junitxml .*fifo: is a named pipe"),
    "pytest: record is a named pipe": (["run", "--", "--record", "{fifo}"], {}, 4, r"--record .*fifo: is a named pipe"),
    "train: out holds a named pipe": (["train", "--out", "{trainout}"], {}, 4,
                                      r"--out .*trainout: loss.png is a named pipe \(FIFO\)"),
    "train: out is a named pipe": (["train", "--out", "{fifo}"], {}, 4, r"--out .*fifo: is a named pipe"),
    "show-batch: out is a named pipe": (["show-batch", "--out", "{fifo}"], {}, 4, r"--out .*fifo: is a named pipe"),
    "bench: json is a named pipe": (["bench", "--json", "{fifo}"], {}, 4, r"--json .*fifo: is a named pipe"),
    "run: unknown profile": (["run", "--profile", "fastest"], {}, 4, r"argument --profile: invalid choice: 'fastest'"),
    "run: -k twice": (["run", "-k", "seed", "-k", "math"], {}, 4, r"argument -k: given twice \(seed, then math\)"),
    "run: record twice": (["run", "--record", "a.json", "--record", "b.json"], {}, 4, r"argument --record: given twice"),
    "run: dataset twice": (["run", "--dataset", "cifar10", "--dataset", "synthetic-cifar10"], {}, 4,
                           r"argument --dataset: given twice"),
    "run: torch threads 0": (["run", "-k", "seed"], {"REFSUITE_TORCH_THREADS": "0"}, 4,
                             r"\$REFSUITE_TORCH_THREADS must be an integer ≥ 1, got '0'"),
    "run: cores not a number": (["run", "-k", "seed", "--", "--torch-threads", "2"], {"REFSUITE_CORES": "many"}, 4,
                                r"\$REFSUITE_CORES must be an integer ≥ 1, got 'many'"),
    # refsuite train: every number in range, one device, a writable --out
    "train: epochs -1": (["train", "--epochs", "-1"], {}, 4, r"argument --epochs: must be an integer ≥ 1, got -1"),
    "train: epochs 0": (["train", "--epochs", "0"], {}, 4, r"argument --epochs: must be an integer ≥ 1, got 0"),
    "train: fast with epochs 0": (["train", "--fast", "--epochs", "0"], {}, 4, r"argument --epochs: must be"),
    "train: epochs not a number": (["train", "--epochs", "two"], {}, 4, r"argument --epochs: 'two' is not an integer"),
    "train: batch size 0": (["train", "--batch-size", "0"], {}, 4, r"argument --batch-size: must be an integer ≥ 1, got 0"),
    "train: batch size -3": (["train", "--batch-size", "-3"], {}, 4, r"argument --batch-size: must be an integer ≥ 1"),
    "train: threads -1": (["train", "--threads", "-1"], {}, 4, r"argument --threads: must be an integer ≥ 1, got -1"),
    "train: learning rate 0": (["train", "--lr", "0"], {}, 4, r"argument --lr: must be a number > 0, got 0"),
    "train: learning rate nan": (["train", "--lr", "nan"], {}, 4, r"argument --lr: must be a number > 0, got nan"),
    "train: momentum 1.5": (["train", "--momentum", "1.5"], {}, 4, r"argument --momentum: must be a number in \[0, 1\)"),
    "train: window -2": (["train", "--window", "-2"], {}, 4, r"argument --window: must be an integer ≥ 0"),
    "train: empty device": (["train", "--device", ""], {}, 4, r"empty device name in --device ''"),
    "train: two devices in one": (["train", "--device", "cpu,meta"], {}, 4, r"train runs on one device, got cpu, meta"),
    "train: two devices": (["train", "--device", "cpu", "--device", "meta"], {}, 4,
                           r"argument --device: given twice \(cpu, then meta\); it takes one value"),
    "train: cpu then cuda": (["train", "--device", "cpu", "--device", "cuda"], {}, 4, r"argument --device: given twice"),
    "train: epochs twice": (["train", "--epochs", "1", "--epochs", "3"], {}, 4, r"argument --epochs: given twice \(1, then 3\)"),
    "train: unavailable device": (["train", "--device", "cuda:3"], {}, 4, r"device 'cuda:3' is not available"),
    "train: out unwritable": (["train", "--out", "/proc/x/run"], {}, 4, r"--out /proc/x/run: cannot write there"),
    "train: data root is a file": (["train", "--dataset", "cifar10", "--data-root", "{file}"], {}, 4, r"is not a directory"),
    "train: synthetic size": (["train"], {"REFSUITE_SYNTHETIC_SIZE": "5000"}, 4, r"REFSUITE_SYNTHETIC_SIZE='5000'"),
    # refsuite show-batch
    "show-batch: out unwritable": (["show-batch", "--out", "/proc/x/g.png"], {}, 4, r"--out /proc/x/g.png: cannot write there"),
    "show-batch: out is a directory": (["show-batch", "--out", "{dir}"], {}, 4, r"--out .*adir: is a directory"),
    "show-batch: out twice": (["show-batch", "--out", "a.png", "--out", "b.png"], {}, 4, r"argument --out: given twice"),
    "show-batch: negative seed": (["show-batch", "--out", "g.png", "--seed", "-1"], {}, 4, r"argument --seed: must be an integer ≥ 0"),
    "show-batch: cifar10 without a root": (["show-batch", "--out", "g.png", "--dataset", "cifar10"], {}, 4, r"no data root"),
    # refsuite compare and bench --compare: files of the wrong shape
    "compare: missing file": (["compare", "{missing}", "{missing}"], {}, 4, r"missing: cannot read it"),
    "compare: not JSON": (["compare", "{not_json}", "{not_json}"], {}, 4, r"not_json.json: not JSON"),
    "compare: a JSON list": (["compare", "{json_list}", "{json_list}"], {}, 4, r"is not a refsuite record"),
    "compare: a malformed row": (["compare", "{json_row}", "{json_row}"], {}, 4, r"results\[0\] lacks a valid .*outcome"),
    "compare: factor not a number": (["compare", "{json_row}", "{json_row}", "--factor", "x"], {}, 4, r"argument --factor"),
    "compare: factor 0": (["compare", "{json_row}", "{json_row}", "--factor", "0"], {}, 4,
                          r"argument --factor: must be a number > 0, got 0"),
    "compare: nested 100,000 deep": (["compare", "{deep}", "{deep}"], {}, 4, r"deep.json: nested deeper than 64 levels"),
    "compare: endless input": (["compare", "/dev/zero", "{json_row}"], {}, 4, r"/dev/zero: larger than 64 MB"),
    "compare: format true": (["compare", "{format_true}", "{format_true}"], {}, 4,
                             r"format_true.json is not a refsuite record .*'format' is true, expected a layout number"),
    "compare: devices a string": (["compare", "{devices_str}", "{devices_str}"], {}, 4,
                                  r"environment.devices is \"cpu\", expected a list of device names"),
    "compare: duration NaN": (["compare", "{nan_duration}", "{nan_duration}"], {}, 4,
                              r"results\[0\] lacks a valid duration_s \(a finite number of seconds ≥ 0\)"),
    "compare: duration a bool": (["compare", "{bool_duration}", "{bool_duration}"], {}, 4, r"results\[0\] lacks a valid duration_s"),
    "compare: error a string": (["compare", "{str_error}", "{str_error}"], {}, 4, r"results\[0\].comparisons\[0\] is malformed"),
    "bench: compare a missing file": (["bench", "--compare", "{missing}", "{json_list}"], {}, 4, r"--compare: .*cannot read it"),
    "bench: no threads": (["bench", "--threads", "0"], {}, 4, r"--threads: 0: give 1 or more"),
    "bench: no rounds": (["bench", "--rounds", "0"], {}, 4, r"--rounds: 0: give 1 or more"),
    "run: no processes": (["run", "--nproc", "0"], {}, 4, r"--nproc: must be an integer ≥ 1, got 0"),
    "merge: a missing record": (["merge", "{missing}"], {}, 4, r"refsuite merge: error: .*cannot read it"),
    "bench: compare a record": (["bench", "--compare", "{json_row}", "{json_row}"], {}, 4, r"is not pytest-benchmark JSON"),
    "bench: json unwritable": (["bench", "--json", "/proc/x/b.json"], {}, 4, r"--json /proc/x/b.json: cannot write there"),
    "bench: unknown device": (["bench", "--device", "nope"], {}, 4, r"unknown device 'nope'"),
    "bench: empty device": (["bench", "--device", ""], {}, 4, r"empty device name"),
    "bench: unavailable device": (["bench", "--device", "cuda:9"], {}, 4, r"device 'cuda:9' is not available"),
    "bench: json twice": (["bench", "--json", "a.json", "--json", "b.json"], {}, 4, r"argument --json: given twice"),
    # --expect: a manifest that cannot be trusted to say what it means (files from the manifests fixture)
    "run: manifest missing": (["run", "-k", "seed", "--expect", "{missing}"], {}, 4, r"--expect .*missing: cannot read it"),
    "run: manifest not TOML": (["run", "-k", "seed", "--expect", "{not_json}"], {}, 4,
                               r"--expect .*not_json.json: not TOML: .*line 1"),
    "run: manifest unknown top-level key": (["run", "-k", "seed", "--expect", "m_top.toml"], {}, 4,
                                            r"m_top.toml: unknown top-level key 'expected'; a manifest holds only \[\[expect\]\]"),
    "run: manifest expect not an array": (["run", "-k", "seed", "--expect", "m_table.toml"], {}, 4,
                                          r"m_table.toml: 'expect' must be an array of tables, each written \[\[expect\]\]"),
    "run: manifest unknown key": (["run", "-k", "seed", "--expect", "m_key.toml"], {}, 4,
                                  r"m_key.toml:3: unknown key 'reasons'; an entry has device, units, outcome, reason, link"),
    "run: manifest entry without a reason": (["run", "-k", "seed", "--expect", "m_noreason.toml"], {}, 4,
                                             r"m_noreason.toml:1: no reason: say why the units are expected"),
    "run: manifest empty reason": (["run", "-k", "seed", "--expect", "m_blank.toml"], {}, 4,
                                   r"m_blank.toml:1: reason ' ' must say, in words, why the units are expected to skip"),
    "run: manifest outcome xfail": (["run", "-k", "seed", "--expect", "m_outcome.toml"], {}, 4,
                                    r"m_outcome.toml:1: outcome 'xfail' must be \"fail\" or \"skip\""),
    "run: manifest glob naming no unit": (["run", "-k", "seed", "--expect", "m_glob.toml"], {}, 4,
                                          r"m_glob.toml:1: 'models.cnv.\*' names no unit"),
    "run: manifest id naming no unit": (["run", "-k", "seed", "--expect", "m_id.toml"], {}, 4,
                                        r"m_id.toml:1: 'tensors.seed.repeat' names no unit"),
    "run: manifest units a string": (["run", "-k", "seed", "--expect", "m_units.toml"], {}, 4,
                                     r"m_units.toml:1: units 'tensors.seed.repeats' must be a non-empty list"),
    "run: manifest unknown device type": (["run", "-k", "seed", "--expect", "m_device.toml"], {}, 4,
                                          r"m_device.toml:1: device 'cdua' is not a device type torch or an installed"),
    "run: manifest device with an index": (["run", "-k", "seed", "--expect", "m_index.toml"], {}, 4,
                                           r"m_index.toml:1: device 'cuda:1' is a device, not a device type: write 'cuda'"),
    "run: manifest states a unit twice": (["run", "-k", "seed", "--expect", "m_twice.toml"], {}, 4,
                                          r"m_twice.toml:7: tensors.seed.repeats on cpu is already expected at .*m_twice.toml:1"),
    "pytest: manifest without a reason": (["run", "--", "--expect", "{dir}/../m_noreason.toml"], {}, 4,
                                          r"m_noreason.toml:1: no reason"),
    "compare: manifest outcome xfail": (["compare", "{json_row}", "{json_row}", "--expect", "m_outcome.toml"], {}, 4,
                                        r"m_outcome.toml:1: outcome 'xfail'"),
    "expect: record missing": (["expect", "{missing}"], {}, 4, r"missing: cannot read it"),
    "expect: record not a record": (["expect", "{json_list}"], {}, 4, r"is not a refsuite record"),
    "expect: device type not in the record": (["expect", "m_record.json", "--device", "cuda"], {}, 4,
                                              r"--device cuda: the record has no results on that device type; it has cpu"),
    # --repro: the bundles' directory must be one
    "run: repro into a file": (["run", "-k", "seed", "--repro", "{file}"], {}, 4, r"--repro .*afile: is a file, not a directory"),
    "run: repro unwritable": (["run", "-k", "seed", "--repro", "/proc/x/bundles"], {}, 4,
                              r"--repro /proc/x/bundles: cannot write there"),
    # no subcommand, an unknown one
    "no command": ([], {}, 4, r"the following arguments are required: command"),
    "unknown command": (["frobnicate"], {}, 4, r"argument command: invalid choice: 'frobnicate'"),
}


@pytest.fixture
def workdir(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("a file, not a directory\n")
    (work / "adir").mkdir()
    (work / "not_json.json").write_text("{ nope")
    (work / "list.json").write_text("[1, 2]")
    (work / "row.json").write_text('{"environment": {}, "results": [{"unit": "u", "device": "cpu"}]}')
    broken = "raise ImportError('broken on purpose')\n"
    write_distribution(tmp_path / "site", "refsuite-broken", {"broken_dataset": broken, "broken_device": broken,
                                                              "broken_variants": broken},
                       {"refsuite.datasets": {"tinyfake": "broken_dataset:TINYFAKE"},
                        "refsuite.devices": {"hpu": "broken_device:HPU"},
                        "refsuite.bench_variants": {"fancy": "broken_variants:VARIANTS"}})
    os.mkfifo(work / "fifo")
    (work / "trainout").mkdir()
    os.mkfifo(work / "trainout" / "loss.png")
    (work / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    row = {"unit": "u", "device": "cpu", "outcome": "passed", "duration_s": 0.5, "comparisons": []}
    for name, record in {"format_true": {"format": True, "environment": {}, "results": []},
                         "devices_str": {"format": 2, "environment": {"devices": "cpu"}, "results": []},
                         "nan_duration": {"environment": {}, "results": [dict(row, duration_s=float("nan"))]},
                         "bool_duration": {"environment": {}, "results": [dict(row, duration_s=True)]},
                         "str_error": {"environment": {}, "results": [dict(row, comparisons=[
                             {"what": "x", "max_abs_err": "0.1", "max_rel_err": 0.1}])]}}.items():
        (work / f"{name}.json").write_text(json.dumps(record))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    return work


#: manifests for the --expect rows, written into the work directory (the rows name them relative to it)
MANIFESTS = {
    "m_top.toml": 'expected = 1\n',
    "m_table.toml": '[expect]\ndevice = "cpu"\n',
    "m_key.toml": '# a comment\n\n[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeats"]\noutcome = "fail"\n'
                  'reasons = "typo"\n',
    "m_noreason.toml": '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeats"]\noutcome = "fail"\n',
    "m_blank.toml": '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeats"]\noutcome = "skip"\nreason = " "\n',
    "m_outcome.toml": '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeats"]\noutcome = "xfail"\nreason = "r"\n',
    "m_glob.toml": '[[expect]]\ndevice = "cpu"\nunits = ["models.cnv.*"]\noutcome = "fail"\nreason = "r"\n',
    "m_id.toml": '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeat"]\noutcome = "fail"\nreason = "r"\n',
    "m_units.toml": '[[expect]]\ndevice = "cpu"\nunits = "tensors.seed.repeats"\noutcome = "fail"\nreason = "r"\n',
    "m_device.toml": '[[expect]]\ndevice = "cdua"\nunits = ["tensors.seed.repeats"]\noutcome = "fail"\nreason = "r"\n',
    "m_index.toml": '[[expect]]\ndevice = "cuda:1"\nunits = ["tensors.seed.repeats"]\noutcome = "fail"\nreason = "r"\n',
    "m_twice.toml": '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.*"]\noutcome = "fail"\nreason = "r"\n\n'
                    '[[expect]]\ndevice = "cpu"\nunits = ["tensors.seed.repeats"]\noutcome = "skip"\nreason = "r"\n',
    "m_record.json": json.dumps({"format": 2, "environment": {"devices": ["cpu"]}, "results": [
        {"unit": "tensors.seed.repeats", "device": "cpu", "outcome": "failed", "duration_s": 0.1}]}),
}


@pytest.fixture(autouse=True)
def manifests(workdir):
    for name, text in MANIFESTS.items():
        (workdir / name).write_text(text)


def _fill(text: str, work: Path) -> str:
    return text.format(file=work / "afile", dir=work / "adir", shared=work.parent / "shared", missing=work / "missing",
                       not_json=work / "not_json.json", json_list=work / "list.json", json_row=work / "row.json",
                       site=work.parent / "site", fifo=work / "fifo", trainout=work / "trainout",
                       **{name: work / f"{name}.json" for name in ("deep", "format_true", "devices_str", "nan_duration",
                                                                   "bool_duration", "str_error")})


def _snapshot(work: Path) -> dict:
    return {str(p.relative_to(work)): p.stat().st_size for p in sorted(work.rglob("*"))}


#: The default loop runs the first cases of each command, so every command's start-up and exit (and
#: what a torch release prints to stderr there) is checked in every env; the rest are marked slow, each
#: being a subprocess of its own, and run with --runslow (CI runs every case).
QUICK_PER_COMMAND = 3
#: and the one that imports torchvision (and with it Triton) on the way to its error
ALWAYS_QUICK = {"run: download without network"}


def _cases():
    seen: dict[str, int] = {}
    for name in CASES:
        command = name.split(":")[0]
        seen[command] = seen.get(command, 0) + 1
        quick = seen[command] <= QUICK_PER_COMMAND or name in ALWAYS_QUICK
        yield pytest.param(name, marks=() if quick else pytest.mark.slow)


@pytest.mark.parametrize("case", list(_cases()))
def test_bad_input_is_one_clear_line_and_writes_nothing(case, workdir, tmp_path):
    argv, extra_env, code, message = CASES[case]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({k: _fill(v, workdir) for k, v in extra_env.items()})
    env.setdefault("REFSUITE_CACHE", str(tmp_path / "cache"))
    before = _snapshot(workdir)
    done = subprocess.run([sys.executable, "-m", "refsuite", *[_fill(a, workdir) for a in argv]], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == code, f"exit {done.returncode}, expected {code}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if re.search(message, line)]
    assert errors, f"no line matches {message!r}:\n{output[-3000:]}"
    assert len([line for line in done.stderr.splitlines() if line.strip()]) <= 1, f"more than one line:\n{done.stderr}"
    assert _snapshot(workdir) == before, "bad input must not write anything where the user works"
