"""Every command-line option and ini key of the plugin, declared once in `OPTIONS`.

`plugin.pytest_addoption` adds them from the table, `settings_from_config` reads them from the
same table into one frozen `Settings` (checked at configure time, so a typo fails in a second,
not after the whole suite ran). Where an option and an ini key set the same thing (timing
defaults, budget scale), the option wins. Importing this module does not import TensorFlow.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from pytest_tfperf.errors import ConfigError

PREPROCESS_DEFAULT = "auto"

__all__ = ["OPTIONS", "Option", "Settings", "check_output_path", "parse_input_shape",
           "parse_shape_items", "settings_from_config"]


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its `Settings` field, its command-line flag and/or ini key, how to read it.

    `kind`: "flag" (store_true), "text", "names" (comma list), "shape", "int", "float",
    "append" (repeatable option), "threads" (0 -> TensorFlow's choice), "bool" (ini
    true/false). `default`: the value when neither the flag nor the ini key is given. Numbers
    must be finite and >= `minimum` (> `minimum` when `exclusive`).
    """

    field: str
    help: str
    flag: str | None = None
    ini: str | None = None
    kind: str = "text"
    metavar: str | None = None
    minimum: float | None = None
    ini_help: str | None = None
    nargs: str | None = None
    const: Any = None
    default: Any = None
    exclusive: bool = False   # the value must be > minimum, not >= minimum


OPTIONS: tuple[Option, ...] = (
    Option("report", "print the tfperf latency/model tables after the run", flag="--tfperf-report", kind="flag"),
    Option("profile", "with --tfperf-report: include the per-node-type tables of profiled models",
           flag="--tfperf-profile", kind="flag"),
    Option("json_path", "write results as JSON (a superset of pytest-benchmark's format)",
           flag="--tfperf-json", metavar="PATH"),
    Option("markdown_path", "write results as Markdown", flag="--tfperf-markdown", metavar="PATH"),
    Option("html_path", "write a self-contained HTML report", flag="--tfperf-html", metavar="PATH"),
    Option("save", "store this run under .tfperf/ as NAME", flag="--tfperf-save", metavar="NAME"),
    Option("compare", "compare with a stored run (the latest when no name is given)",
           flag="--tfperf-compare", metavar="NAME|PATH", nargs="?", const="latest"),
    Option("history", "append this run to the run history store PATH (SQLite); "
           "--tfperf-compare history judges against it", flag="--tfperf-history",
           ini="tfperf_history", metavar="PATH", ini_help="the run history store (SQLite file)"),
    Option("compare_fail", "fail tests that regressed, e.g. median:10%% or p90:5ms (repeatable)",
           flag="--tfperf-compare-fail", metavar="EXPR", kind="append"),
    Option("compare_noise", "between-run floor per run, in %%, that comparisons add to the blocks' "
           "own spread (default 4)", flag="--tfperf-compare-noise", ini="tfperf_compare_noise",
           kind="float", metavar="PCT", minimum=0,
           ini_help="between-run floor per run in % for baseline comparisons (default 4)"),
    Option("normalize", "time a reference workload and compare ratios model / reference with "
           "the baseline's", flag="--tfperf-normalize", kind="flag"),
    Option("budget_scale", "multiply latency budgets by X (slower CI runners)", flag="--tfperf-budget-scale",
           ini="tfperf_budget_scale", kind="float", metavar="X", minimum=0, exclusive=True,
           ini_help="multiply latency budgets by this factor (slower CI runners)"),
    Option("disabled", "run each measurement once and do not enforce budgets (fast smoke mode)",
           flag="--tfperf-disable", kind="flag"),
    Option("warmup", "warm-up runs before timing", flag="--tfperf-warmup", ini="tfperf_warmup",
           kind="int", metavar="N", minimum=0),
    Option("min_time", "minimum seconds of timing", flag="--tfperf-min-time", ini="tfperf_min_time",
           kind="float", metavar="S", minimum=0, ini_help="minimum seconds of timed runs"),
    Option("max_time", "maximum seconds of timing (> 0, at least the min time)", flag="--tfperf-max-time",
           ini="tfperf_max_time", kind="float", metavar="S", minimum=0, exclusive=True,
           ini_help="maximum seconds of timed runs (> 0, at least the min time)"),
    Option("min_runs", "minimum timed runs", flag="--tfperf-min-runs", ini="tfperf_min_runs",
           kind="int", metavar="N", minimum=1),
    Option("model", "model reference for the frozen_graph fixture (.pb, .pbtxt, SavedModel dir, .keras, "
           "checkpoint)", ini="tfperf_model"),
    Option("inputs", "comma-separated input tensor names (default: detected placeholders)",
           ini="tfperf_inputs", kind="names"),
    Option("outputs", "comma-separated output tensor names (default: detected)", ini="tfperf_outputs",
           kind="names"),
    Option("input_shape", "pin unknown input dims: '1,224,224,3' or '1x224x224x3' (';' between inputs, "
           "optional 'name=')",
           ini="tfperf_input_shape", kind="shape"),
    Option("sample_image", "image file for the sample_image fixture (jpeg/png/bmp/gif)",
           ini="tfperf_sample_image"),
    Option("preprocess", "sample image preprocessing: auto (the range the model expects; default), "
           "none, unit, tf, caffe, torch or 'scale=S,offset=O'",
           ini="tfperf_preprocess"),
    Option("dataset", "folder of images (or .npy/.npz) for equivalence checks over many inputs "
           "(the tfperf_dataset fixture)", ini="tfperf_dataset"),
    Option("blocks", "timing blocks per measurement (default 8; comparisons replicate on them)",
           ini="tfperf_blocks", kind="int", minimum=1),
    Option("fresh_blocks", "true: time each block on a fresh TF session (sharing the minimum time)",
           ini="tfperf_fresh_blocks", kind="bool"),
    Option("cpus", "pin the process to these CPUs while timing, e.g. '1' or '0,1' (default: not "
           "pinned)", ini="tfperf_cpus", kind="names"),
    Option("intra_op_threads", "TensorFlow intra-op threads for tfperf sessions (default 1: steady under "
           "CI contention; 0: TF default, one per core)", ini="tfperf_intra_op_threads", kind="threads"),
    Option("inter_op_threads", "TensorFlow inter-op threads for tfperf sessions (default/0: with one "
           "intra-op thread every op runs inline in the calling thread, else TF default; N: a pool of N)",
           ini="tfperf_inter_op_threads", kind="threads"),
    Option("tflite_threads", "TFLite interpreter threads for .tflite models tfperf loads or converts "
           "(default 1, like the TensorFlow sessions)", ini="tfperf_tflite_threads", kind="int",
           minimum=1, default=1),
    Option("clock", "the clock that judges budgets and comparisons: wall, cpu (CPU time of the "
           "threads that run the model) or auto (default: cpu for TF sessions and LiteRT with one "
           "compute thread, wall elsewhere)", flag="--tfperf-clock", ini="tfperf_clock",
           metavar="wall|cpu|auto", default="auto"),
    Option("tflite_xnnpack", "apply LiteRT's XNNPACK delegate to TFLite models: true (default) or "
           "false (the builtin kernels alone)", ini="tfperf_tflite_xnnpack", kind="bool",
           default=True),
)

INI_KEYS = {o.ini: (o.ini_help or o.help) for o in OPTIONS if o.ini}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every option and ini key the plugin reads, parsed and checked once at configure time.

    Renderers and the compare step read it too (`report`, `json_path`, `compare`...): relative
    output paths are relative to the current directory (as pytest-benchmark does); `.tfperf/`
    lives in `rootdir`. `compare` is None when not comparing, "" or "latest" for the latest run.
    """

    model: str | None = None
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    input_shape: tuple | None = None
    sample_image: str | None = None
    preprocess: str = PREPROCESS_DEFAULT
    # One intra-op thread by default: single-stream latency that a CPU-bound neighbour on another
    # core does not disturb (bench/bench_gate.py: 0/20 false failures under a hog vs 10/20 with
    # TF's default of one thread per core). ini `tfperf_intra_op_threads = 0` restores TF's default.
    intra_op_threads: int | None = 1
    inter_op_threads: int | None = None
    tflite_threads: int = 1
    tflite_xnnpack: bool = True
    budget_scale: float = 1.0
    compare_noise: float | None = None  # percent; None: blocks.DEFAULT_RUN_NOISE
    normalize: bool = False
    blocks: int | None = None
    fresh_blocks: bool | None = None
    cpus: tuple[str, ...] | None = None
    disabled: bool = False
    warmup: int | None = None
    min_time: float | None = None
    max_time: float | None = None
    min_runs: int | None = None
    report: bool = False
    profile: bool = False
    json_path: str | None = None
    markdown_path: str | None = None
    html_path: str | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: tuple[str, ...] = ()
    rootdir: str = "."
    inidir: str = "."
    lock_path: str | None = None
    clock: str = "auto"
    history: str | None = None  # --tfperf-history / ini tfperf_history: the run store
    dataset: str | None = None  # ini tfperf_dataset: a folder of images (relative to the inifile)

    @property
    def reporting(self) -> bool:
        """Whether anything will be rendered or stored (so model summaries are worth computing)."""
        return bool(self.report or self.json_path or self.markdown_path or self.html_path
                    or self.save or self.compare)

    @property
    def comparing(self) -> bool:
        """Whether this run is compared with a stored one."""
        return self.compare is not None

    @property
    def storage(self) -> Path:
        """The folder of stored runs (`<rootdir>/.tfperf`)."""
        from pytest_tfperf.baseline import DEFAULT_ROOT

        return Path(self.rootdir or ".") / DEFAULT_ROOT

    def timing_settings(self):
        from pytest_tfperf.timing.settings import TimingSettings

        return TimingSettings(disabled=self.disabled, lock_path=self.lock_path,
                              clock=self.clock, reference=self.normalize).replace(
            warmup=self.warmup, min_time=self.min_time, max_time=self.max_time,
            min_runs=self.min_runs, blocks=self.blocks, fresh_blocks=self.fresh_blocks,
            cpus=parse_cpus(self.cpus) if self.cpus else None)


def add_options(parser) -> None:
    """Declare `OPTIONS` on pytest's parser (options in the tfperf group, and ini keys)."""
    group = parser.getgroup("tfperf", "TensorFlow model performance (pytest-tfperf)")
    types = {"int": int, "float": float}
    for o in OPTIONS:
        if o.flag:
            kwargs: dict[str, Any] = {"help": o.help, "default": None}
            if o.kind == "flag":
                kwargs.update(action="store_true", default=False)
            elif o.kind == "append":
                kwargs.update(action="append", default=[], metavar=o.metavar)
            else:
                kwargs.update(metavar=o.metavar)
                if o.kind in types:
                    kwargs["type"] = types[o.kind]
                if o.nargs:
                    kwargs.update(nargs=o.nargs, const=o.const)
            group.addoption(o.flag, **kwargs)
    for name, help_text in INI_KEYS.items():
        parser.addini(name, help_text, default="")


def _ini(config, name: str) -> str | None:
    value = config.getini(name)
    if isinstance(value, list):
        value = ",".join(value)
    value = (value or "").strip()
    return value or None


_WHY = {  # what a bad value would do, for the error message
    "budget_scale": "a factor on every latency budget, e.g. 2 for a runner twice as slow: inf would "
                    "pass every gate, nan fail every gate",
    "max_time": "the cap on each measurement's timed runs: 0 stops after one call, so a latency "
                "gate would rest on a single sample",
}


def _number(text: str | None, name: str, kind, *, minimum: float | None = None, source="ini",
            exclusive: bool = False, field: str = ""):
    if text is None:
        return None
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{source} {name} must be a{'n integer' if kind is int else ' number'}. "
                          f"Received: {name}={text!r}") from None
    why = f" ({_WHY[field]})" if field in _WHY else ""
    if not math.isfinite(value):
        raise ConfigError(f"{source} {name} must be a finite number{why}. Received: {name}={text!r}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise ConfigError(f"{source} {name} must be {'>' if exclusive else '>='} {minimum:g}{why}. "
                          f"Received: {name}={text!r}")
    return value


def _names(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    return tuple(n.strip() for n in text.replace(";", ",").split(",") if n.strip()) or None


def parse_input_shape(text: str | None, source: str = "ini tfperf_input_shape"):
    """'1,224,224,3' or '1,224,224,3; 1,10' or 'input_node=1,224,224,3' -> load(input_shapes=...)."""
    if not text:
        return None
    return parse_shape_items([p for p in text.split(";") if p.strip()], source)


def parse_shape_items(items, source: str):
    """['1,224,224,3'] -> [[1, 224, 224, 3]]; ['x=1,2'] -> {'x': [1, 2]}; [] -> None.

    `ConfigError` names `source` (the ini key or option) and the value received.
    """
    if not items:
        return None
    named, positional = {}, []
    for item in items:
        name, _, dims = item.strip().rpartition("=")
        shape = _dims(dims, item, source)
        if name:
            named[name.strip()] = shape
        else:
            positional.append(shape)
    if named and positional:
        raise ConfigError(f"{source}: give all shapes with names or all without. Received: {list(items)!r}")
    return named or positional


def _dims(text: str, item: str, source: str) -> list[int]:
    """'1,224,224,3' or '1x224x224x3' -> [1, 224, 224, 3]; one separator kind, every part a
    positive integer ('1,x,28,1' is an error, not [1, 28, 1])."""
    text = text.strip()
    sep = "," if "," in text or "x" not in text else "x"
    parts = [p.strip() for p in text.split(sep)]
    if sep == "," and parts and parts[-1] == "":
        parts = parts[:-1]  # a trailing comma is harmless
    bad = [p for p in parts if not p.isdigit() or int(p) < 1]
    if not parts or bad:
        what = (f"{bad[0]!r} is not a dimension" if bad and bad[0] else "it has an empty dimension") \
            if parts else "it is empty"
        raise ConfigError(f"{source} {item.strip()!r} is not a shape: {what}. Give positive integers "
                          "separated by ',' (or all by 'x'), e.g. 1,224,224,3 or 1x224x224x3, with "
                          f"'name=' before it to pick an input (';' between inputs in the ini key). "
                          f"Received: {item!r}")
    return [int(p) for p in parts]


_THREAD_DEFAULTS = {"intra_op_threads": 1, "inter_op_threads": None}


def _read(config, o: Option) -> Any:
    """The value of one option: its flag's when given, else its ini key's, parsed by kind."""
    if o.flag:
        value = config.getoption(_dest(o.flag))
        if o.kind == "flag":
            return bool(value)
        if o.kind == "append":
            return tuple(value or ())
        if value is not None:
            if o.kind in ("int", "float"):  # a number already: its range is checked here
                return _number(str(value), o.flag, int if o.kind == "int" else float, source="option",
                               minimum=o.minimum, exclusive=o.exclusive, field=o.field)
            return value
    if not o.ini:
        return None
    text = _ini(config, o.ini)
    if o.kind == "names":
        return _names(text)
    if o.kind == "shape":
        return parse_input_shape(text)
    if o.kind == "threads":  # unset -> default; 0 -> None (TensorFlow's own choice); N -> N
        value = _number(text, o.ini, int, minimum=0)
        return _THREAD_DEFAULTS[o.field] if value is None else (value or None)
    if o.kind in ("int", "float"):
        return _number(text, o.ini, int if o.kind == "int" else float, minimum=o.minimum,
                       exclusive=o.exclusive, field=o.field)
    if o.kind == "bool":
        return _boolean(text, o.ini)
    return text


_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True,
             "false": False, "no": False, "off": False, "0": False}


def _boolean(text: str | None, name: str) -> bool | None:
    if text is None:
        return None
    if text.lower() not in _BOOLEANS:
        raise ConfigError(f"ini {name} must be true or false. Received: {name}={text!r}")
    return _BOOLEANS[text.lower()]


def parse_cpus(items) -> tuple[int, ...]:
    """('1',) or ('0-1', '3') -> (1,) / (0, 1, 3): CPU numbers for ini tfperf_cpus."""
    out: list[int] = []
    for item in items:
        first, _, last = str(item).strip().partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise ConfigError(f"ini tfperf_cpus must list CPU numbers or ranges, e.g. 1 or 0-1,3. "
                              f"Received: tfperf_cpus={','.join(map(str, items))!r}") from None
        out.extend(range(lo, hi + 1))
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else out
    missing = sorted(set(out) - set(available))
    if missing or not out:
        raise ConfigError(f"ini tfperf_cpus names CPUs this process cannot use: {missing or out} "
                          f"(available: {available}). Received: tfperf_cpus="
                          f"{','.join(map(str, items))!r}")
    return tuple(sorted(set(out)))


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def settings_from_config(config) -> Settings:
    """Read and check `OPTIONS` from pytest's config; `ConfigError` names the bad key and value."""
    inidir = str(config.inipath.parent) if getattr(config, "inipath", None) else str(config.rootpath)
    values = {o.field: _read(config, o) for o in OPTIONS}
    values.update({o.field: o.default for o in OPTIONS
                   if o.default is not None and values[o.field] is None})
    scale = values["budget_scale"]  # finite and > 0: checked by _read
    values["budget_scale"] = scale if scale is not None else 1.0
    values["preprocess"] = values["preprocess"] or PREPROCESS_DEFAULT
    from pytest_tfperf.inputs.presets import parse_preprocess

    parse_preprocess(values["preprocess"])  # raises ConfigError naming tfperf_preprocess
    values["clock"] = str(values["clock"]).strip().lower()
    from pytest_tfperf.timing.settings import CLOCK_CHOICES

    if values["clock"] not in CLOCK_CHOICES:
        import difflib

        close = difflib.get_close_matches(values["clock"], CLOCK_CHOICES, n=1)
        raise ConfigError(f"--tfperf-clock / ini tfperf_clock must be one of {', '.join(CLOCK_CHOICES)}"
                          f"{f' (did you mean {close[0]!r}?)' if close else ''}: wall judges what a "
                          f"user waits for, cpu the model threads' own work. "
                          f"Received: {values['clock']!r}")
    if values["cpus"]:
        parse_cpus(values["cpus"])  # a bad CPU list fails at start-up, not at the first timing
    if values["compare_noise"] is not None and not 0 <= values["compare_noise"] < 100:
        raise ConfigError(f"--tfperf-compare-noise / ini tfperf_compare_noise is a percentage "
                          f"below 100, e.g. 4. Received: {values['compare_noise']!r}")
    settings = Settings(**values, rootdir=str(config.rootpath), inidir=inidir)
    for option, path in (("--tfperf-json", settings.json_path), ("--tfperf-markdown", settings.markdown_path),
                         ("--tfperf-html", settings.html_path)):
        check_output_path(option, path)
    if settings.save is not None:
        from pytest_tfperf.baseline import DEFAULT_ROOT, _slug, machine_id

        _slug(settings.save)  # a bad name is a usage error now, not a crash after the whole run
        check_output_path("--tfperf-save", os.path.join(settings.rootdir, DEFAULT_ROOT, machine_id(),
                                                        f"NNNN_{settings.save}.json"), received=settings.save)
    _check_time_window(settings)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # xdist worker: serialise timing sections across workers
        uid = workerinput.get("testrunuid", "run")
        settings = dataclasses.replace(
            settings, lock_path=os.path.join(tempfile.gettempdir(), f"tfperf-timing-{uid}.lock"))
    return settings


def _check_time_window(settings: Settings) -> None:
    """max time >= min time, counting the engine's defaults for the one that is not set: a cap
    below the minimum would silently win over it (sampling stops on max time)."""
    from pytest_tfperf.timing.settings import TimingSettings

    defaults = TimingSettings()
    low = settings.min_time if settings.min_time is not None else defaults.min_time
    high = settings.max_time if settings.max_time is not None else defaults.max_time
    if high < low:
        def said(value, default):
            return f"{value} s" if value is not None else f"{default} s (the default)"
        raise ConfigError(f"max time {said(settings.max_time, defaults.max_time)} (--tfperf-max-time or "
                          f"ini tfperf_max_time) is below min time {said(settings.min_time, defaults.min_time)} "
                          "(--tfperf-min-time or ini tfperf_min_time): sampling would stop before its "
                          "minimum. Raise max-time or lower min-time.")


def check_output_path(option: str, path: str | None, received: str | None = None) -> None:
    """`ConfigError` when `path` cannot be written (`atomic.unwritable`: a directory, a parent
    that is a file, a read-only folder).

    `received` is what the user typed when it differs from `path` (default: `path`).
    """
    from pytest_tfperf.atomic import unwritable

    problem = unwritable(path) if path else None
    if problem is None:
        return
    received = path if received is None else received
    culprit, what = problem
    if what == "is a directory":
        raise ConfigError(f"{option}: {path!r} is a directory; give a file path inside it. "
                          f"Received: {option}={received}")
    raise ConfigError(f"{option}: cannot write {path!r} because {culprit!r} {what}. "
                      f"Received: {option}={received}")


def rel_path(path: str, root: str | os.PathLike) -> str:
    """`path` relative to the project root when inside it (paths in reports), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except (ValueError, OSError):
        return str(path)
