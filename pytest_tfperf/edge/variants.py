"""`variants(model, inputs=None)`: seed 002's comparison table, built and timed in one process.

Rows: the source (Keras `predict` and `model(x)`, or the SavedModel signature), the frozen
graph, the optimized graph (`pytest_tfperf.optimize`), the graph with TensorFlow's
`quantize_weights` transform, and TFLite fp32 / fp16 / dynamic-range / int8. Every row is timed
in round-robin blocks (one short `timing.measure` block of each variant per round; the median of
the block medians), so a burst of load on a shared machine hits every variant alike. Errors and
top-1 agreement are against the source's outputs on the same inputs. For int8, TensorFlow's
`QuantizationDebugger` names the layers with the largest quantization error (ranked by
RMSE / scale, the error in quantization steps, as TF's debugger guide does).

A variant that cannot be built or run is a row with `error` set; the table is still returned.
"""
from __future__ import annotations

import dataclasses
import io
import os
import time
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pytest_tfperf.errors import ConfigError

ROWS = ("keras predict", "keras model(x)", "saved_model signature", "frozen graph",
        "optimized graph", "graph quantize_weights", "tflite fp32", "tflite fp16",
        "tflite dynamic", "tflite int8")
_TFLITE = {"tflite fp32": "none", "tflite fp16": "float16", "tflite dynamic": "dynamic",
           "tflite int8": "int8"}


@dataclasses.dataclass(frozen=True)
class LayerError:
    """One int8 layer's quantization error on the debug data (QuantizationDebugger)."""

    op: str
    tensor: str
    max_abs_error: float
    rmse: float
    scale: float
    rmse_over_scale: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LayerError":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class VariantRow:
    """One way to run the model: how fast, how big, how far from the source."""

    variant: str                       # one of ROWS
    runtime: str                       # "keras 3.x", "tensorflow 2.21.0", "ai_edge_litert 2.3.0 xnnpack 1 thread"
    median_ms: float | None            # median of the per-round block medians
    round_medians_ms: tuple[float, ...]
    speedup_vs_source: float | None    # source median / this median
    speedup_vs_frozen: float | None
    size_bytes: int | None             # serialized size (None: not a file, e.g. Keras in memory)
    max_abs_err: float | None          # vs the source outputs on the inputs, worst output
    top1_agreement: float | None       # fraction of rows whose argmax agrees (classifier outputs)
    error: str | None = None           # why the variant could not be built, run or timed
    worst_layers: tuple[LayerError, ...] = ()   # int8 only
    # issue 21: over every judged input (the dataset, else the timed feed); errors and
    # top1_agreement above are then over them too, None when the comparison was refused
    p99_abs_err: float | None = None
    mean_abs_err: float | None = None
    worst_input: str | None = None
    top1_agree_count: int | None = None
    top1_rows: int | None = None
    top1_ci: tuple[float, float] | None = None  # 95% Wilson interval of top1_agreement

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["round_medians_ms"] = list(self.round_medians_ms)
        data["worst_layers"] = [w.to_dict() for w in self.worst_layers]
        data["top1_ci"] = list(self.top1_ci) if self.top1_ci is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VariantRow":
        kw = {f.name: data.get(f.name) for f in dataclasses.fields(cls)}
        kw["round_medians_ms"] = tuple(float(v) for v in data.get("round_medians_ms") or ())
        kw["worst_layers"] = tuple(LayerError.from_dict(w) for w in data.get("worst_layers") or ())
        kw["top1_ci"] = tuple(kw["top1_ci"]) if kw.get("top1_ci") else None
        return cls(**kw)


@dataclasses.dataclass(frozen=True)
class VariantTable:
    """The variant table of one model (`variants()`); rows in ROWS order."""

    model: str                 # the source model's identity (or name when it has none)
    name: str                  # display name
    inputs: str                # what the rows ran on: "given", "sample image", "synthetic"
    source: str                # the row the errors and `speedup_vs_source` refer to
    rounds: int
    rows: tuple[VariantRow, ...]
    notes: tuple[str, ...] = ()
    # the inputs every row ran on, as `timed_inputs.describe_inputs` words them: name, shape,
    # dtype, the dims tfperf chose, source (() in tables from before they were recorded)
    timed_inputs: tuple[dict, ...] = ()
    dataset: str | None = None      # what the errors were judged on when not the timed feed
    judged_inputs: int = 1
    refused: str | None = None      # why no error is given: the source's outputs prove nothing

    def row(self, variant: str) -> VariantRow:
        """The row called `variant` (KeyError naming the rows there are)."""
        for r in self.rows:
            if r.variant == variant:
                return r
        raise KeyError(f"no variant {variant!r} in the table of {self.name}; rows: "
                       + ", ".join(r.variant for r in self.rows))

    @property
    def fastest(self) -> str | None:
        timed = [r for r in self.rows if r.median_ms is not None]
        return min(timed, key=lambda r: r.median_ms).variant if timed else None

    def to_dict(self) -> dict:
        return {"model": self.model, "name": self.name, "inputs": self.inputs,
                "source": self.source, "rounds": self.rounds, "fastest": self.fastest,
                "notes": list(self.notes), "timed_inputs": [dict(i) for i in self.timed_inputs],
                "variants": [r.to_dict() for r in self.rows], "dataset": self.dataset,
                "judged_inputs": self.judged_inputs, "refused": self.refused}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VariantTable":
        return cls(model=data["model"], name=data["name"], inputs=data["inputs"],
                   source=data["source"], rounds=int(data["rounds"]),
                   rows=tuple(VariantRow.from_dict(r) for r in data["variants"]),
                   notes=tuple(data.get("notes") or ()),
                   timed_inputs=tuple(dict(i) for i in data.get("timed_inputs") or ()),
                   dataset=data.get("dataset"), judged_inputs=int(data.get("judged_inputs") or 1),
                   refused=data.get("refused"))


@dataclasses.dataclass
class _Built:
    variant: str
    runtime: str
    runner: Callable[[], Any] | None = None
    outputs: list | None = None         # float outputs on the inputs (for errors)
    size_bytes: int | None = None
    error: str | None = None
    worst_layers: tuple[LayerError, ...] = ()
    run: Callable[[dict], Any] | None = None  # outputs for any feed (judged.judge)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _path_size(path: str) -> int | None:
    if os.path.isfile(path):
        return os.path.getsize(path)
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return None


def _graph_size(fg) -> int:
    size = getattr(fg, "size_bytes", None)
    return int(size) if isinstance(size, int) else len(fg.graph_def.SerializeToString())


def _default_inputs(fg, inputs):
    """(inputs, label): the given ones, else `images.sample_feed` (the synthetic sample image for
    the image input, the input policy's arrays for the others)."""
    if inputs is not None:
        return inputs, "given"
    from pytest_tfperf.inputs.images import sample_feed

    feed = sample_feed(fg)
    return feed, "synthetic sample image" if "sample image" in feed.sources.values() else "synthetic"


def _as_list(out) -> list[np.ndarray]:
    if isinstance(out, Mapping):
        return [np.asarray(out[k]) for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return [np.asarray(out)]


def _compare(ref: list, got: list) -> tuple[float | None, float | None]:
    """(max abs error over outputs, top-1 agreement of the first [batch, classes] output)."""
    if ref is None or got is None or len(ref) != len(got):
        return None, None
    worst, top1 = 0.0, None
    for r, g in zip(ref, got):
        r = np.asarray(r, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        if r.shape != g.shape:
            return None, None
        if r.size:
            worst = max(worst, float(np.max(np.abs(r - g))))
        if top1 is None and r.ndim == 2 and r.shape[1] > 1:
            top1 = float(np.mean(np.argmax(r, axis=1) == np.argmax(g, axis=1)))
    return worst, top1


def _source_rows(fg, feed, wanted) -> list[_Built]:
    rows = []
    km = getattr(fg, "keras_model", None)
    if km is not None:
        import keras
        import tensorflow as tf

        version = f"keras {keras.__version__}"
        size = _path_size(fg.source) if not fg.source.startswith("<") else None
        def kx(f):
            x = [tf.convert_to_tensor(f[s.name]) for s in fg.inputs]
            return x[0] if len(x) == 1 else x
        x = kx(feed)
        if "keras predict" in wanted:
            rows.append(_Built("keras predict", version, size_bytes=size,
                               runner=lambda: km.predict(x, verbose=0),
                               run=lambda f: _as_list(km.predict(kx(f), verbose=0))))
        if "keras model(x)" in wanted:
            rows.append(_Built("keras model(x)", version, size_bytes=size,
                               runner=lambda: _as_list(km(x, training=False)),
                               run=lambda f: _as_list(km(kx(f), training=False))))
    elif fg.kind == "saved_model" and "saved_model signature" in wanted:
        import tensorflow as tf

        row = _Built("saved_model signature", f"tensorflow {tf.__version__}",
                     size_bytes=_path_size(fg.source))
        try:
            loaded = tf.saved_model.load(fg.source)
            sigs = dict(loaded.signatures)
            fn = sigs.get("serving_default") or next(iter(sigs.values()))
            names = sorted(fn.structured_input_signature[1])
            by_node = {s.name.split(":")[0]: feed[s.name] for s in fg.inputs}
            values = [feed[s.name] for s in fg.inputs]
            kwargs = {n: tf.convert_to_tensor(by_node.get(n, values[k] if k < len(values) else None))
                      for k, n in enumerate(names)}
            row.runner = lambda: _as_list(fn(**kwargs))
            row._keep = loaded  # keep the trackable alive while its function runs
        except Exception as exc:  # noqa: BLE001 - a row with an error, not a crash
            row.error = _error_text(exc)
        rows.append(row)
    return rows


def _graph_rows(fg, feed, wanted, transforms, tf_version) -> list[_Built]:
    from pytest_tfperf.optimization import optimize, optimize_with_report

    rt = f"tensorflow {tf_version}"
    rows = []
    if "frozen graph" in wanted:
        rows.append(_Built("frozen graph", rt, runner=fg.make_callable(feed),
                           size_bytes=_graph_size(fg), run=fg.run))
    optimized = None
    if "optimized graph" in wanted or "graph quantize_weights" in wanted:
        row = _Built("optimized graph", rt)
        try:
            optimized = optimize(fg, transforms, check_inputs=feed)
            row.runner, row.size_bytes = optimized.make_callable(feed), _graph_size(optimized)
            row.run = optimized.run
        except Exception as exc:  # noqa: BLE001
            row.error = _error_text(exc)
        if "optimized graph" in wanted:
            rows.append(row)
    if "graph quantize_weights" in wanted:
        row = _Built("graph quantize_weights", rt)
        try:
            # tolerances wide open: the table reports the error, it does not veto the transform
            q, report = optimize_with_report(optimized or fg, ["quantize_weights"], atol=1e30,
                                             rtol=1e30, n_random=0)
            if report.dropped:
                raise RuntimeError(report.steps[-1].reason or "quantize_weights was dropped")
            row.runner, row.size_bytes, row.run = q.make_callable(feed), _graph_size(q), q.run
        except Exception as exc:  # noqa: BLE001
            row.error = _error_text(exc)
        rows.append(row)
    return rows


def _tflite_rows(fg, feed, wanted, representative, threads, use_xnnpack, debug_layers):
    from pytest_tfperf.model.runtimes import tflite_runtime_text
    from pytest_tfperf.edge.convert import check_representative, to_tflite

    rows = []
    for variant, mode in _TFLITE.items():
        if variant not in wanted:
            continue
        row = _Built(variant, "tflite")
        try:
            model = to_tflite(fg, quantize=mode, representative=representative if mode == "int8"
                              else None, num_threads=threads, use_xnnpack=use_xnnpack)
            row.runtime = tflite_runtime_text(model.runtime_info())
            row.runner, row.size_bytes = model.runner(feed), model.size_bytes
            row.outputs, row.run = model.run(feed), model.run
            if mode == "int8" and debug_layers:
                data = check_representative(fg, representative, needed=True)
                row.worst_layers = quantization_errors(fg, data, top=debug_layers)
        except Exception as exc:  # noqa: BLE001 - a row with an error, not a crash
            row.error = _error_text(exc)
        rows.append(row)
    return rows


def quantization_errors(fg, data: Sequence[Sequence[np.ndarray]], *, top: int = 5
                        ) -> tuple[LayerError, ...]:
    """The `top` int8 layers with the largest RMSE / scale on `data` (QuantizationDebugger)."""
    import tensorflow as tf

    from pytest_tfperf.edge.convert import _quiet_stdout, build_converter

    converter = build_converter(fg, "int8", data, int8_io=False)
    with warnings.catch_warnings(), _quiet_stdout():
        warnings.simplefilter("ignore")  # the debugger runs tf.lite.Interpreter (deprecated)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: iter([list(d) for d in data]))
        debugger.run()
        text = io.StringIO()
        debugger.layer_statistics_dump(text)
    import csv

    rows = []
    for rec in csv.DictReader(io.StringIO(text.getvalue())):
        scale = float(rec.get("scale") or 0.0)
        rmse = float(np.sqrt(max(float(rec.get("mean_squared_error") or 0.0), 0.0)))
        rows.append(LayerError(op=rec.get("op_name", ""), tensor=rec.get("tensor_name", ""),
                               max_abs_error=float(rec.get("max_abs_error") or 0.0), rmse=rmse,
                               scale=scale, rmse_over_scale=rmse / scale if scale else 0.0))
    rows.sort(key=lambda r: -r.rmse_over_scale)
    return tuple(rows[:top])


def variants(model, inputs=None, *, rows: Sequence[str] | None = None,
             representative=None, transforms=None, rounds: int = 5, min_time: float = 0.1,
             max_time: float = 0.3, warmup: int = 2, tflite_threads: int | None = 1,
             use_xnnpack: bool = True, debug_layers: int = 5,
             input_label: str | None = None, lock_path: str | None = None,
             dataset: Any = None, preprocess: Any = "auto") -> VariantTable:
    """Build every variant of `model`, time them interleaved, compare them with the source.

    Args:
        model: a `FrozenGraph` or anything `pytest_tfperf.load` accepts.
        inputs: what every row runs on (array, list or dict; a `SampleInputs` says which dims
            tfperf chose); None: `images.sample_feed` (a synthetic sample image for the image
            input, the input policy's arrays elsewhere). The table records the shapes timed.
        rows: a subset of `ROWS` (default all that apply to the model).
        representative: int8 calibration data; default `image_variants(inputs)` for a
            single-input model.
        transforms: the optimizer's transforms for "optimized graph" (default pipeline).
        rounds: round-robin rounds; each round times one block of every variant.
        min_time, max_time, warmup: per block (`timing.measure`).
        tflite_threads, use_xnnpack: TFLite interpreter settings.
        debug_layers: how many worst int8 layers to list (0 skips the debugger, which costs
            one more conversion).
        input_label: how the table names `inputs` (e.g. the image path); default "given".
        lock_path: the xdist timing lock (`timing.timing_lock`) held while the rounds run.
        dataset: judge errors and top-1 agreement over many inputs (issue 21): a folder of
            images (fitted and preprocessed as the sample image, `preprocess`), an .npy / .npz
            (first axis = one input each) or an iterable of feeds. Rows then give max / p99 /
            mean error, `top1_agreement` over every input with `top1_ci` and `worst_input`.
            Whatever is judged, a source whose outputs carry no information (saturated
            softmax, constant, zero, NaN) leaves the errors None and says why (`refused`).
    Returns:
        VariantTable.
    Raises:
        ConfigError: an unknown row name or bad rounds; load errors of the source itself.
    """
    import tensorflow as tf

    from pytest_tfperf.edge.convert import image_variants
    from pytest_tfperf.model import load
    from pytest_tfperf.optimization.interleaved import measure_interleaved

    wanted = tuple(ROWS if rows is None else rows)
    unknown = [r for r in wanted if r not in ROWS]
    if unknown:
        from pytest_tfperf.errors import close_matches

        near = close_matches(unknown[0], ROWS)
        raise ConfigError(f"variants: unknown row {unknown[0]!r}"
                          + (f"; did you mean {near[0]!r}?" if near else "")
                          + f". Rows: {', '.join(ROWS)}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"variants: rounds must be an int >= 1. Received: rounds={rounds!r}")
    if getattr(model, "kind", None) == "tflite" or str(model).lower().endswith(".tflite"):
        raise ConfigError(f"variants: {getattr(model, 'name', model)!r} is a TFLite model; the "
                          "table starts from a TensorFlow source (Keras, SavedModel, frozen graph) "
                          "and converts it. Pass the model it was converted from.")
    from pytest_tfperf.equivalence.dataset import dataset_label
    from pytest_tfperf.inputs.described import describe_inputs

    fg = load(model)
    x, label = _default_inputs(fg, inputs)
    label = input_label or label
    feed = fg.feed_dict(x)
    timed = describe_inputs(fg, x, generated=inputs is None)
    if representative is None and len(fg.inputs) == 1 and feed[fg.inputs[0].name].dtype.kind == "f":
        representative = image_variants(feed[fg.inputs[0].name])
    notes = []

    built = _source_rows(fg, feed, wanted)
    built += _graph_rows(fg, feed, wanted, transforms, tf.__version__)
    built += _tflite_rows(fg, feed, wanted, representative, tflite_threads, use_xnnpack,
                          debug_layers)
    for b in built:  # first call: outputs for the errors (and a build check)
        if b.error is None and b.outputs is None:
            try:
                b.outputs = _as_list(b.runner())
            except Exception as exc:  # noqa: BLE001
                b.error = _error_text(exc)
    source = next((b for b in built if b.error is None and b.variant in ROWS[:4]), None)
    if source is None:
        raise ConfigError(f"variants: model {fg.name} could not run as its source or frozen graph: "
                          + "; ".join(f"{b.variant}: {b.error}" for b in built if b.error))
    if source.variant != "frozen graph" and "frozen graph" not in wanted:
        notes.append("no frozen graph row: speed-up vs frozen is not available")

    # the one interleaved timing loop (`tfperf optimize` times its table with it too)
    failed: dict[str, BaseException] = {}
    t0 = time.perf_counter()
    timed_rows = measure_interleaved([(b.variant, b.runner, None) for b in built if b.error is None],
                                     rounds=rounds, min_time=min_time, max_time=max_time,
                                     warmup=warmup, lock_path=lock_path, errors=failed)
    notes.append(f"timed interleaved: {rounds} round(s) of one block per variant, "
                 f"{time.perf_counter() - t0:.1f} s")
    for b in built:
        if b.variant in failed:
            b.error = _error_text(failed[b.variant])
    medians = {label: per_round for label, _, per_round in timed_rows}
    of = {label: value for label, value, _ in timed_rows}

    def median(b):
        return of.get(b.variant) if b.error is None else None
    base = median(source)
    frozen = next((b for b in built if b.variant == "frozen graph"), None)
    base_frozen = median(frozen) if frozen is not None else None
    judged, refused, n_judged = {}, None, 1
    if source.run is not None:
        from pytest_tfperf.edge.judged import judge

        t1 = time.perf_counter()
        judged, refused, n_judged = judge(fg, source.run, {b.variant: b.run for b in built
                                                           if b.error is None}, feed, dataset,
                                          preprocess)
        if dataset is not None:
            notes.append(f"errors judged on {n_judged} inputs in {time.perf_counter() - t1:.1f} s")
        if refused:
            notes.append(f"errors not given: the source's {refused} on the inputs judged, so any "
                         "variant would match; feed inputs in the model's range or a dataset")
    elif dataset is not None:
        notes.append(f"{source.variant} cannot run a dataset: errors are on the timed feed")
    out = []
    for b in built:
        m = median(b)
        err, top1 = _compare(source.outputs, b.outputs) if b.error is None else (None, None)
        extra = judged.get(b.variant, {})
        err, top1 = extra.pop("max_abs_err", err), extra.pop("top1_agreement", top1)
        out.append(VariantRow(
            variant=b.variant, runtime=b.runtime, median_ms=m,
            round_medians_ms=tuple(medians.get(b.variant, ())) if b.error is None else (),
            speedup_vs_source=base / m if m and base else None,
            speedup_vs_frozen=base_frozen / m if m and base_frozen else None,
            size_bytes=b.size_bytes, max_abs_err=err, top1_agreement=top1, error=b.error,
            worst_layers=b.worst_layers, **extra))
    identity = getattr(fg, "identity", None)
    return VariantTable(model=str(identity if isinstance(identity, str) else fg.source),
                        name=fg.name, inputs=label, source=source.variant, rounds=rounds,
                        rows=tuple(out), notes=tuple(notes), timed_inputs=timed,
                        dataset=None if dataset is None else dataset_label(dataset),
                        judged_inputs=n_judged, refused=refused)
