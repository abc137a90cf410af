"""Static values of the small scalar tensors that steer control flow, for `flops_control`.

A loop's trip count and a cond's branch are static when the tensors that decide them (the
`LoopCond` predicate and the loop variables it reads, a `Switch` predicate) are computed from
constants only. `StaticEvaluator` interprets that arithmetic with numpy, op by op, over the
GraphDef: `Const`, pass-throughs (`Identity`, `Enter`, `Switch`, ...), integer/boolean arithmetic
and comparisons, reductions, `Cast`, `Shape`/`Size`/`Rank` of statically known shapes, `Pack` and
simple `StridedSlice`. Anything else (a model input, a `Sum`, a random op) raises `NotStatic` with the
reason, and the caller falls back to a traced run.

`trip_count` simulates a loop: the loop variables the predicate needs start from their `Enter`
values and take their `NextIteration` values each iteration, until the predicate is false.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.analysis.flops.lower import loop_merges

MAX_SIMULATED_ITERATIONS = 100_000

_PASS_THROUGH = frozenset({
    "Identity", "Snapshot", "StopGradient", "PreventGradient", "Enter", "RefEnter", "NextIteration",
    "RefNextIteration", "Switch", "RefSwitch", "_SwitchN", "EnsureShape", "CheckNumerics",
})
_BINARY: dict[str, Callable] = {
    "Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "FloorDiv": np.floor_divide, "FloorMod": np.mod, "Maximum": np.maximum, "Minimum": np.minimum,
    "Less": np.less, "LessEqual": np.less_equal, "Greater": np.greater,
    "GreaterEqual": np.greater_equal, "Equal": np.equal, "NotEqual": np.not_equal,
    "LogicalAnd": np.logical_and, "LogicalOr": np.logical_or,
}
_UNARY: dict[str, Callable] = {"LogicalNot": np.logical_not, "Neg": np.negative, "Abs": np.abs}
_REDUCE: dict[str, Callable] = {
    "Max": np.max, "Min": np.min, "Sum": np.sum, "Prod": np.prod, "All": np.all, "Any": np.any,
}
_EVALUATED = _PASS_THROUGH | set(_BINARY) | set(_UNARY) | set(_REDUCE) | {
    "IdentityN", "Div", "RealDiv", "TruncateDiv", "Cast", "Pack", "StridedSlice", "Range", "Shape",
    "Size", "Rank"}
_MAX_ELEMENTS = 4096  # steering tensors are scalars or short shape vectors


class NotStatic(Exception):
    """A tensor whose value depends on something other than constants (the message says what)."""


class StaticEvaluator:
    """Values of constant-derived tensors of a GraphDef (numpy), with loop variables from `env`.

    Args:
        nodes: node name -> NodeDef of the (lowered) graph.
        shapes: node name -> output shapes from shape inference (for `Shape`, `Size`, `Rank`).
    """

    def __init__(self, nodes: dict, shapes: dict) -> None:
        self.nodes = nodes
        self.shapes = shapes
        self._constants: dict[str, np.ndarray] = {}  # values that read no loop variable
        self.loop_vars = loop_merges(nodes.values())  # Merge -> (entering, NextIteration input)

    def value(self, tensor: str, env: dict | None = None) -> np.ndarray:
        """The value of `tensor` ("node:slot"), loop variables (`Merge` nodes) read from `env`."""
        found, _ = self._value(tensor, env if env is not None else {}, {})
        return found

    def _value(self, tensor: str, env: dict, memo: dict) -> tuple[np.ndarray, bool]:
        """(value, whether it read `env`)."""
        tensor = graphs.tensor_name(tensor)
        if tensor in self._constants:
            return self._constants[tensor], False
        if tensor in memo:
            return memo[tensor]
        name, slot = tensor.rsplit(":", 1)
        node = self.nodes.get(name)
        if node is None:
            raise NotStatic(f"node {name} is not in the graph")
        found, reads_env = self._evaluate(node, int(slot), env, memo)
        found = np.asarray(found)
        if found.size > _MAX_ELEMENTS:
            raise NotStatic(f"{name} ({node.op}) is a large tensor, not a loop counter")
        if reads_env:
            memo[tensor] = (found, True)
        else:
            self._constants[tensor] = found
        return found, reads_env

    def _evaluate(self, node, slot: int, env: dict, memo: dict) -> tuple[np.ndarray, bool]:
        from tensorflow.python.framework import tensor_util

        op = node.op
        data = [i for i in node.input if not i.startswith("^")]
        if op in ("Merge", "RefMerge"):
            if node.name in env:
                if isinstance(env[node.name], NotStatic):
                    raise env[node.name]
                return env[node.name], True
            entering = self._passed_through(node)
            if entering is None:
                raise NotStatic(f"it reads the loop variable {node.name} of an enclosing or other loop")
            return self._value(entering, env, memo)
        if op in ("Const", "HostConst"):
            return tensor_util.MakeNdarray(node.attr["value"].tensor), False
        if op in ("Placeholder", "PlaceholderWithDefault"):
            raise NotStatic(f"it depends on the model input {node.name}")
        if op not in _EVALUATED:
            raise NotStatic(f"it is computed by {node.name} ({op}), which is not evaluated statically")
        if op in ("Shape", "Size", "Rank"):
            return self._shape_fact(node, data[0]), False
        if op == "IdentityN":
            return self._value(data[slot], env, memo)
        args = [self._value(i, env, memo) for i in (data[:1] if op in _PASS_THROUGH else data)]
        values = [a[0] for a in args]
        reads_env = any(a[1] for a in args)
        if op in _PASS_THROUGH:
            return values[0], reads_env
        if op in _BINARY and len(values) == 2:
            return _BINARY[op](values[0], values[1]), reads_env
        if op in _UNARY and len(values) == 1:
            return _UNARY[op](values[0]), reads_env
        if op in _REDUCE and len(values) == 2:
            keep = "keep_dims" in node.attr and node.attr["keep_dims"].b
            axes = tuple(int(a) for a in np.asarray(values[1]).reshape(-1))
            reduced = _REDUCE[op](values[0], axis=axes, keepdims=keep)
            return np.asarray(reduced, dtype=values[0].dtype), reads_env
        if op in ("Div", "RealDiv", "TruncateDiv"):
            a, b = values
            quotient = np.true_divide(a, b)
            return (np.trunc(quotient).astype(a.dtype) if a.dtype.kind in "iu" else quotient), reads_env
        if op == "Cast":
            from tensorflow.python.framework import dtypes

            return values[0].astype(dtypes.as_dtype(node.attr["DstT"].type).as_numpy_dtype), reads_env
        if op == "Range" and len(values) == 3:
            start, limit, delta = (v.reshape(()) for v in values)
            if abs((limit - start) / delta) > _MAX_ELEMENTS:
                raise NotStatic(f"{node.name} (Range) is a long range, not a loop counter")
            return np.arange(start, limit, delta, dtype=start.dtype), reads_env
        if op == "Pack":
            return np.stack(values, axis=int(node.attr["axis"].i)), reads_env
        if op == "StridedSlice":
            return _strided_slice(node, *values), reads_env
        raise NotStatic(f"{node.name} ({op}) has inputs this evaluator does not handle")

    def _passed_through(self, merge) -> str | None:
        """The tensor entering a loop variable that every iteration passes on unchanged (what
        while_v2 does with a captured tensor), else None."""
        pair = self.loop_vars.get(merge.name)
        tensor = pair[1] if pair else None
        for _ in range(64):  # a short chain of Identity nodes back to the variable's Switch
            node = self.nodes.get(graphs.node_name(tensor)) if tensor else None
            data = [i for i in node.input if not i.startswith("^")] if node is not None else []
            if node is None or not data:
                return None
            if node.op in ("Switch", "RefSwitch"):
                same = graphs.node_name(data[0]) == merge.name
                return pair[0] if same and graphs.tensor_name(tensor).endswith(":1") else None
            if node.op not in ("Identity", "NextIteration", "RefNextIteration", "Snapshot"):
                return None
            tensor = data[0]
        return None

    def _shape_fact(self, node, tensor: str) -> np.ndarray:
        name = graphs.node_name(tensor)
        slot = int(graphs.tensor_name(tensor).rsplit(":", 1)[1])
        outs = self.shapes.get(name) or []
        shape = outs[slot] if slot < len(outs) else None
        if shape is None or any(d is None for d in shape):
            raise NotStatic(f"it reads the shape of {name}, which is not known statically")
        wide = "out_type" in node.attr and node.attr["out_type"].type == 9  # 9: DT_INT64
        dtype = np.int64 if wide else np.int32
        if node.op == "Shape":
            return np.array(shape, dtype=dtype)
        if node.op == "Size":
            return np.array(int(np.prod(shape, dtype=np.int64)), dtype=dtype)
        return np.array(len(shape), dtype=np.int32)


def _mask(node, key: str) -> int:
    return int(node.attr[key].i) if key in node.attr else 0  # reading a missing key would add it


def _strided_slice(node, value, begin, end, strides) -> np.ndarray:
    if _mask(node, "ellipsis_mask") or _mask(node, "new_axis_mask"):
        raise NotStatic(f"{node.name} (StridedSlice) uses ellipsis/new-axis masks")
    index = []
    for axis, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        if _mask(node, "shrink_axis_mask") >> axis & 1:
            index.append(int(b))
            continue
        b = None if _mask(node, "begin_mask") >> axis & 1 else int(b)
        e = None if _mask(node, "end_mask") >> axis & 1 else int(e)
        index.append(slice(b, e, int(s)))
    return np.asarray(value[tuple(index)])


def _merges_read(evaluator: StaticEvaluator, tensor: str) -> set[str]:
    """The Merge nodes whose values `tensor` is computed from (a walk over data inputs)."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = [graphs.node_name(tensor)]
    while stack:
        name = stack.pop()
        node = evaluator.nodes.get(name)
        if name in seen or node is None:
            continue
        seen.add(name)
        if node.op in ("Merge", "RefMerge"):
            found.add(name)
            continue
        if node.op in ("Shape", "Size", "Rank"):
            continue
        data = [i for i in node.input if not i.startswith("^")]
        stack.extend(graphs.node_name(i) for i in (data[:1] if node.op in _PASS_THROUGH else data))
    return found


def trip_count(evaluator: StaticEvaluator, predicate: str, merges: list[str],
               limit: int = MAX_SIMULATED_ITERATIONS) -> int:
    """Iterations of one entry into a loop whose `LoopCond` reads `predicate`.

    Args:
        evaluator: the graph's `StaticEvaluator`.
        predicate: the tensor the loop's `LoopCond` takes.
        merges: the loop's `Merge` nodes (its loop variables).
        limit: iterations simulated at most.
    Raises:
        NotStatic: the predicate depends on anything but constants and the loop's own
            constant-started variables, or the loop runs more than `limit` iterations.
    """
    loop_vars = {m: evaluator.loop_vars[m] for m in merges if m in evaluator.loop_vars}
    needed = _merges_read(evaluator, predicate) & set(loop_vars)
    pending = list(needed)
    while pending:  # the variables the needed ones are updated from
        for name in _merges_read(evaluator, loop_vars[pending.pop()][1]) & set(loop_vars):
            if name not in needed:
                needed.add(name)
                pending.append(name)
    env: dict = {}
    for name in needed:
        try:
            env[name] = evaluator.value(loop_vars[name][0])
        except NotStatic as exc:
            env[name] = NotStatic(f"the loop variable {name} does not start from a constant: {exc}")
    for iteration in range(limit + 1):
        memo: dict = {}
        go, _ = evaluator._value(predicate, env, memo)
        if not bool(np.all(go)):
            return iteration
        nxt: dict = {}
        for name in needed:
            try:
                nxt[name] = evaluator._value(loop_vars[name][1], env, memo)[0]
            except NotStatic as exc:  # raised again if the predicate reads it
                nxt[name] = exc
        env = nxt
    raise NotStatic(f"it runs more than {limit} iterations when simulated")
