"""Run-wide state of the plugin: settings from options/ini, the model cache, the results.

One `TfperfSession` per pytest process (each xdist worker has its own; the controller merges
results). Nothing here imports TensorFlow at import time.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import weakref
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .results import SessionResults

PREPROCESS_DEFAULT = "none"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every option and ini key the plugin reads, parsed and checked once at configure time."""

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
    budget_scale: float = 1.0
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

    @property
    def reporting(self) -> bool:
        """Whether anything will be rendered or stored (so model summaries are worth computing)."""
        return bool(self.report or self.json_path or self.markdown_path or self.html_path
                    or self.save or self.compare)

    def timing_settings(self):
        from .timing import TimingSettings

        return TimingSettings(disabled=self.disabled, lock_path=self.lock_path).replace(
            warmup=self.warmup, min_time=self.min_time, max_time=self.max_time,
            min_runs=self.min_runs)


def _ini(config, name: str) -> str | None:
    value = config.getini(name)
    if isinstance(value, list):
        value = ",".join(value)
    value = (value or "").strip()
    return value or None


def _number(text: str | None, name: str, kind, *, minimum: float | None = None, source="ini"):
    if text is None:
        return None
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{source} {name} must be a{'n integer' if kind is int else ' number'}. "
                          f"Received: {name}={text!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{source} {name} must be >= {minimum}. Received: {name}={text!r}")
    return value


def _threads(value: int | None, *, default: int | None) -> int | None:
    """ini thread count: unset -> `default`; 0 -> None (TensorFlow's own choice); N -> N."""
    if value is None:
        return default
    return value or None


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
        try:
            shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            raise ConfigError(f"{source} {item.strip()!r} is not a shape: use e.g. 1,224,224,3 or "
                              f"input_node=1,224,224,3 (';' between inputs in the ini key). "
                              f"Received: {item!r}") from None
        if name:
            named[name.strip()] = shape
        else:
            positional.append(shape)
    if named and positional:
        raise ConfigError(f"{source}: give all shapes with names or all without. Received: {list(items)!r}")
    return named or positional


def settings_from_config(config) -> Settings:
    """Read and check options and ini keys; `ConfigError` names the bad key and value."""
    opt = config.getoption
    inidir = str(config.inipath.parent) if getattr(config, "inipath", None) else str(config.rootpath)
    scale_opt = opt("tfperf_budget_scale")
    scale = _number(str(scale_opt), "--tfperf-budget-scale", float, source="option") \
        if scale_opt is not None else _number(_ini(config, "tfperf_budget_scale"), "tfperf_budget_scale", float)
    if scale is not None and scale <= 0:
        where = "--tfperf-budget-scale" if scale_opt is not None else "ini tfperf_budget_scale"
        raise ConfigError(f"{where} must be > 0 (a factor on every latency budget, e.g. 2 for a "
                          f"runner twice as slow). Received: {scale!r}")
    preprocess = _ini(config, "tfperf_preprocess") or PREPROCESS_DEFAULT
    from .presets import parse_preprocess

    parse_preprocess(preprocess)  # raises ConfigError naming tfperf_preprocess
    warmup = opt("tfperf_warmup")
    min_time = opt("tfperf_min_time")
    max_time = opt("tfperf_max_time")
    min_runs = opt("tfperf_min_runs")
    settings = Settings(
        model=_ini(config, "tfperf_model"),
        inputs=_names(_ini(config, "tfperf_inputs")),
        outputs=_names(_ini(config, "tfperf_outputs")),
        input_shape=parse_input_shape(_ini(config, "tfperf_input_shape")),
        sample_image=_ini(config, "tfperf_sample_image"),
        preprocess=preprocess,
        intra_op_threads=_threads(_number(_ini(config, "tfperf_intra_op_threads"),
                                          "tfperf_intra_op_threads", int, minimum=0), default=1),
        inter_op_threads=_threads(_number(_ini(config, "tfperf_inter_op_threads"),
                                          "tfperf_inter_op_threads", int, minimum=0), default=None),
        budget_scale=scale if scale is not None else 1.0,
        disabled=bool(opt("tfperf_disable")),
        warmup=warmup if warmup is not None else _number(_ini(config, "tfperf_warmup"), "tfperf_warmup", int, minimum=0),
        min_time=min_time if min_time is not None else _number(_ini(config, "tfperf_min_time"), "tfperf_min_time",
                                                               float, minimum=0),
        max_time=max_time if max_time is not None else _number(_ini(config, "tfperf_max_time"), "tfperf_max_time",
                                                               float, minimum=0),
        min_runs=min_runs if min_runs is not None else _number(_ini(config, "tfperf_min_runs"), "tfperf_min_runs",
                                                               int, minimum=1),
        report=bool(opt("tfperf_report")),
        profile=bool(opt("tfperf_profile")),
        json_path=opt("tfperf_json"),
        markdown_path=opt("tfperf_markdown"),
        html_path=opt("tfperf_html"),
        save=opt("tfperf_save"),
        compare=opt("tfperf_compare"),
        compare_fail=tuple(opt("tfperf_compare_fail") or ()),
        rootdir=str(config.rootpath),
        inidir=inidir,
    )
    for name, value in (("--tfperf-warmup", settings.warmup), ("--tfperf-min-runs", settings.min_runs),
                        ("--tfperf-min-time", settings.min_time), ("--tfperf-max-time", settings.max_time)):
        if value is not None and value < 0:
            raise ConfigError(f"{name} must be >= 0. Received: {value!r}")
    for option, path in (("--tfperf-json", settings.json_path), ("--tfperf-markdown", settings.markdown_path),
                         ("--tfperf-html", settings.html_path)):
        check_output_path(option, path)
    if settings.save is not None:
        from .baseline import DEFAULT_ROOT, _slug, machine_id

        _slug(settings.save)  # a bad name is a usage error now, not a crash after the whole run
        check_output_path("--tfperf-save", os.path.join(settings.rootdir, DEFAULT_ROOT, machine_id(),
                                                        f"NNNN_{settings.save}.json"), received=settings.save)
    if settings.max_time is not None and settings.min_time is not None and settings.max_time < settings.min_time:
        raise ConfigError(f"max time {settings.max_time} s (--tfperf-max-time or ini tfperf_max_time) is "
                          f"below min time {settings.min_time} s (--tfperf-min-time or ini "
                          "tfperf_min_time); raise max-time or lower min-time.")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # xdist worker: serialise timing sections across workers
        uid = workerinput.get("testrunuid", "run")
        settings = dataclasses.replace(
            settings, lock_path=os.path.join(tempfile.gettempdir(), f"tfperf-timing-{uid}.lock"))
    return settings


def check_output_path(option: str, path: str | None, received: str | None = None) -> None:
    """`ConfigError` when `path` can never be written: it is a directory, or a parent is a file.

    Checked at configure time so a typo fails in a second, not after the whole suite ran.
    `received` is what the user typed when it differs from `path` (default: `path`).
    """
    if not path:
        return
    received = path if received is None else received
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{option}: {path!r} is a directory; give a file path inside it. "
                          f"Received: {option}={received}")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option}: cannot write {path!r} because {str(parent)!r} is a "
                                  f"file, not a directory. Received: {option}={received}")
            return


class TfperfSession:
    """Settings, the per-session model cache, and the results of one pytest process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.results = SessionResults()
        self.baseline: dict | None = None
        self.thresholds: list = []
        self._models: dict[Any, Any] = {}
        self._summarized = weakref.WeakSet()  # models whose row is recorded
        # model -> {(image path, preprocess): fitted sample image}; a dropped model frees its images
        self.images: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def resolve_path(self, ref: str, base: str | os.PathLike | None = None) -> str:
        """A relative model/image path, tried against `base` (the test's folder), then rootdir/inidir."""
        if os.path.isabs(ref):
            return ref
        for folder in (base, self.settings.inidir, self.settings.rootdir):
            if folder is None:
                continue
            candidate = os.path.join(os.fspath(folder), ref)
            if os.path.exists(candidate) or os.path.exists(candidate + ".meta"):
                return candidate
        return os.path.join(os.fspath(base or self.settings.rootdir), ref)

    def load_model(self, ref, base: str | os.PathLike | None = None, **load_kwargs):
        """`load()` cached per session by reference and load arguments (a model loads once)."""
        from .model import load

        if callable(ref) and not _is_model_object(ref):
            key = ("builder", id(ref), _freeze(load_kwargs))
            if key not in self._models:
                self._models[key] = (ref, self._configure(load(ref(), **load_kwargs)))
            return self._models[key][1]
        if isinstance(ref, (str, os.PathLike)):
            ref = self.resolve_path(os.fspath(ref), base)
            key = ("path", ref, _freeze(load_kwargs))
        else:
            key = ("object", id(ref), _freeze(load_kwargs))
        if key not in self._models:
            # keep `ref` alive in the value so id() keys stay unique for the session
            self._models[key] = (ref, self._configure(load(ref, **load_kwargs)))
        return self._models[key][1]

    def _configure(self, fg):
        fg.set_threads(self.settings.intra_op_threads, self.settings.inter_op_threads)
        return fg

    def first_time_summarized(self, fg) -> bool:
        """True once per model object: model rows are recorded once per session."""
        if fg in self._summarized:
            return False
        self._summarized.add(fg)
        return True

    def close(self) -> None:
        for _, fg in self._models.values():
            fg.close()
        self._models.clear()
        self.images.clear()


def _is_model_object(obj) -> bool:
    mod = type(obj).__module__ or ""
    return "tensorflow" in mod or "keras" in mod or hasattr(obj, "get_concrete_function")


def _freeze(kwargs: dict) -> tuple:
    def hashable(v):
        if isinstance(v, dict):
            return tuple(sorted((k, hashable(x)) for k, x in v.items()))
        if isinstance(v, (list, tuple)):
            return tuple(hashable(x) for x in v)
        return v

    return hashable(kwargs)


def rel_path(path: str, root: str | os.PathLike) -> str:
    """`path` relative to the project root when inside it (paths in reports), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except (ValueError, OSError):
        return str(path)
