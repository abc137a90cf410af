"""`optimize(model) -> FrozenGraph`: graph transforms, each one proven output-equivalent.

Seed 002's recipe (fold batch norms, remove unused nodes) without Bazel: our own GraphDef
transforms (`transforms.py`, `batchnorm.py`) plus TensorFlow's graph_transforms through the
TransformGraph binding that the TF wheel ships. Seed 001's rule 2 is enforced per transform: after
each one the graph is run on a deterministic input, a seeded random one and the caller's inputs,
and compared with the *original* model; a transform that changes an output beyond tolerance (or
fails inside TensorFlow) is dropped and reported, or raises `OptimizeError` with `strict=True`.

`tfperf optimize MODEL -o OUT` is `cli/optimize.py`; it uses `write_graph_def` and `sample_feed`
from here and `measure_interleaved` from `interleaved.py`.
"""
from __future__ import annotations

import collections
import hashlib
import dataclasses
import os
import re
import time
from collections.abc import Callable
from typing import Any

from pytest_tfperf.model import graphs
from pytest_tfperf.optimization import batchnorm as bn
from pytest_tfperf.optimization import transforms as tx
from pytest_tfperf.errors import ImageError, OptimizeError, TfperfError, unknown_name_message

DEFAULT_TRANSFORMS: tuple[str, ...] = (
    "strip_unused_nodes", "remove_training_nodes", "fold_constants", "fold_batch_norms", "merge_biases",
)
DEFAULT = DEFAULT_TRANSFORMS

# Our own transforms; TensorFlow's TransformGraph runs every name in `transforms.TF_TRANSFORMS`.
_OWN: dict[str, Callable] = {
    "strip_unused_nodes": tx.strip_unused_nodes,
    "remove_training_nodes": tx.remove_training_nodes,
    "fold_constants": tx.fold_constants,
    "fold_batch_norms": bn.fold_batch_norms,
    "merge_biases": bn.merge_biases,
}
_SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def transform_names() -> list[str]:
    """Every transform name `optimize` accepts (ours, then TensorFlow's TransformGraph ones)."""
    return list(_OWN) + [n for n in tx.TF_TRANSFORMS if n not in _OWN]


# ---------------------------------------------------------------------------------------------
# result model
@dataclasses.dataclass(frozen=True)
class TransformStep:
    """One transform of the pipeline: what it did to the graph and whether it was kept."""

    name: str                      # the transform as given, e.g. "fold_constants", "quantize_weights"
    kept: bool                     # False: dropped (error or outputs changed), graph left as before
    nodes_before: int
    nodes_after: int               # == nodes_before when dropped
    max_abs_error: float | None    # vs the original model, worst output and input set; None if not run
    seconds: float
    reason: str | None = None      # why it was dropped

    @property
    def node_delta(self) -> int:
        return self.nodes_after - self.nodes_before

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["node_delta"] = self.node_delta
        return data


@dataclasses.dataclass(frozen=True)
class OptimizeReport:
    """What `optimize` did: transforms kept and dropped, node counts and op histograms."""

    model: str
    requested: tuple[str, ...]
    steps: tuple[TransformStep, ...]
    nodes_before: int
    nodes_after: int
    ops_before: dict          # op -> count, most frequent first
    ops_after: dict
    atol: float
    rtol: float
    input_sets: tuple[str, ...]    # labels of the input sets every step was checked on
    max_abs_error: float           # final graph vs original, worst over outputs and input sets

    @property
    def applied(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if s.kept)

    @property
    def dropped(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if not s.kept)

    def op_delta(self) -> dict:
        """op -> after - before, for every op whose count changed (removed ops negative)."""
        ops = set(self.ops_before) | set(self.ops_after)
        delta = {op: self.ops_after.get(op, 0) - self.ops_before.get(op, 0) for op in sorted(ops)}
        return {op: d for op, d in delta.items() if d}

    def to_dict(self) -> dict:
        return {
            "model": self.model, "requested": list(self.requested), "applied": list(self.applied),
            "dropped": list(self.dropped), "steps": [s.to_dict() for s in self.steps],
            "nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
            "ops_before": dict(self.ops_before), "ops_after": dict(self.ops_after),
            "op_delta": self.op_delta(), "atol": self.atol, "rtol": self.rtol,
            "input_sets": list(self.input_sets), "max_abs_error": self.max_abs_error,
        }

    def lines(self) -> list[str]:
        """Human-readable summary: one line per transform, then the op changes."""
        head = (f"{self.model}: {self.nodes_before} -> {self.nodes_after} nodes "
                f"(max abs error {self.max_abs_error:.3g} on {', '.join(self.input_sets)})")
        out = [head]
        for s in self.steps:
            err = "-" if s.max_abs_error is None else f"{s.max_abs_error:.3g}"
            state = "kept" if s.kept else f"DROPPED: {s.reason}"
            out.append(f"  {s.name:<28} {s.node_delta:+5d} nodes  max abs err {err:<9} {state}")
        delta = self.op_delta()
        if delta:
            out.append("  ops: " + ", ".join(f"{op} {d:+d}" for op, d in delta.items()))
        return out


def op_histogram(graph_def) -> dict:
    """op -> number of nodes, most frequent first (ties by name)."""
    counts = collections.Counter(n.op for n in graph_def.node)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------------------------------------
# transform specs
@dataclasses.dataclass(frozen=True)
class _Spec:
    label: str
    run: Callable  # (graph_def, inputs, outputs) -> graph_def


def parse_transforms(transforms: Any = None) -> list[_Spec]:
    """Normalise `transforms` to runnable specs, rejecting unknown names with close matches.

    Args:
        transforms: None (the default pipeline); a string of names separated by commas or spaces
            ("fold_constants, quantize_weights"; "default" expands to the default pipeline;
            TransformGraph arguments in parentheses: "remove_nodes(op=Identity)"); or a sequence
            of such strings and callables `(graph_def, inputs, outputs) -> GraphDef`.
    Returns:
        the specs, in order.
    Raises:
        OptimizeError: an unknown name or malformed spec.
    """
    if transforms is None:
        transforms = DEFAULT_TRANSFORMS
    items = _split(transforms) if isinstance(transforms, str) else list(transforms)
    specs: list[_Spec] = []
    for item in items:
        if callable(item):
            label = getattr(item, "__name__", type(item).__name__)
            specs.append(_Spec(label, item))
            continue
        if not isinstance(item, str):
            raise OptimizeError(f"a transform must be a name or a callable (graph_def, inputs, outputs) "
                                f"-> GraphDef. Received: {item!r}")
        for part in _split(item):
            if part == "default":
                specs.extend(parse_transforms(DEFAULT_TRANSFORMS))
                continue
            specs.append(_spec_for(part))
    if not specs:
        raise OptimizeError(f"no transforms given; valid names: {', '.join(transform_names())}. "
                            f"Received: transforms={transforms!r}")
    return specs


def _split(text: str) -> list[str]:
    """Split on commas/whitespace outside parentheses: 'a, b(x=1, y=2) c' -> [a, b(x=1, y=2), c]."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur.strip():
                parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _spec_for(text: str) -> _Spec:
    m = _SPEC_RE.match(text)
    if not m:
        raise OptimizeError(f"transform {text!r} is not 'name' or 'name(arg=value, ...)'. "
                            f"Valid names: {', '.join(transform_names())}")
    name, args = m.group(1), m.group(2)
    if name not in _OWN and name not in tx.TF_TRANSFORMS:
        raise OptimizeError(unknown_name_message("transform", name, transform_names(),
                                                 "the transforms tfperf optimize knows",
                                                 limit=len(transform_names()))  # a short, closed list
                            + ". Run them by name, e.g. --transforms fold_constants,fold_batch_norms")
    if name in _OWN:
        kwargs = _parse_kwargs(args, text)
        fn = _OWN[name]

        def run(graph_def, inputs, outputs, _fn=fn, _kw=kwargs):
            try:
                return _fn(graph_def, inputs, outputs, **_kw)
            except TypeError as exc:
                raise OptimizeError(f"transform {text!r}: bad arguments ({exc}).") from None
        return _Spec(text, run)

    def run_tf(graph_def, inputs, outputs, _text=text):
        return tx.tf_transform_graph(graph_def, inputs, outputs, _text)
    return _Spec(text, run_tf)


def _parse_kwargs(args: str | None, text: str) -> dict:
    kwargs = {}
    for part in (args or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise OptimizeError(f"transform {text!r}: arguments must be key=value. Received: {part!r}")
        kwargs[key.strip()] = value.strip()
    return kwargs


# ---------------------------------------------------------------------------------------------
# optimize
def optimize(model, transforms: Any = None, *, inputs=None, outputs=None, input_shapes=None,
             check_inputs=None, atol: float = 1e-4, rtol: float = 1e-3, n_random: int = 1,
             seed: int = 0, strict: bool = False):
    """Optimize a model's frozen graph; every kept transform is proven output-equivalent.

    Args:
        model: a `FrozenGraph` or anything `pytest_tfperf.load` accepts.
        transforms: see `parse_transforms`; None runs `DEFAULT_TRANSFORMS` (strip unused nodes,
            remove training nodes, fold constants, fold batch norms, merge biases).
        inputs, outputs, input_shapes: passed to `load` (input/output names, pinned shapes).
        check_inputs: inputs to check equivalence on, in addition to a deterministic synthetic
            input and `n_random` seeded random ones (array, list or dict as `feed_dict` takes).
        atol, rtol: an element fails when it is off by more than both atol and rtol * |ref|.
        n_random: random input sets per check.
        seed: seed of the random input sets.
        strict: raise `OptimizeError` instead of dropping a transform that fails or changes outputs.
    Returns:
        the optimized `FrozenGraph` (same input/output specs).
    Raises:
        OptimizeError: bad transform names; with `strict`, a transform that failed or changed
        outputs; always, when the model cannot be run on any input to check it.
        ModelLoadError: the model cannot be loaded or frozen (from `load`).

    Example:
        >>> fast = optimize("model.keras")
    """
    return optimize_with_report(model, transforms, inputs=inputs, outputs=outputs,
                                input_shapes=input_shapes, check_inputs=check_inputs, atol=atol,
                                rtol=rtol, n_random=n_random, seed=seed, strict=strict)[0]


def optimize_with_report(model, transforms: Any = None, *, inputs=None, outputs=None, input_shapes=None,
                         check_inputs=None, atol: float = 1e-4, rtol: float = 1e-3, n_random: int = 1,
                         seed: int = 0, strict: bool = False, check_inputs_label: str | None = None):
    """`optimize` that also returns what it did.

    Same arguments as `optimize`, and `check_inputs_label`: what the report calls the
    `check_inputs` set (default "given"; `tfperf optimize` says "synthetic image" or the image).

    Returns:
        `(FrozenGraph, OptimizeReport)`: the optimized model and, per transform, node deltas,
        whether it was kept, its max abs error vs the original, and the op histograms.
    """
    from pytest_tfperf.equivalence import compare_arrays, make_input_sets
    from pytest_tfperf.model import load

    specs = parse_transforms(transforms)
    frozen = load(model, inputs=inputs, outputs=outputs, input_shapes=input_shapes)
    in_names = [s.name for s in frozen.inputs] + [s.name for s in frozen.defaults]
    out_names = [s.name for s in frozen.outputs]
    try:
        sets = make_input_sets(frozen, None, n_random=n_random, seed=seed)
        if check_inputs is not None:
            sets += make_input_sets(frozen, check_inputs, inputs_label=check_inputs_label)
    except TfperfError as exc:
        raise OptimizeError(f"cannot make inputs to check model {frozen.name} after each transform: "
                            f"{exc}. Pin the input shapes (input_shapes=... / --input-shape) or pass "
                            "check_inputs=...") from exc
    try:
        reference = [frozen.run(feed) for _, feed in sets]
    except TfperfError as exc:
        raise OptimizeError(f"cannot run model {frozen.name} to check equivalence: {exc}") from exc

    def max_error(graph_def) -> tuple[float, str | None]:
        candidate = frozen.with_graph_def(graph_def)
        worst, why = 0.0, None
        try:
            for (label, feed), ref_outs in zip(sets, reference):
                for name, ref, got in zip(out_names, ref_outs, candidate.run(feed)):
                    comp = compare_arrays(ref, got, name=name, atol=atol, rtol=rtol, input_set=label)
                    worst = max(worst, comp.max_abs_error)
                    if not comp.passed and why is None:
                        why = comp.message
        finally:
            candidate.close()
        return worst, why

    graph_def = frozen.graph_def
    steps = []
    for spec in specs:
        before = len(graph_def.node)
        t0 = time.perf_counter()
        err, reason, new_gd = None, None, None
        try:
            new_gd = _keep_table_fills(graph_def, spec.run(graph_def, in_names, out_names))
            _check_structure(new_gd, frozen, spec.label)
            err, reason = max_error(new_gd)
        except TfperfError as exc:
            reason = _short(str(exc))
        except Exception as exc:  # noqa: BLE001 - failed inside TensorFlow: drop and report
            reason = f"{type(exc).__name__}: {_short(str(exc))}"
        seconds = time.perf_counter() - t0
        if reason is not None:
            if strict:
                raise OptimizeError(f"transform {spec.label!r} on model {frozen.name} cannot be kept: "
                                    f"{reason}. Leave it out of transforms=..., or loosen atol/rtol "
                                    f"(now atol={atol:g}, rtol={rtol:g}) if the change is acceptable.")
            steps.append(TransformStep(spec.label, False, before, before, err, seconds, reason))
            continue
        steps.append(TransformStep(spec.label, True, before, len(new_gd.node), err, seconds))
        graph_def = new_gd

    # every step is compared with the original model, so the last kept step's error is the final one
    final_err = next((s.max_abs_error or 0.0 for s in reversed(steps) if s.kept), 0.0)
    report = OptimizeReport(
        model=frozen.name, requested=tuple(s.label for s in specs), steps=tuple(steps),
        nodes_before=len(frozen.graph_def.node), nodes_after=len(graph_def.node),
        ops_before=op_histogram(frozen.graph_def), ops_after=op_histogram(graph_def),
        atol=float(atol), rtol=float(rtol), input_sets=tuple(label for label, _ in sets),
        max_abs_error=float(final_err))
    # its own name and identity (issue 21: the same identity made the original's rows read
    # "(optimized)"), so reports, verdicts and baselines never mix it up with the original;
    # the graph's digest tells optimizations with different transforms apart
    digest = hashlib.sha1(graph_def.SerializeToString(deterministic=True)).hexdigest()[:12]
    return frozen.with_graph_def(graph_def, name=f"{frozen.name} (optimized)",
                                 identity=f"{frozen.identity}#optimized-{digest}"), report


def _short(text: str, limit: int = 400) -> str:
    """One line of at most `limit` characters (TensorFlow errors span many lines)."""
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _keep_table_fills(before, after):
    """`after` plus the lookup-table fill ops of `before` (and their constants) that a transform
    dropped: they feed no output, so output-driven transforms strip them, yet every session needs
    them (`model.initialize_tables`)."""
    fills = [n for n in graphs.table_initializers(before) if n not in graphs.node_map(after)]
    if not fills:
        return after
    have = graphs.node_map(after)
    need = graphs.ancestors(before, fills)
    after.node.extend(n for n in before.node if n.name in need and n.name not in have)
    return after


def _check_structure(graph_def, frozen, label: str) -> None:
    """The transformed graph still has every input, flag and output, and is valid (seed 001 rule 1)."""
    nodes = graphs.node_map(graph_def)
    for spec in frozen.inputs + frozen.defaults + frozen.outputs:
        if spec.node not in nodes:
            raise OptimizeError(f"transform {label!r} removed {spec.name}, an input/output of the model")
    for specs, op in ((frozen.inputs, "Placeholder"), (frozen.defaults, "PlaceholderWithDefault")):
        for spec in specs:
            if nodes[spec.node].op != op:
                raise OptimizeError(f"transform {label!r} turned {op} {spec.name} into a "
                                    f"{nodes[spec.node].op}: it no longer behaves as an input")
    graphs.validate(graph_def, [s.name for s in frozen.inputs], [s.name for s in frozen.outputs],
                    where=f"the graph after transform {label!r}")


def check_writable(path: str) -> str:
    """The absolute output path, or `OptimizeError` when it cannot be written (`atomic.unwritable`:
    a directory, a parent that is a file, a read-only folder; missing folders are created)."""
    from pytest_tfperf.atomic import unwritable

    path = os.path.abspath(path)
    problem = unwritable(path)
    if problem is not None:
        culprit, what = problem
        fix = (f"give a file name, e.g. -o {path}/optimized.pb" if culprit == path and what == "is a directory"
               else "choose another -o")
        raise OptimizeError(f"output {culprit} {what}; {fix}. Received: -o {path}")
    return path


def write_graph_def(graph_def, path: str) -> str:
    """Write a GraphDef (binary, or text for `.pbtxt`) atomically: `path` is never half-written."""
    from pytest_tfperf.model import save_graph_def

    path = check_writable(path)
    try:
        return save_graph_def(graph_def, path)
    except OSError as exc:
        raise OptimizeError(f"cannot write {path}: {exc}") from exc


def sample_feed(frozen, image_path: str | None) -> tuple[dict, str]:
    """A feed for the equivalence proof and the timings, and what it is: `images.sample_feed`
    (the sample image for the image input, the input policy's arrays elsewhere), as a
    `SampleInputs`, and its words, e.g. "synthetic image [1,224,224,3] float32 (dynamic H/W:
    pinned to 224)"."""
    from pytest_tfperf.inputs.images import sample_feed as feed_for
    from pytest_tfperf.inputs.policy import SampleInputs
    from pytest_tfperf.inputs.described import describe

    try:
        feed = feed_for(frozen, path=image_path)
    except ImageError:
        raise
    except TfperfError as exc:
        raise OptimizeError(f"cannot make an input for model {frozen.name}: {exc}. Pin the input "
                            "shapes with --input-shape, e.g. --input-shape 1,224,224,3") from exc
    what = image_path or ("synthetic image" if "sample image" in feed.sources.values() else "synthetic input")
    # checked and cast by the model, still a SampleInputs (it knows the dims tfperf chose)
    checked = SampleInputs(frozen.feed_dict(feed), sources=feed.sources, guessed=feed.guessed)
    return checked, f"{what} {describe(feed)}"


__all__ = [
    "DEFAULT", "DEFAULT_TRANSFORMS", "OptimizeReport", "TransformStep", "check_writable", "op_histogram", "optimize",
    "optimize_with_report", "parse_transforms", "sample_feed", "transform_names", "write_graph_def",
]
