"""Shape checks of a result file's document (`results.file`): what is wrong with the parts
that comparisons and reports read, as a phrase for the error that names the file."""
from __future__ import annotations

__all__ = ["document_problem", "is_number", "show"]


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers_problem(where: str, key: str, value, *, elements: bool) -> str | None:
    """Why `value` is not a number/None (or, with `elements`, a list of numbers/None)."""
    if not elements:
        return None if value is None or is_number(value) else (
            f"{where} {key} must be a number or null, not {show(value)}")
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{where} {key} must be a list of numbers, not {show(value)}"
    for j, item in enumerate(value):
        if item is not None and not is_number(item):
            return f"{where} {key}[{j}] must be a number, not {show(item)}"
    return None


def _list_ms(key: str) -> bool:
    """Stats keys holding lists of ms (samples, confidence intervals); other *_ms are scalars."""
    return key.endswith("samples_ms") or key.endswith("_ci_ms")  # cpu_samples_ms too


_BENCH_NUMBERS = ("min", "max", "mean", "median", "stddev", "iqr")


def _measurement_problem(i: int, rec) -> str | None:
    """What is wrong with `tfperf.measurements[i]` (the fields comparisons read), or None."""
    where = f"record tfperf.measurements[{i}]"
    if not isinstance(rec, dict):
        return f"{where} must be an object, not {show(rec)}"
    if not isinstance(rec.get("test_id"), str) or not rec["test_id"]:
        return f"{where} test_id must be a non-empty string, not {show(rec.get('test_id'))}"
    if rec.get("name") is not None and not isinstance(rec["name"], str):
        return f"{where} name must be a string or null, not {show(rec['name'])}"
    where = f"{where} ({rec['test_id']})"
    stats = rec.get("stats")
    if not isinstance(stats, dict):
        return f"{where} stats must be an object, not {show(stats)}"
    for key, value in stats.items():
        if key.endswith("_ms"):
            problem = _numbers_problem(where, f"stats.{key}", value, elements=_list_ms(key))
            if problem:
                return problem
    return _numbers_problem(where, "stats.gated_percentile", stats.get("gated_percentile"),
                            elements=False) or _blocks_problem(where, stats.get("blocks"))


def _blocks_problem(where: str, blocks) -> str | None:
    """What is wrong with `stats.blocks` (a list of per-block statistics), or None."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return f"{where} stats.blocks must be a list of objects, not {show(blocks)}"
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            return f"{where} stats.blocks[{j}] must be an object, not {show(block)}"
        for key, value in block.items():
            if key.endswith("_ms") or key == "n":
                problem = _numbers_problem(where, f"stats.blocks[{j}].{key}", value, elements=False)
                if problem:
                    return problem
    return None


def document_problem(doc: dict) -> str | None:
    """What is wrong with the parts of a baseline document that comparisons read, or None."""
    section = doc.get("tfperf")
    if isinstance(section, dict) and isinstance(section.get("measurements"), list):
        env = section.get("environment")
        if env is not None and not isinstance(env, dict):
            return f"tfperf.environment must be an object, not {show(env)}"
        for i, rec in enumerate(section["measurements"]):
            problem = _measurement_problem(i, rec)
            if problem:
                return problem
    else:
        for i, bench in enumerate(doc.get("benchmarks") or []):
            where = f"record benchmarks[{i}]"
            for key in ("fullname", "name", "group"):
                if bench.get(key) is not None and not isinstance(bench[key], str):
                    return f"{where} {key} must be a string, not {show(bench[key])}"
            st = bench["stats"]
            problem = _numbers_problem(where, "stats.data", st.get("data"), elements=True) or next(
                (p for k in _BENCH_NUMBERS
                 if (p := _numbers_problem(where, f"stats.{k}", st.get(k), elements=False))), None)
            if problem:
                return problem
    machine = doc.get("machine_info")
    if machine is not None and not isinstance(machine, dict):
        return f"machine_info must be an object, not {show(machine)}"
    if isinstance(machine, dict) and machine.get("cpu") is not None \
            and not isinstance(machine["cpu"], dict):
        return f"machine_info.cpu must be an object, not {show(machine['cpu'])}"
    return None
