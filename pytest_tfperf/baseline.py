"""Stored runs (baselines) and comparisons against them.

A baseline is the JSON report of a run (`report.json_report.build_document`, raw samples
included) stored as `.tfperf/<machine-id>/NNNN_NAME.json`, like pytest-benchmark's
`.benchmarks/` (so `pytest-benchmark compare --storage file://.tfperf` reads it too). Never
pickle; never overwritten; a corrupt or foreign file is a `BaselineError` naming it.

A change is a regression only when BOTH hold: the statistic moved past the threshold
(`median:10%`, `p90:5ms`) AND the raw samples differ significantly (two-sided Mann-Whitney U,
p < `ALPHA`). A change past the threshold that is not significant is reported as "noise".
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import BaselineError, ConfigError

ALPHA = 0.01  # significance level of the Mann-Whitney U test
DEFAULT_ROOT = ".tfperf"
DEFAULT_DISPLAY_EXPR = "median:10%"  # classifies (never fails) when no threshold is given
VERDICTS = ("ok", "improved", "noise", "regressed")
_SEVERITY = {"ok": 0, "noise": 1, "improved": 2, "regressed": 3}
_FILE_RE = re.compile(r"^(\d{4,})_(.+)\.json$")
_EXPR_RE = re.compile(r"^\s*(?:(?P<stat>[a-zA-Z][a-zA-Z0-9.]*)\s*:)?\s*(?P<num>[0-9]*\.?[0-9]+)"
                      r"\s*(?P<unit>%|ms)\s*$")


# --------------------------------------------------------------------------- thresholds
@dataclasses.dataclass(frozen=True)
class Threshold:
    """How much a statistic may grow: `percent` (of the baseline) or `ms` (absolute)."""

    statistic: str  # "median", "mean", "min", "max", "p90", ...
    kind: str       # "percent" | "ms"
    value: float

    @property
    def expr(self) -> str:
        return f"{self.statistic}:{self.value:g}{'%' if self.kind == 'percent' else 'ms'}"

    def exceeded(self, base: float, new: float) -> bool:
        """True when `new` is slower than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (new / base - 1.0) * 100.0 > self.value
        return new - base > self.value

    def improved(self, base: float, new: float) -> bool:
        """True when `new` is faster than `base` by more than the threshold."""
        if self.kind == "percent":
            return base > 0 and (1.0 - new / base) * 100.0 > self.value
        return base - new > self.value

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "kind": self.kind, "value": self.value,
                "expr": self.expr}


def _normalize_statistic(stat: str, expr: str) -> str:
    stat = stat.lower()
    if stat in ("median", "p50", "mean", "min", "max"):
        return "median" if stat == "p50" else stat
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if m and 0 < float(m.group(1)) < 100:
        return f"p{float(m.group(1)):g}"
    raise ConfigError(f"regression threshold {expr!r}: unknown statistic {stat!r}; use one of "
                      f"median, mean, min, max or a percentile pNN (p90, p99). Received: {expr!r}")


def parse_fail_expr(expr: str, default_statistic: str = "median") -> Threshold:
    """Parse a `--tfperf-compare-fail` expression.

    Args:
        expr: `STAT:N%` or `STAT:Nms` (e.g. `median:10%`, `p90:5ms`), or just `N%` / `Nms`
            for `default_statistic`.
        default_statistic: the statistic when `expr` names none (a marker's percentile).

    Returns:
        The `Threshold`.

    Raises:
        ConfigError: `expr` is not of that form.
    """
    if isinstance(expr, Threshold):
        return expr
    m = _EXPR_RE.match(str(expr))
    if not m:
        raise ConfigError(
            f"regression threshold {expr!r} is not STAT:N% or STAT:Nms; write e.g. median:10% "
            f"(10% slower than the baseline) or p90:5ms (5 ms slower). Received: {expr!r}")
    stat = _normalize_statistic(m.group("stat") or default_statistic, str(expr))
    return Threshold(stat, "percent" if m.group("unit") == "%" else "ms", float(m.group("num")))


def parse_thresholds(exprs: Iterable[str | Threshold] | str | None,
                     default_statistic: str = "median") -> tuple[Threshold, ...]:
    """Several `parse_fail_expr`s (a single string may hold comma-separated expressions)."""
    if exprs is None:
        return ()
    if isinstance(exprs, (str, Threshold)):
        exprs = [exprs]
    out: list[Threshold] = []
    for item in exprs:
        parts = [item] if isinstance(item, Threshold) else [p for p in str(item).split(",") if p.strip()]
        out.extend(parse_fail_expr(p, default_statistic) for p in parts)
    return tuple(out)


# --------------------------------------------------------------------------- comparisons
@dataclasses.dataclass(frozen=True)
class Comparison:
    """One measurement of this run against the same measurement in the baseline."""

    key: str                  # "tests/test_a.py::test_x" or "...::test_x::name"
    test_id: str
    name: str | None
    statistic: str
    base_ms: float | None
    new_ms: float | None
    ratio: float | None       # new / base
    delta_ms: float | None    # new - base
    p_value: float | None     # Mann-Whitney U on the raw samples (None: no samples)
    base_n: int
    new_n: int
    threshold: str            # the expression that decided the verdict
    verdict: str              # "ok" | "improved" | "noise" | "regressed"
    enforced: bool            # True when the threshold was asked for (a regression fails)
    note: str = ""

    @property
    def change_pct(self) -> float | None:
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0

    @property
    def failed(self) -> bool:
        return self.enforced and self.verdict == "regressed"

    def message(self, source: str | None = None) -> str:
        """One line for a failure / the report."""
        sig = ("no raw samples to test significance" if self.p_value is None else
               f"Mann-Whitney p={self.p_value:.2g}{' < ' if self.p_value < ALPHA else ' >= '}"
               f"{ALPHA:g}, n={self.base_n} vs {self.new_n}")
        change = "" if self.change_pct is None else f"{self.change_pct:+.1f}%, "
        text = (f"{self.statistic} {_ms(self.new_ms)} ms vs baseline {_ms(self.base_ms)} ms "
                f"({change}threshold {self.threshold}; {sig}): {self.verdict}")
        if source:
            text += f"; baseline {source}"
        return text

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["change_pct"] = self.change_pct
        out["failed"] = self.failed
        return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def _samples(record: dict) -> list[float]:
    return [float(v) for v in (record.get("stats") or {}).get("samples_ms") or [] if v is not None]


def statistic_value(record: dict, statistic: str) -> float | None:
    """The value (ms) of `statistic` for a measurement record: from its stats, else its samples."""
    import numpy as np

    st = record.get("stats") or {}
    key = {"median": "median_ms", "mean": "mean_ms", "min": "min_ms", "max": "max_ms"}.get(
        statistic, f"{statistic}_ms")
    if st.get(key) is not None:
        return float(st[key])
    samples = _samples(record)
    if not samples:
        return None
    if statistic.startswith("p"):
        return float(np.percentile(samples, float(statistic[1:])))
    return float({"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}[statistic](
        samples))


def compare_measurement(base: dict, new: dict, thresholds: Sequence[Threshold | str] = (),
                        *, enforced: bool | None = None) -> Comparison:
    """Compare one measurement record with its baseline record.

    Args:
        base: the baseline's measurement record (`stats` with `samples_ms`).
        new: this run's measurement record.
        thresholds: `Threshold`s or expressions; empty -> `DEFAULT_DISPLAY_EXPR`, not enforced.
        enforced: override whether a regression fails (default: True iff thresholds given).

    Returns:
        The `Comparison` of the most severe threshold (regressed > improved > noise > ok).
    """
    from .report import measurement_label
    from .stats import mann_whitney_u

    parsed = parse_thresholds(thresholds)
    if enforced is None:
        enforced = bool(parsed)
    if not parsed:
        parsed = (parse_fail_expr(DEFAULT_DISPLAY_EXPR),)
    a, b = _samples(base), _samples(new)
    p_value = float(mann_whitney_u(a, b)[1]) if a and b else None
    significant = None if p_value is None else p_value < ALPHA
    best: Comparison | None = None
    for th in parsed:
        bv, nv = statistic_value(base, th.statistic), statistic_value(new, th.statistic)
        note = ""
        if bv is None or nv is None:
            verdict, note = "ok", f"no {th.statistic} in the baseline or this run"
        elif th.exceeded(bv, nv) or th.improved(bv, nv):
            moved = "regressed" if th.exceeded(bv, nv) else "improved"
            verdict = moved if significant is not False else "noise"
            if significant is None:
                verdict, note = moved, "no raw samples: the threshold alone decides"
        else:
            verdict = "ok"
        cmp = Comparison(
            key=measurement_label(new), test_id=str(new.get("test_id") or ""),
            name=new.get("name"), statistic=th.statistic, base_ms=bv, new_ms=nv,
            ratio=(nv / bv) if (bv and nv is not None) else None,
            delta_ms=(nv - bv) if (bv is not None and nv is not None) else None,
            p_value=p_value, base_n=len(a), new_n=len(b), threshold=th.expr, verdict=verdict,
            enforced=enforced, note=note)
        if best is None or _SEVERITY[cmp.verdict] > _SEVERITY[best.verdict]:
            best = cmp
    assert best is not None
    return best


# --------------------------------------------------------------------------- baseline documents
def measurement_index(doc: dict) -> dict[str, dict]:
    """Measurement records of a baseline document keyed by `test_id[::name]`.

    Our files: the `tfperf.measurements` records. Plain pytest-benchmark files: each benchmark
    becomes a record keyed by its `fullname`, with `stats.data` (seconds) as `samples_ms`.
    A key seen twice gets `#2`, `#3`... (the same rule for this run's records).
    """
    from .report import measurement_label

    section = doc.get("tfperf")
    records: list[dict]
    if isinstance(section, dict) and isinstance(section.get("measurements"), list):
        records = [r for r in section["measurements"] if isinstance(r, dict)]
    else:
        records = [_record_from_benchmark(b) for b in doc.get("benchmarks") or []
                   if isinstance(b, dict)]
    return _keyed(records, measurement_label)


def _keyed(records: Iterable[dict], label) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rec in records:
        key, i = label(rec), 1
        while key in out:
            i += 1
            key = f"{label(rec)}#{i}"
        out[key] = rec
    return out


def _record_from_benchmark(bench: dict) -> dict:
    """A tfperf-shaped measurement record from a pytest-benchmark `benchmarks[]` entry."""
    st = bench.get("stats") or {}
    sec = (lambda k: None if st.get(k) is None else float(st[k]) * 1000.0)
    samples = [float(v) * 1000.0 for v in st.get("data") or []]
    stats = {"n": st.get("rounds", len(samples)), "samples_ms": samples, "min_ms": sec("min"),
             "max_ms": sec("max"), "mean_ms": sec("mean"), "median_ms": sec("median"),
             "std_ms": sec("stddev"), "iqr_ms": sec("iqr")}
    if not samples:  # percentiles pytest-benchmark does not store cannot be guessed
        stats = {k: v for k, v in stats.items() if k != "samples_ms"}
    return {"test_id": bench.get("fullname") or bench.get("name"), "name": None,
            "model": bench.get("group"), "stats": stats, "verdicts": []}


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"baseline file {path} cannot be read ({exc.strerror or exc}); "
                            f"check the path given to --tfperf-compare.") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"baseline file {path} is corrupt (not UTF-8 text: {exc.reason}); "
                            f"it was left untouched: delete it or compare against another run.") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path} is corrupt (not JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); it was left untouched: delete it or compare against another run.") from None
    if not isinstance(doc, dict) or not (
            isinstance(doc.get("tfperf"), dict) and isinstance(doc["tfperf"].get("measurements"), list)
            or isinstance(doc.get("benchmarks"), list)):
        found = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
        raise BaselineError(
            f"baseline file {path} is not a tfperf or pytest-benchmark results file (expected a "
            f"'benchmarks' list or a 'tfperf' section with 'measurements'; found {found}); "
            f"it was left untouched: pass a file written by --tfperf-save/--tfperf-json or "
            f"--benchmark-json.")
    for bench in doc.get("benchmarks") or []:
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise BaselineError(f"baseline file {path} is corrupt: a 'benchmarks' entry has no "
                                f"'stats' dict ({str(bench)[:80]}); it was left untouched.")
    problem = _document_problem(doc)
    if problem:
        raise BaselineError(f"baseline file {path} is corrupt: {problem}; it was left untouched: "
                            f"delete it or compare against another run.")
    return doc


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers_problem(where: str, key: str, value, *, elements: bool) -> str | None:
    """Why `value` is not a number/None (or, with `elements`, a list of numbers/None)."""
    if not elements:
        return None if value is None or _is_number(value) else (
            f"{where} {key} must be a number or null, not {_show(value)}")
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{where} {key} must be a list of numbers, not {_show(value)}"
    for j, item in enumerate(value):
        if item is not None and not _is_number(item):
            return f"{where} {key}[{j}] must be a number, not {_show(item)}"
    return None



def _list_ms(key: str) -> bool:
    """Stats keys holding lists of ms (samples, confidence intervals); other *_ms are scalars."""
    return key == "samples_ms" or key.endswith("_ci_ms")

_BENCH_NUMBERS = ("min", "max", "mean", "median", "stddev", "iqr")


def _measurement_problem(i: int, rec) -> str | None:
    """What is wrong with `tfperf.measurements[i]` (the fields comparisons read), or None."""
    where = f"record tfperf.measurements[{i}]"
    if not isinstance(rec, dict):
        return f"{where} must be an object, not {_show(rec)}"
    if not isinstance(rec.get("test_id"), str) or not rec["test_id"]:
        return f"{where} test_id must be a non-empty string, not {_show(rec.get('test_id'))}"
    if rec.get("name") is not None and not isinstance(rec["name"], str):
        return f"{where} name must be a string or null, not {_show(rec['name'])}"
    where = f"{where} ({rec['test_id']})"
    stats = rec.get("stats")
    if not isinstance(stats, dict):
        return f"{where} stats must be an object, not {_show(stats)}"
    for key, value in stats.items():
        if key.endswith("_ms"):
            problem = _numbers_problem(where, f"stats.{key}", value, elements=_list_ms(key))
            if problem:
                return problem
    return _numbers_problem(where, "stats.gated_percentile", stats.get("gated_percentile"),
                            elements=False)


def _document_problem(doc: dict) -> str | None:
    """What is wrong with the parts of a baseline document that comparisons read, or None."""
    section = doc.get("tfperf")
    if isinstance(section, dict) and isinstance(section.get("measurements"), list):
        env = section.get("environment")
        if env is not None and not isinstance(env, dict):
            return f"tfperf.environment must be an object, not {_show(env)}"
        for i, rec in enumerate(section["measurements"]):
            problem = _measurement_problem(i, rec)
            if problem:
                return problem
    else:
        for i, bench in enumerate(doc.get("benchmarks") or []):
            where = f"record benchmarks[{i}]"
            for key in ("fullname", "name", "group"):
                if bench.get(key) is not None and not isinstance(bench[key], str):
                    return f"{where} {key} must be a string, not {_show(bench[key])}"
            st = bench["stats"]
            problem = _numbers_problem(where, "stats.data", st.get("data"), elements=True) or next(
                (p for k in _BENCH_NUMBERS
                 if (p := _numbers_problem(where, f"stats.{k}", st.get(k), elements=False))), None)
            if problem:
                return problem
    machine = doc.get("machine_info")
    if machine is not None and not isinstance(machine, dict):
        return f"machine_info must be an object, not {_show(machine)}"
    if isinstance(machine, dict) and machine.get("cpu") is not None \
            and not isinstance(machine["cpu"], dict):
        return f"machine_info.cpu must be an object, not {_show(machine['cpu'])}"
    return None


def machine_id() -> str:
    """pytest-benchmark's machine id ('Linux-CPython-3.11-64bit'): the storage folder name."""
    from pytest_benchmark.utils import get_machine_id

    return get_machine_id()


def _stored(root: Path) -> list[tuple[int, str, Path]]:
    """(number, name, path) of every stored run under `root`, any machine, sorted by number."""
    found = []
    if root.is_dir():
        for path in root.glob("*/*.json"):
            m = _FILE_RE.match(path.name)
            if m:
                found.append((int(m.group(1)), m.group(2), path))
    return sorted(found, key=lambda t: (t[0], str(t[2])))


def resolve_baseline(name_or_path: str | os.PathLike | None, root: str | os.PathLike = DEFAULT_ROOT
                     ) -> Path:
    """The file `--tfperf-compare [NAME|PATH]` means: a path, `NNNN`, a name, or the latest.

    Runs of this machine id are preferred; other machines' runs are used when this one has none.
    """
    root = Path(root)
    if name_or_path not in (None, "", True, "latest"):
        candidate = Path(os.fspath(name_or_path))
        if candidate.is_file() or candidate.suffix == ".json" or os.sep in str(name_or_path):
            if not candidate.is_file():
                raise BaselineError(f"baseline file {candidate} does not exist; check the path "
                                    f"(relative paths are from {os.getcwd()!r}).")
            return candidate
    stored = _stored(root)
    own = [s for s in stored if s[2].parent.name == machine_id()]
    want = None if name_or_path in (None, "", True, "latest") else str(name_or_path)
    for pool in (own, stored):
        if want is None:
            hits = pool
        elif want.isdigit():
            hits = [s for s in pool if s[0] == int(want)]
        else:
            hits = [s for s in pool if s[1] == want]
        if hits:
            return hits[-1][2]
    names = sorted({f"{n:04d}_{name}" for n, name, _ in stored})
    what = "no stored run" if want is None else f"no stored run named {want!r}"
    raise BaselineError(f"{what} under {root}/ (looked in */NNNN_NAME.json). Available: "
                        f"{', '.join(names) if names else 'none'}; save one with "
                        f"--tfperf-save NAME or pass a file path.")


def load_baseline(name_or_path: str | os.PathLike | None = None,
                  root: str | os.PathLike = DEFAULT_ROOT) -> dict:
    """Load a stored run (ours or a plain pytest-benchmark JSON file).

    Args:
        name_or_path: a path to a .json file, a stored run's name or number, or None for the
            latest stored run.
        root: the storage folder (`.tfperf` under the project root).

    Returns:
        The document (dict) with `"_tfperf_source"` set to the file's path.

    Raises:
        BaselineError: missing, corrupt or foreign file (the message names it; never modified).
    """
    path = resolve_baseline(name_or_path, root)
    doc = _read(path)
    doc["_tfperf_source"] = str(path)
    return doc


def _slug(name: str) -> str:
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", str(name)):
        raise ConfigError(f"--tfperf-save name must be letters, digits, '_', '-' or '.' (it "
                          f"becomes a file name), e.g. main or pr-123. Received: {name!r}")
    return str(name)


def save(results, name: str, root: str | os.PathLike = DEFAULT_ROOT, *,
         document: dict | None = None) -> Path:
    """Store `results` as `<root>/<machine-id>/NNNN_<name>.json` (next free number).

    Args:
        results: the `SessionResults` (raw samples included).
        name: the run's name (`--tfperf-save NAME`).
        root: the storage folder.
        document: an already built JSON document to store (default: built now).

    Returns:
        The path written. Existing files are never overwritten.
    """
    from .atomic import write_json
    from .report.json_report import build_document

    slug = _slug(name)
    doc = document if document is not None else build_document(results)
    folder = Path(root) / machine_id()
    number = max([n for n, _, _ in _stored(Path(root))], default=0) + 1
    for _ in range(1000):
        path = folder / f"{number:04d}_{slug}.json"
        try:
            return write_json(path, doc, overwrite=False)
        except FileExistsError:
            number += 1
    raise BaselineError(f"could not find a free file name for baseline {name!r} under {folder}")


def baseline_warnings(base_doc: dict, environment: dict, machine: dict | None = None) -> list[str]:
    """Why timings may not be comparable: another machine, TensorFlow version or device."""
    src = base_doc.get("_tfperf_source", "the baseline")
    env = (base_doc.get("tfperf") or {}).get("environment") or {}
    warnings = []
    base_tf, new_tf = env.get("tensorflow"), environment.get("tensorflow")
    if base_tf and new_tf and base_tf != new_tf:
        warnings.append(f"{src} was recorded with TensorFlow {base_tf}, this run uses {new_tf}")
    base_dev, new_dev = env.get("device"), environment.get("device")
    if base_dev and new_dev and base_dev != new_dev:
        warnings.append(f"{src} was recorded on device {base_dev}, this run on {new_dev}")
    bm = base_doc.get("machine_info") or {}
    if machine:
        def ident(m):
            return (m.get("node"), (m.get("cpu") or {}).get("brand_raw"), m.get("machine"))
        if bm and ident(bm) != ident(machine):
            warnings.append(f"{src} was recorded on another machine ({_ident_text(bm)}), this run "
                            f"on {_ident_text(machine)}: timings may not be comparable")
    return warnings


def _ident_text(m: dict) -> str:
    cpu = (m.get("cpu") or {}).get("brand_raw")
    return f"node {m.get('node')!r}, cpu {cpu!r}"


def compare_runs(base_doc: dict, new_results, thresholds: Sequence[Threshold | str] = ()
                 ) -> list[Comparison]:
    """Compare every measurement of this run that the baseline also has.

    Args:
        base_doc: a `load_baseline` document.
        new_results: this run's `SessionResults`, or another document (the CLI).
        thresholds: `--tfperf-compare-fail` thresholds (empty: classify only, fail nothing).
            A record's own `regression` (from `latency_budget(..., regression="10%")`)
            replaces them for that measurement.

    Returns:
        One `Comparison` per measurement present in both, keyed by test id + measurement name.
    """
    from .report import measurement_label

    base = measurement_index(base_doc)
    if isinstance(new_results, dict):
        new = measurement_index(new_results)
    else:
        new = _keyed(new_results.measurements, measurement_label)
    out = []
    for key, rec in new.items():
        if key in base:
            own = _record_thresholds(rec)
            cmp = compare_measurement(base[key], rec, own or thresholds,
                                      enforced=True if own else None)
            out.append(dataclasses.replace(cmp, key=key))
    return out


def _record_thresholds(record: dict) -> tuple[Threshold, ...]:
    expr = record.get("regression")
    if not expr:
        return ()
    q = (record.get("stats") or {}).get("gated_percentile")
    default = "median" if q in (None, 50, 50.0) else f"p{float(q):g}"
    return parse_thresholds(expr, default_statistic=default)


def regression_for(test_id: str, comparisons: Iterable[Comparison | dict],
                   source: str | None = None) -> list[str]:
    """Failure messages for the enforced regressions of `test_id` (empty when it is fine)."""
    from .report import display_path

    source = display_path(source, os.getcwd()) if source else source
    out = []
    for c in comparisons:
        if isinstance(c, dict):
            c = Comparison(**{f.name: c.get(f.name) for f in dataclasses.fields(Comparison)})
        if c.test_id == test_id and c.failed:
            out.append(f"tfperf regression: {c.key}: {c.message(source)}")
    return out


def check_regressions(baseline_doc: dict | None, test_id: str, measurement_records: list[dict],
                      thresholds: Sequence[Threshold | str] = (),
                      regression: str | None = None) -> list[str]:
    """Per-test gate, called by the plugin at the end of each test's call phase.

    Args:
        baseline_doc: the `load_baseline` document loaded at configure time (None: no gate).
        test_id: the test's node id.
        measurement_records: the measurement records this test made (dicts).
        thresholds: `--tfperf-compare-fail` thresholds.
        regression: the test's `latency_budget(..., regression="10%")`, replacing `thresholds`.

    Returns:
        Failure messages, one per regressed measurement; empty when nothing regressed.
    """
    if not baseline_doc or not measurement_records:
        return []
    records = [dict(r, regression=r.get("regression") or regression) for r in measurement_records
               if isinstance(r, dict) and r.get("test_id") == test_id]
    if not records or not (thresholds or any(r.get("regression") for r in records)):
        return []
    from .results import SessionResults

    run = SessionResults()
    run.records["measurement"].extend(records)
    # only the enforced ones: records without their own threshold use `thresholds` (enforced)
    comparisons = [c for c in compare_runs(baseline_doc, run, thresholds) if c.enforced]
    return regression_for(test_id, comparisons, baseline_doc.get("_tfperf_source"))
