"""Report wiring for the plugin: options, the compare step, outputs, xdist, JUnit.

The plugin calls (see each function's docstring):
- `worker_finish(config, results)` in `pytest_sessionfinish` (xdist workers ship results),
- `controller_merge(results, node)` in `pytest_testnodedown`,
- `write_outputs(options, results, rootdir)` in `pytest_sessionfinish` on the controller,
- `terminal_summary(terminalreporter, options, results)` in `pytest_terminal_summary`,
- `junit_properties(records)` to fill `item.user_properties`.
`finalize()` (the compare step: environment, comparisons against the baseline) runs once,
from whichever of the last two comes first. Renderers only read what it stored.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from .results import SessionResults

WORKEROUTPUT_KEY = "tfperf_results"  # the key plugin.pytest_testnodedown reads


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    """What the command line asked for (built by the plugin from `config`).

    `compare` is None when not comparing, "" (or "latest") for the latest stored run, else a
    stored run's name/number or a file path. `compare_fail` holds the `--tfperf-compare-fail`
    expressions. Relative output paths are taken relative to the current directory (as
    pytest-benchmark does); `.tfperf/` lives in `rootdir`.
    """

    report: bool = False
    profile: bool = False
    json_path: str | None = None
    markdown_path: str | None = None
    html_path: str | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: tuple[str, ...] = ()
    rootdir: str | None = None

    @property
    def comparing(self) -> bool:
        return self.compare is not None

    @property
    def storage(self) -> Path:
        from .baseline import DEFAULT_ROOT

        return Path(self.rootdir or ".") / DEFAULT_ROOT

    @classmethod
    def from_settings(cls, settings) -> ReportOptions:
        """Options from the plugin's `session.Settings` (same field names)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {name: getattr(settings, name) for name in fields if hasattr(settings, name)}
        values["compare_fail"] = tuple(values.get("compare_fail") or ())
        return cls(**values)


# --------------------------------------------------------------------------- environment
def tensorflow_version() -> str | None:
    """TensorFlow's version without importing it (installed distribution metadata)."""
    mod = sys.modules.get("tensorflow")
    if mod is not None and getattr(mod, "__version__", None):
        return str(mod.__version__)
    from importlib import metadata

    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def collect_environment(results: SessionResults, rootdir: str | os.PathLike | None) -> None:
    """Fill run-wide facts that are missing (TF version, device, machine id, rootdir)."""
    from .baseline import machine_id

    env = results.environment
    env.setdefault("tensorflow", tensorflow_version())
    if not env.get("device"):
        devices = sorted({str(r["device"]) for r in results.measurements if r.get("device")})
        env["device"] = ", ".join(devices) if devices else None
    env.setdefault("machine_id", machine_id())
    if rootdir is not None:
        env.setdefault("rootdir", os.fspath(rootdir))


def finalize(options: ReportOptions, results: SessionResults, baseline_doc: dict | None = None
             ) -> None:
    """The compare step, once per session: environment, then comparisons with the baseline.

    Args:
        options: the report options.
        results: the merged session results (mutated: environment, "comparison" records).
        baseline_doc: the baseline the plugin loaded at configure time (loaded here if None).

    A baseline that cannot be loaded is recorded as a warning (the per-test gate already
    reported the error at configure time); it never raises here.
    """
    if getattr(results, "_tfperf_finalized", False):
        return
    collect_environment(results, options.rootdir)
    if options.comparing:
        from .baseline import baseline_warnings, compare_runs, load_baseline
        from .errors import TfperfError

        info: dict[str, Any] = {"warnings": []}
        try:
            doc = baseline_doc if baseline_doc is not None else load_baseline(
                options.compare or None, options.storage)
            info["path"] = doc.get("_tfperf_source")
            from .report.json_report import machine_info

            info["warnings"] = baseline_warnings(doc, results.environment, machine_info())
            results.records["comparison"] = [
                c.to_dict() for c in compare_runs(doc, results, options.compare_fail)]
        except TfperfError as exc:
            info["warnings"].append(str(exc))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # a baseline `_read` let through (a document given in memory, a shape it does not
            # check): the report still comes out, with the reason instead of a traceback
            info["warnings"].append(
                f"baseline {info.get('path') or options.compare or 'latest'} could not be "
                f"compared ({type(exc).__name__}: {exc}); no comparisons in this report")
            results.records["comparison"] = []
        results.environment["baseline"] = info
    results._tfperf_finalized = True  # not in environment: that is stored in reports


# --------------------------------------------------------------------------- outputs
def write_outputs(options: ReportOptions, results: SessionResults,
                  rootdir: str | os.PathLike | None = None, baseline_doc: dict | None = None
                  ) -> list[Path]:
    """Write the JSON / Markdown / HTML reports, the saved baseline and the step summary.

    Call on the controller (not on xdist workers) in `pytest_sessionfinish`, after merging.

    Args:
        options: the report options.
        results: the merged session results.
        rootdir: the project root (default `options.rootdir`).
        baseline_doc: the baseline loaded at configure time, if any.

    Returns:
        The paths written (also listed in the terminal summary).
    """
    from .atomic import write_json, write_text
    from .baseline import save
    from .report import html, json_report, markdown

    if rootdir is not None and options.rootdir is None:
        options = dataclasses.replace(options, rootdir=os.fspath(rootdir))
    from .errors import TfperfError

    finalize(options, results, baseline_doc)
    written: list[Path] = []
    errors: list[str] = []

    def attempt(option: str, target, write):
        # one output that cannot be written (disk full, a parent replaced by a file...) must not
        # crash pytest nor cost the others: it becomes an error line and a failing exit status
        try:
            return write()
        except (OSError, TfperfError) as exc:
            errors.append(f"{option} {target}: not written ({type(exc).__name__}: {exc})")
            return None

    doc = None
    if options.json_path or options.save:
        doc = json_report.build_document(results)
    if options.json_path:
        written.append(attempt("--tfperf-json", options.json_path,
                               lambda: write_json(options.json_path, doc)))
    if options.save:
        path = attempt("--tfperf-save", options.save,
                       lambda: save(results, options.save, options.storage, document=doc))
        if path is not None:
            results.environment["saved_baseline"] = str(path)
    md = None
    if options.markdown_path:
        md = markdown.render(results)
        written.append(attempt("--tfperf-markdown", options.markdown_path,
                               lambda: write_text(options.markdown_path, md)))
    if options.html_path:
        written.append(attempt("--tfperf-html", options.html_path,
                               lambda: write_text(options.html_path, html.render(results))))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (options.report or options.markdown_path) and not results.is_empty():
        def append_summary():
            with open(summary, "a", encoding="utf-8") as fh:  # appended to, as GitHub expects
                fh.write((md or markdown.render(results)) + "\n")
        attempt("GITHUB_STEP_SUMMARY", summary, append_summary)
    written = [p for p in written if p is not None]
    results.environment["written"] = [str(p) for p in written]
    if errors:
        results.environment["write_errors"] = errors
    return written


def terminal_summary(terminalreporter, options, results) -> None:
    """Print the tfperf sections (`--tfperf-report`; budget failures and comparisons always).

    Call in `pytest_terminal_summary` on the controller (`not hasattr(config, "workerinput")`)
    as `terminal_summary(tr, ReportOptions, SessionResults)`, or as `terminal_summary(tr,
    config, tfperf_session)` (the plugin's objects).
    """
    from .report.terminal import sections

    baseline_doc = None
    if not isinstance(options, ReportOptions):  # (config, TfperfSession)
        baseline_doc = getattr(results, "baseline", None)
        options = ReportOptions.from_settings(results.settings)
        results = results.results
    finalize(options, results, baseline_doc)
    width = 100  # the tables' contract, whatever the terminal (CI logs are wide)
    for title, lines in sections(results, report=options.report, profile=options.profile,
                                 compare=options.comparing, width=width):
        red = title.endswith("failures")
        terminalreporter.write_sep("-", title, red=red, bold=red)
        for line in lines:
            terminalreporter.write_line(line)
    for error in results.environment.get("write_errors") or ():
        terminalreporter.write_line(f"tfperf: ERROR {error}", red=True, bold=True)


# --------------------------------------------------------------------------- xdist
def worker_finish(config, results: SessionResults) -> None:
    """On an xdist worker: ship `results` to the controller (in `pytest_sessionfinish`)."""
    output = getattr(config, "workeroutput", None)
    if output is not None:
        from .atomic import jsonable

        output[WORKEROUTPUT_KEY] = jsonable(results.to_dict())


def controller_merge(results: SessionResults, node) -> None:
    """On the controller: merge a finished worker's results (in `pytest_testnodedown`).

    A worker that crashed sends nothing; its records are simply missing.
    """
    data = (getattr(node, "workeroutput", None) or {}).get(WORKEROUTPUT_KEY)
    if isinstance(data, dict):
        results.merge(data)


# --------------------------------------------------------------------------- plugin glue
# Entry points with the signatures `plugin_support` calls (session = `session.TfperfSession`).
def prepare_compare(session, settings) -> None:
    """Configure time: load the baseline and parse the thresholds into `session`.

    Raises:
        BaselineError: the baseline is missing, corrupt or foreign (names the file).
        ConfigError: a bad `--tfperf-compare-fail` expression, or one without `--tfperf-compare`.
    """
    from .baseline import load_baseline, parse_thresholds
    from .errors import ConfigError

    options = ReportOptions.from_settings(settings)
    session.thresholds = list(parse_thresholds(options.compare_fail))
    if options.compare is None:
        if options.compare_fail:
            raise ConfigError("--tfperf-compare-fail needs --tfperf-compare [NAME|PATH] (the run "
                              f"to compare with). Received: --tfperf-compare-fail "
                              f"{' '.join(options.compare_fail)} without --tfperf-compare")
        return
    session.baseline = load_baseline(options.compare or None, options.storage)


def check_test_regressions(session, item) -> list[str]:
    """End of a test's call phase: failure messages for its regressed measurements."""
    from .plugin_support import latency_budget_of

    budget = latency_budget_of(item)  # parsed: positional or keyword, stripped, validated
    regression = budget.regression if budget else None
    records = [r for r in session.results.measurements if r.get("test_id") == item.nodeid]
    from .baseline import check_regressions

    return check_regressions(session.baseline, item.nodeid, records, session.thresholds,
                             regression)


def session_finish(config, session) -> None:
    """`pytest_sessionfinish`: a worker ships its results; the controller writes the outputs."""
    if getattr(config, "workerinput", None) is not None:
        worker_finish(config, session.results)
        return
    write_outputs(ReportOptions.from_settings(session.settings), session.results,
                  baseline_doc=session.baseline)


# --------------------------------------------------------------------------- JUnit XML
def junit_properties(measurement_records: list[dict]) -> list[tuple[str, str]]:
    """`(name, value)` pairs for `item.user_properties`: median, budget, verdict per measurement.

    Names are `tfperf[<measurement>].median_ms`, `.budget`, `.verdict` (`<measurement>` is the
    record's name, else its model, else its index).
    """
    from .report import all_passed, budget_text, fmt_ms, main_verdict, verdict_text

    props: list[tuple[str, str]] = []
    for i, rec in enumerate(measurement_records):
        label = rec.get("name") or rec.get("model") or str(i)
        verdicts = rec.get("verdicts") or []
        st = rec.get("stats") or {}
        props.append((f"tfperf[{label}].median_ms", fmt_ms(st.get("median_ms"))))
        props.append((f"tfperf[{label}].budget", budget_text(main_verdict(verdicts))))
        props.append((f"tfperf[{label}].verdict", verdict_text(all_passed(verdicts))))
    return props
