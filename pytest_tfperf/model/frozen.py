"""`FrozenGraph`: a frozen GraphDef + I/O specs + a reused TF session; satisfies `Model`.

A `FrozenGraph` is what the TensorFlow runtime of tfperf works on: measurement, equivalence,
optimization, profiling and summaries. It holds the frozen `GraphDef` (no variables), the
required inputs, optional flags and outputs as `TensorSpec`s, where it came from, and one lazily
created `tf.compat.v1.Session` that is reused for every run (`make_callable` pre-binds feeds).
`load()` (in `loaders.py`) builds one from every reference kind.

TensorFlow is imported inside functions only, so importing this module is cheap.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import ModelLoadError, NodeNotFoundError, TfperfError, unknown_name_message
from pytest_tfperf.model.shapes import _coerce, _display_name, _first_line, _import_graph_def, pair_inputs
from pytest_tfperf.model.specs import TensorSpec
from pytest_tfperf.model.tables import initialize_tables


GRAPPLER_LIMIT_BYTES = 64 * 1024 * 1024  # graphs above this skip grappler (see session_config)


INLINE = -1  # inter_op_parallelism_threads < 0: TensorFlow runs every op in the calling thread


def session_threads(intra_op: int | None, inter_op: int | None) -> tuple[int, int]:
    """`(intra, inter)` for a `ConfigProto` from a model's thread settings.

    One intra-op thread with no inter-op setting runs every op inline in the calling thread
    (`INLINE`): then one thread does all the work, so its CPU time is the call's latency. With
    TensorFlow's inter-op pool beside one intra-op thread, independent ops ran at once and the
    pool threads spin between ops: a 0.16 ms graph read 0.36-0.46 ms of CPU idle and 0.25-0.30 ms
    beside 3 CPU-bound neighbours (the spin went), so a real 1.3x slowdown measured beside
    neighbours compared "ok" against an idle baseline; inline it read 0.160-0.164 ms idle and
    0.163-0.176 ms beside 3 (issue 19). 0/None elsewhere: TensorFlow's default.
    """
    intra = int(intra_op or 0)
    if inter_op is None or inter_op == 0:
        return intra, INLINE if intra == 1 else 0
    return intra, int(inter_op)


class FrozenGraph:
    """A frozen TensorFlow model ready to run: GraphDef, I/O specs, source, and a fast runner.

    Create one with `pytest_tfperf.load(ref)`. The session is created on first use and reused;
    `close()` releases it (the `frozen_graph` fixture does so at session end).
    """

    def __init__(self, graph_def, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], *,
                 source: str, kind: str, name: str | None = None, defaults: Sequence[TensorSpec] = (),
                 trainable_params: int | None = None, non_trainable_params: int | None = None,
                 keras_model: Any = None, input_shapes: Any = None, identity: str | None = None):
        self.graph_def = graph_def
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.defaults = tuple(defaults)
        self.source = source
        self.kind = kind
        self.name = name or _display_name(source)
        self.trainable_params = trainable_params
        self.non_trainable_params = non_trainable_params
        self.keras_model = keras_model
        self.input_shapes = input_shapes
        # source variables inference never reads, as (name, elements): why the frozen graph can hold
        # fewer weights than the source counts (model/source_params.py)
        self.unread_variables: tuple[tuple[str, int], ...] = ()
        self._identity = identity
        self._graph = None
        self._session = None
        self._threads: tuple[int | None, int | None] = (None, None)

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name} {s.dtype}{s.shape_text()}" for s in self.inputs)
        outs = ", ".join(s.name for s in self.outputs)
        return f"<FrozenGraph {self.name!r} ({self.kind}) {len(self.graph_def.node)} nodes; {ins} -> {outs}>"

    # -- the Model protocol ------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """Stable key: realpath of the source (+ "#signature", + "[outputs]" when named), or
        "<kind name>" for in-memory objects. `load()` computes it."""
        if self._identity:
            return self._identity
        if self.source.startswith("<"):
            return f"<{self.kind} {self.name}>"
        return os.path.realpath(self.source)

    @property
    def runtime(self) -> str:
        """The runtime that runs this model: "tensorflow"."""
        return "tensorflow"

    @property
    def size_bytes(self) -> int:
        """Serialized size of the frozen GraphDef."""
        return self.graph_def.ByteSize()

    def runner(self, inputs, *, fresh: bool = False) -> Callable[[], list]:
        """`make_callable(inputs)`; `fresh=True` binds it to a new private session (never closed
        by the model; it is released with the runner)."""
        return self.make_callable(inputs, session=self.new_session() if fresh else None)

    # -- TensorFlow objects -------------------------------------------------------------------
    @property
    def graph(self):
        """The `tf.Graph` with this GraphDef imported under name prefix ""."""
        if self._graph is None:
            self._graph = _import_graph_def(self.graph_def, self.source)
        return self._graph

    def set_threads(self, intra_op: int | None = None, inter_op: int | None = None) -> None:
        """Thread counts for the session; recreates it if needed (`session_threads`).

        `intra_op`: 0/None = TensorFlow's default (one per core). `inter_op`: 0/None = inline
        (every op in the calling thread) when `intra_op` is 1, else TensorFlow's default;
        -1 = inline; N = a pool of N."""
        if (intra_op, inter_op) != self._threads:
            self._threads = (intra_op, inter_op)
            if self._session is not None:
                self._session.close()
                self._session = None

    def session_config(self, intra_op: int | None = None):
        """The session's `ConfigProto` (`session_threads`; `intra_op` overrides the model's)."""
        import tensorflow as tf

        intra, inter = session_threads(*self._threads) if intra_op is None else \
            session_threads(intra_op, self._threads[1])
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra,
                                          inter_op_parallelism_threads=inter)
        if self.graph_def.ByteSize() > GRAPPLER_LIMIT_BYTES:
            # grappler's passes over a large frozen graph cost ~20 s and ~2.6 GB per new session
            # (AlexNet-224, 250 MB) and gave no speed (88.3 vs 86.7 ms/run; bench/RESULTS.md)
            config.graph_options.rewrite_options.disable_meta_optimizer = True
            # the session then keeps no placed copy of the whole graph (it places the pruned
            # graph of each feed/fetch set): -240 MB per AlexNet-224 session, same run time
            config.graph_options.place_pruned_graph = True
        return config

    @property
    def session(self):
        """The one `tf.compat.v1.Session` of this model (created on first use, reused)."""
        if self._session is None:
            import tensorflow as tf

            session = tf.compat.v1.Session(graph=self.graph, config=self.session_config())
            initialize_tables(session)
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session (the FrozenGraph stays usable: a new session opens on next use)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- feeding and running ------------------------------------------------------------------
    def spec(self, name: str) -> TensorSpec:
        """The input, default or output spec called `name` ("node" or "node:0")."""
        wanted = graphs.tensor_name(name)
        for s in self.inputs + self.defaults + self.outputs:
            if s.name == wanted:
                return s
        names = [s.name for s in self.inputs + self.defaults + self.outputs]
        raise NodeNotFoundError(unknown_name_message("tensor", name, names, f"model {self.name}"))

    def feed_dict(self, inputs) -> dict[str, np.ndarray]:
        """Normalise `inputs` to {tensor name: array}, checking count, shape and dtype.

        Args:
            inputs: an array (single-input models), a list/tuple in `self.inputs` order, or a
                dict keyed by "node" or "node:0" (optional flags such as `training` may be fed).
        Returns:
            {"node:0": np.ndarray}; float64 arrays are cast to float32 inputs etc.
        Raises:
            InputError: wrong count, rank, known dimension, or a dtype that cannot be cast safely.
        """
        items = pair_inputs(inputs, self.inputs, self.name, optional=self.defaults)
        return {name: _coerce(self.spec(name), value, self.name) for name, value in items.items()}

    def _tensors(self, names: Sequence[str]):
        graph = self.graph
        out = []
        for n in names:
            try:
                out.append(graph.get_tensor_by_name(graphs.tensor_name(n)))
            except (KeyError, ValueError):
                nodes = [node.name for node in self.graph_def.node]
                raise NodeNotFoundError(
                    unknown_name_message("tensor", n, nodes, f"model {self.name}",
                                         preferred=[s.node for s in self.outputs])) from None
        return out

    def new_session(self, *, intra_op: int | None = None):
        """A private `tf.compat.v1.Session` over this graph (same thread settings, lookup tables
        filled); the caller closes it. The timing engine re-times a failing gate in fresh sessions this way.
        `intra_op`: this session's intra-op threads instead of the model's (sweeps)."""
        import tensorflow as tf

        config = self.session_config(intra_op=intra_op)
        session = tf.compat.v1.Session(graph=self.graph, config=config)
        initialize_tables(session)
        return session

    def make_callable(self, inputs, fetches: Sequence[str] | None = None, *,
                      session=None) -> Callable[[], list]:
        """A zero-argument runner with pre-bound feeds (`Session.make_callable`).

        Each call runs the graph once and returns the fetched values as numpy arrays (host memory).
        `session` defaults to the model's shared session.
        """
        feeds = self.feed_dict(inputs)
        fetch_names = list(fetches) if fetches is not None else [s.name for s in self.outputs]
        fetch_tensors = self._tensors(fetch_names)
        feed_tensors = self._tensors(list(feeds))
        values = list(feeds.values())
        runner = (session or self.session).make_callable(fetch_tensors, feed_list=feed_tensors)

        def run_once() -> list:
            return runner(*values)

        return run_once

    def run(self, inputs, fetches: Sequence[str] | None = None) -> list[np.ndarray]:
        """Run once; the outputs (or `fetches`) as numpy arrays, in order."""
        try:
            return list(self.make_callable(inputs, fetches)())
        except TfperfError:
            raise
        except Exception as exc:  # a kernel error inside session.run
            raise ModelLoadError(f"model {self.name} failed while running: "
                                 f"{type(exc).__name__}: {_first_line(exc)}") from exc

    # -- derived models -----------------------------------------------------------------------
    def with_graph_def(self, graph_def, **changes) -> "FrozenGraph":
        """A new FrozenGraph over `graph_def` with the same specs (override with keywords)."""
        kwargs = dict(inputs=self.inputs, outputs=self.outputs, source=self.source, kind=self.kind,
                      name=self.name, defaults=self.defaults, trainable_params=self.trainable_params,
                      non_trainable_params=self.non_trainable_params, keras_model=self.keras_model,
                      input_shapes=self.input_shapes, identity=self._identity)
        kwargs.update(changes)
        fg = FrozenGraph(graph_def, **kwargs)
        fg._threads = self._threads
        fg.unread_variables = self.unread_variables
        return fg

    def save(self, path: str | os.PathLike) -> str:
        """Write the frozen GraphDef (binary `.pb`, or text if the name ends in `.pbtxt`) atomically."""
        return save_graph_def(self.graph_def, path)


def save_graph_def(graph_def, path: str | os.PathLike) -> str:
    """Write a GraphDef atomically (temp file + rename): binary, or text for `.pbtxt` names."""
    from pytest_tfperf.atomic import write_bytes

    path = os.fspath(path)
    if path.endswith(".pbtxt"):
        from google.protobuf import text_format

        data = text_format.MessageToString(graph_def).encode()
    else:
        data = graph_def.SerializeToString()
    write_bytes(path, data)
    return path
