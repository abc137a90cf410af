"""How many times each node runs in one inference, for `flops.count_flops` (control flow).

A node's FLOPs count once per execution. Outside control flow a node runs once; inside a loop
or a cond branch it runs as often as the loop iterates or the branch is taken.

- Functional control flow (`While`/`StatelessWhile`, `If`/`StatelessIf`, `Case`, calls of graph
  functions such as `PartitionedCall`) is first lowered and inlined by grappler's function
  optimizer - what `convert_variables_to_constants_v2` does when it freezes, and what a session
  does before it runs such a graph - so every graph is counted in the TF1 form: loops as
  `Enter`/`Merge`/`Switch`/`LoopCond`/`NextIteration`/`Exit` frames, conds as `Switch`/`Merge`
  (`_SwitchN` for `Case`). `flops_lower.lower_function_calls` does this.
- `ControlFlow` finds each node's loop frame, whether it runs in the loop body (N times per entry
  into the loop) or in the condition part (N + 1 times), and the cond branches it sits in. A
  loop's trip count N is static when the `LoopCond` predicate is computed from constants and from
  loop variables that start constant (`flops_static.trip_count` simulates it); a branch is static
  when its predicate is a constant. Nested loops multiply.
- Where a count is not static, one traced run tells it: `executions(step_stats)` lists every
  execution of every node under the GraphDef's node names, with its output shapes.
"""
from __future__ import annotations

import collections
import dataclasses

from pytest_tfperf.model import graphs
from pytest_tfperf.analysis.flops.lower import ENTER_OPS, EXIT_OPS, MERGE_OPS, NEXT_OPS, SWITCH_OPS
from pytest_tfperf.analysis.flops.static import NotStatic, StaticEvaluator, trip_count

# ---------------------------------------------------------------------------------------------
# static analysis of TF1 control flow


@dataclasses.dataclass
class Loop:
    """One loop frame: its `Enter` nodes, `LoopCond`, loop variables and static trip count."""

    frame: str
    parent: str
    enters: list = dataclasses.field(default_factory=list)
    loop_cond: str | None = None
    merges: list = dataclasses.field(default_factory=list)
    switches: list = dataclasses.field(default_factory=list)
    body: set = dataclasses.field(default_factory=set)       # run N times per entry
    cond_part: set = dataclasses.field(default_factory=set)  # run N + 1 times per entry


def _consumers(nodes: dict) -> dict[str, list[tuple[str, str]]]:
    """node name -> [(consumer, the consumer's input string)], control inputs included."""
    out: dict[str, list] = collections.defaultdict(list)
    for node in nodes.values():
        for i in node.input:
            out[graphs.node_name(i)].append((node.name, i))
    return out


def _is_constant_enter(node) -> bool:
    return "is_constant" in node.attr and node.attr["is_constant"].b


def _port(tensor: str) -> int:
    return int(graphs.tensor_name(tensor).rsplit(":", 1)[1])


class ControlFlow:
    """Frames, cond branches and static execution counts of the nodes of a TF1-form GraphDef.

    Args:
        graph_def: the (lowered) GraphDef.
        shapes: node name -> output shapes from shape inference (for static `Shape` values).
    """

    def __init__(self, graph_def, shapes: dict) -> None:
        self.nodes = graphs.node_map(graph_def)
        self.present = any(n.op in SWITCH_OPS or n.op in ENTER_OPS for n in graph_def.node)
        self.frame: dict[str, str] = {}
        self.guards: dict[str, frozenset] = {}
        self.loops: dict[str, Loop] = {}
        self.cond_switches: dict[str, list[str]] = {}  # predicate tensor -> its Switch nodes
        self._counts: dict[str, tuple[int | None, str]] = {}
        self._trips: dict[str, tuple[int | None, str]] = {}
        self._branches: dict[str, tuple[int | None, str]] = {}
        self.evaluator = StaticEvaluator(self.nodes, shapes)
        if self.present:
            self._analyze()

    # -- structure ------------------------------------------------------------------------

    def _sources(self, node) -> list[tuple[str, str]]:
        """(source node, input string) of every input, without a Merge's NextIteration back edge."""
        out = []
        for i in node.input:
            src = graphs.node_name(i)
            if src not in self.nodes:
                continue
            if node.op in MERGE_OPS and self.nodes[src].op in NEXT_OPS:
                continue
            out.append((src, i))
        return out

    def _order(self) -> list[str]:
        indegree = {name: 0 for name in self.nodes}
        consumers = collections.defaultdict(list)
        for node in self.nodes.values():
            for src, _ in self._sources(node):
                indegree[node.name] += 1
                consumers[src].append(node.name)
        ready = collections.deque(name for name, d in indegree.items() if d == 0)
        order = []
        while ready:
            name = ready.popleft()
            order.append(name)
            for nxt in consumers[name]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        placed = set(order)
        return order + [name for name in self.nodes if name not in placed]  # an invalid cycle

    def _out_frame(self, src: str) -> str:
        frame = self.frame.get(src, "")
        if self.nodes[src].op in EXIT_OPS:
            return self.loops[frame].parent if frame in self.loops else ""
        return frame

    def _is_loop_switch(self, name: str) -> bool:
        node = self.nodes[name]
        if node.op not in ("Switch", "RefSwitch") or len(node.input) < 2:
            return False
        pred = self.nodes.get(graphs.node_name(node.input[1]))
        return pred is not None and pred.op == "LoopCond"

    def _analyze(self) -> None:
        order = self._order()
        for name in order:
            node = self.nodes[name]
            sources = self._sources(node)
            if node.op in ENTER_OPS:
                frame = node.attr["frame_name"].s.decode()
                outer = self._out_frame(sources[0][0]) if sources else ""
                self.loops.setdefault(frame, Loop(frame, outer)).enters.append(name)
            else:
                frame = self._out_frame(sources[0][0]) if sources else ""
            self.frame[name] = frame
            self.guards[name] = self._guards_of(node, sources)
        for name in order:
            node = self.nodes[name]
            loop = self.loops.get(self.frame[name])
            if loop is None:
                continue
            if node.op == "LoopCond":
                loop.loop_cond = name
            elif name in self.evaluator.loop_vars:
                loop.merges.append(name)
            elif self._is_loop_switch(name):
                loop.switches.append(name)
        consumers = _consumers(self.nodes)
        for loop in self.loops.values():
            starts = [c for sw in loop.switches for c, i in consumers.get(sw, ())
                      if not i.startswith("^") and _port(i) == 1]
            loop.body = self._reach(starts, loop.frame, consumers)
            loop.cond_part = self._reach(loop.merges, loop.frame, consumers) - loop.body

    def _guards_of(self, node, sources) -> frozenset:
        def edge(src: str, i: str) -> frozenset:
            guards = self.guards.get(src, frozenset())
            src_node = self.nodes[src]
            if (src_node.op in SWITCH_OPS and not i.startswith("^")
                    and not self._is_loop_switch(src)):
                pred = graphs.tensor_name(src_node.input[1])
                switches = self.cond_switches.setdefault(pred, [])
                if src not in switches:
                    switches.append(src)
                guards = guards | {(pred, _port(i))}
            return guards

        if node.op in MERGE_OPS:
            data = [edge(s, i) for s, i in sources if not i.startswith("^")]
            return frozenset.intersection(*data) if data else frozenset()
        found: frozenset = frozenset()
        for src, i in sources:
            found = found | edge(src, i)
        return found

    def _reach(self, starts, frame: str, consumers) -> set[str]:
        """Nodes of `frame` reachable from `starts` without leaving the frame or wrapping around."""
        seen: set[str] = set()
        stack = list(starts)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            op = self.nodes[name].op
            if op in NEXT_OPS or (op in EXIT_OPS and self.frame.get(name) == frame):
                continue
            stack.extend(c for c, _ in consumers.get(name, ()))
        return {n for n in seen if self.frame.get(n) == frame}

    # -- static counts --------------------------------------------------------------------

    def in_control_flow(self, name: str) -> bool:
        """Whether `name` runs inside a loop or a cond branch (its count is not simply 1)."""
        return bool(self.frame.get(name)) or bool(self.guards.get(name))

    def trip_count(self, frame: str) -> tuple[int | None, str]:
        """(iterations per entry, "") when static, else (None, why not)."""
        if frame not in self._trips:
            loop = self.loops[frame]
            if loop.loop_cond is None:
                self._trips[frame] = (None, f"loop {frame!r} has no LoopCond")
            else:
                predicate = self.nodes[loop.loop_cond].input[0]
                try:
                    self._trips[frame] = (trip_count(self.evaluator, predicate, loop.merges), "")
                except NotStatic as exc:
                    self._trips[frame] = (None, f"the trip count of loop {frame!r} is not static: {exc}")
        return self._trips[frame]

    def entries(self, frame: str) -> tuple[int | None, str]:
        """(how many times the loop is entered in one inference, "") or (None, why not)."""
        loop = self.loops[frame]
        enters = [e for e in loop.enters if not _is_constant_enter(self.nodes[e])] or loop.enters
        counts = [self.static_count(e) for e in enters]
        for count, why in counts:
            if count is None:
                return None, why
        if len({c for c, _ in counts}) != 1:
            return None, f"the Enter nodes of loop {frame!r} run different numbers of times"
        return counts[0][0], ""

    def branch(self, pred: str) -> tuple[int | None, str]:
        """(the output port a cond on `pred` takes, "") when its predicate is static, else why not."""
        if pred not in self._branches:
            try:
                value = self.evaluator.value(pred)
                switch = self.nodes[self.cond_switches[pred][0]]
                if switch.op == "_SwitchN":
                    n = int(switch.attr["num_outs"].i)
                    index = int(value.reshape(-1)[0])
                    self._branches[pred] = (index if 0 <= index < n else n - 1, "")
                else:
                    self._branches[pred] = (int(bool(value.reshape(-1)[0])), "")
            except NotStatic as exc:
                self._branches[pred] = (None, f"the branch of the cond on {pred} is not static: {exc}")
        return self._branches[pred]

    def static_count(self, name: str) -> tuple[int | None, str]:
        """(executions of node `name` in one inference, "") when static, else (None, why not)."""
        if name not in self._counts:
            self._counts[name] = self._static_count(name)
        return self._counts[name]

    def _static_count(self, name: str) -> tuple[int | None, str]:
        node = self.nodes[name]
        frame = self.frame.get(name, "")
        for pred, port in sorted(self.guards.get(name, ())):
            taken, why = self.branch(pred)
            if taken is None:
                return None, why
            if taken != port:
                return 0, ""
        if node.op in ENTER_OPS:
            sources = self._sources(node)
            return self.static_count(sources[0][0]) if sources else (1, "")
        if not frame:
            return 1, ""
        entries, why = self.entries(frame)
        if entries is None or node.op in EXIT_OPS:
            return entries, why
        trips, why = self.trip_count(frame)
        if trips is None:
            return None, why
        loop = self.loops[frame]
        if name in loop.body:
            return entries * trips, ""
        if name in loop.cond_part:
            return entries * (trips + 1), ""
        return None, f"{name} is a loop invariant of loop {frame!r}: its executions show only in a run"

    # -- what a person reads ---------------------------------------------------------------

    def summaries(self, traced: dict | None) -> list[dict]:
        """One dict per loop and per cond: how its executions were established.

        Args:
            traced: node name -> executions in a traced run (None without a run).
        Returns:
            [{"kind": "while", "name", "resolved": "static"|"traced"|"unresolved",
              "trip_count", "entries", "iterations", "detail"}, {"kind": "cond", "name",
              "resolved", "branches": {port: executions}, "detail"}, ...]
        """
        out = []
        for frame, loop in self.loops.items():
            out.append(self._loop_summary(frame, loop, traced))
        for pred, switches in self.cond_switches.items():
            out.append(self._cond_summary(pred, switches, traced))
        return out

    def _loop_summary(self, frame: str, loop: Loop, traced: dict | None) -> dict:
        trips, why = self.trip_count(frame)
        entries, why_entries = self.entries(frame)
        static_iterations = trips * entries if trips is not None and entries is not None else None
        seen_iterations = seen_entries = None
        if traced is not None and loop.loop_cond is not None:
            enters = [e for e in loop.enters if not _is_constant_enter(self.nodes[e])] or loop.enters
            seen_entries = max(traced.get(e, 0) for e in enters)
            seen_iterations = traced.get(loop.loop_cond, 0) - seen_entries
        entry = {"kind": "while", "name": frame, "trip_count": trips, "entries": entries,
                 "iterations": static_iterations}
        if static_iterations is not None:
            if seen_iterations is not None and seen_iterations != static_iterations:
                return {**entry, "resolved": "unresolved", "detail": (
                    f"static trip count {trips} x {entries} entries, but a traced run iterated "
                    f"{seen_iterations} times")}
            agrees = "; a traced run agrees" if seen_iterations is not None else ""
            return {**entry, "resolved": "static", "detail": f"static trip count {trips}{agrees}"}
        if seen_iterations is not None:
            per_entry = seen_iterations // seen_entries if seen_entries else 0
            uniform = seen_entries and per_entry * seen_entries == seen_iterations
            return {**entry, "resolved": "traced", "iterations": seen_iterations,
                    "entries": seen_entries, "trip_count": per_entry if uniform else None,
                    "detail": f"{why or why_entries}; counted from one traced run"}
        return {**entry, "resolved": "unresolved", "detail": why or why_entries}

    def _cond_summary(self, pred: str, switches: list[str], traced: dict | None) -> dict:
        taken, why = self.branch(pred)
        entry = {"kind": "cond", "name": pred, "branches": None}
        n_way = self.nodes[switches[0]].op == "_SwitchN"

        def branch_name(port: int) -> str:
            return f"branch {port}" if n_way else ("the true branch" if port else "the false branch")

        if taken is not None:
            return {**entry, "resolved": "static", "branches": {taken: None},
                    "detail": f"static predicate: {branch_name(taken)}"}
        if traced is not None:
            ports = traced.get(("ports", switches[0]), {})
            shown = ", ".join(f"{branch_name(p)} x{n}" for p, n in sorted(ports.items())) or "never ran"
            return {**entry, "resolved": "traced", "branches": dict(ports),
                    "detail": f"taken in one traced run: {shown}"}
        return {**entry, "resolved": "unresolved", "detail": why}


# ---------------------------------------------------------------------------------------------
# one traced run


def executions(step_stats) -> dict[str, list[list]]:
    """node name -> output shapes of each of its executions (in start order) in a traced run.

    Each execution is a list indexed by output slot (None for an output it did not produce,
    e.g. the untaken port of a `Switch`). GPU stream and host duplicates are skipped.
    """
    records: dict[str, list] = collections.defaultdict(list)
    for dev in step_stats.dev_stats:
        if any(tag in dev.device for tag in ("/stream", "/memcpy", "/host:CPU")):
            continue
        for ns in dev.node_stats:
            outs: list = [None] * (max((o.slot for o in ns.output), default=-1) + 1)
            for out in ns.output:
                if out.slot >= 0:
                    outs[out.slot] = [int(d.size) for d in out.tensor_description.shape.dim]
            records[ns.node_name].append((int(ns.all_start_micros), outs))
    return {name: [outs for _, outs in sorted(recs, key=lambda r: r[0])]
            for name, recs in records.items()}


def traced_counts(execs: dict, control: ControlFlow) -> dict:
    """node name -> executions; ("ports", switch) -> {output port: executions} for cond switches."""
    counts: dict = {name: len(runs) for name, runs in execs.items()}
    for switches in control.cond_switches.values():
        for switch in switches:
            ports: dict[int, int] = {}
            for outs in execs.get(switch, ()):
                for port, shape in enumerate(outs):
                    if shape is not None:
                        ports[port] = ports.get(port, 0) + 1
            counts[("ports", switch)] = ports
    return counts
