"""Where the renderers' output goes: report files, the saved baseline, the terminal, JUnit.

- `write_outputs(settings, results)`: the controller's JSON / Markdown / HTML files,
  `--tfperf-save`, and GitHub's step summary (one failed write is an error line, not a crash);
- `terminal_summary(terminalreporter, settings, results)`: the tfperf sections of pytest's summary,
  at pytest's terminal width, then one line per file written;
- `header_lines(settings)`: tfperf's line in pytest's header (timing settings, threads, runtime);
- `junit_properties(records)`: `item.user_properties` for JUnit XML.
Every number shown was computed by the measurement, budget or compare step (`baseline.finalize`,
which the session runs once, before any of these: they read finalized results).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["header_lines", "junit_properties", "settings_summary", "terminal_summary", "terminal_width",
           "write_outputs"]


def write_outputs(settings, results, errors: list[str] | None = None) -> list[Path]:
    """Write the JSON / Markdown / HTML reports, the saved baseline and the step summary.

    Args:
        settings: the run's `options.Settings` (`json_path`, `markdown_path`, `html_path`,
            `save`, `report`, `rootdir`...).
        results: the merged session results, finalized (`baseline.finalize`).
        errors: error lines found before the outputs (the history store's), reported with theirs.

    Returns:
        The paths written (also listed in the terminal summary).
    """
    from pytest_tfperf.atomic import write_text
    from pytest_tfperf.baseline import save
    from pytest_tfperf.errors import TfperfError
    from pytest_tfperf.report import html, markdown
    from pytest_tfperf.results.file import build_document, write_result_file

    results.environment.setdefault("settings", settings_summary(
        settings, runtime={"tensorflow": results.environment.get("tensorflow")}))
    written: list[Path] = []
    errors = list(errors or [])

    def attempt(option: str, target, write):
        # one output that cannot be written (disk full, a parent replaced by a file...) must not
        # crash pytest nor cost the others: it becomes an error line and a failing exit status
        try:
            return write()
        except (OSError, TfperfError) as exc:
            errors.append(f"{option} {target}: not written ({type(exc).__name__}: {exc})")
            return None

    files: list[dict] = []  # {"kind", "path"} of every file written, for the terminal lines

    def note(kind: str, path):
        if path is not None:
            files.append({"kind": kind, "path": str(path)})
        return path

    if (h := results.environment.get("history")):  # appended by history.session_end
        note(f"{h['label']} to the history", h["path"])
    doc = None
    if settings.json_path or settings.save:
        doc = build_document(results)
    if settings.json_path:
        written.append(note("JSON report", attempt("--tfperf-json", settings.json_path,
                                                   lambda: write_result_file(settings.json_path, doc))))
    if settings.save:
        path = attempt("--tfperf-save", settings.save,
                       lambda: save(results, settings.save, settings.storage, document=doc))
        if path is not None:
            results.environment["saved_baseline"] = str(path)
            note(f"baseline '{settings.save}'", path)
    md = None
    if settings.markdown_path:
        md = markdown.render(results)
        written.append(note("Markdown report", attempt("--tfperf-markdown", settings.markdown_path,
                                                       lambda: write_text(settings.markdown_path, md))))
    if settings.html_path:
        written.append(note("HTML report", attempt("--tfperf-html", settings.html_path,
                                                   lambda: write_text(settings.html_path, html.render(results)))))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (settings.report or settings.markdown_path) and not results.is_empty():
        def append_summary():
            with open(summary, "a", encoding="utf-8") as fh:  # appended to, as GitHub expects
                fh.write((md or markdown.render(results)) + "\n")
            return True
        if attempt("GITHUB_STEP_SUMMARY", summary, append_summary):
            note("GitHub step summary (appended)", summary)
    written = [p for p in written if p is not None]
    results.environment["written"] = [str(p) for p in written]
    results.environment["written_files"] = files
    if errors:
        results.environment["write_errors"] = errors
    return written


def terminal_summary(terminalreporter, settings, results) -> None:
    """Print the tfperf sections (`--tfperf-report`; budget failures and comparisons always) of
    finalized results. Call in `pytest_terminal_summary` on the controller (not on xdist
    workers), after `TfperfSession.finish` ran the compare step.
    """
    from pytest_tfperf.report.terminal import render_written, sections

    width = terminal_width(terminalreporter)
    for title, lines in sections(results, report=settings.report, profile=settings.profile,
                                 compare=settings.comparing, width=width):
        red = title.endswith("failures")
        terminalreporter.write_sep("-", title, red=red, bold=red)
        for line in lines:
            terminalreporter.write_line(line)
    for line in render_written(results, os.getcwd()):
        terminalreporter.write_line(line)
    for error in results.environment.get("write_errors") or ():
        terminalreporter.write_line(f"tfperf: ERROR {error}", red=True, bold=True)


def terminal_width(terminalreporter, default: int = 80) -> int:
    """pytest's terminal width (`COLUMNS`, else the terminal's size, else 80), as its own
    separator lines use it."""
    writer = getattr(terminalreporter, "_tw", None)
    width = getattr(writer, "fullwidth", None)
    return int(width) if isinstance(width, int) and width > 0 else default


def header_lines(settings, *, pytest_benchmark: bool = False) -> list[str]:
    """`pytest_report_header`'s lines: tfperf's own timing settings, threads and runtime (so
    they are not read off pytest-benchmark's `benchmark:` line, which is about its fixture)."""
    from pytest_tfperf.baseline.compare import tensorflow_version
    from pytest_tfperf.plugin.header import render_header

    return render_header(settings_summary(settings, runtime={"tensorflow": tensorflow_version()}),
                         pytest_benchmark=pytest_benchmark)


def settings_summary(settings, runtime: dict | None = None) -> dict:
    """The run's timing settings (`TimingSettings.to_dict()`), threads, budget scale and
    runtime: for the terminal header and the JSON report's `tfperf.settings`."""
    out = settings.timing_settings().to_dict()
    out.update(intra_op_threads=settings.intra_op_threads, inter_op_threads=settings.inter_op_threads,
               budget_scale=settings.budget_scale)
    if runtime is not None:
        out["runtime"] = runtime
    return out


def junit_properties(measurement_records) -> list[tuple[str, str]]:
    """`(name, value)` pairs for `item.user_properties`: median, budget, verdict per measurement.

    Names are `tfperf[<measurement>].median_ms`, `.budget`, `.verdict` (`<measurement>` is the
    record's name, else its model, else its index).
    """
    from pytest_tfperf.report import all_passed, budget_text, main_verdict, verdict_text
    from pytest_tfperf.wording import format_ms

    props: list[tuple[str, str]] = []
    for i, rec in enumerate(measurement_records):
        label = rec.name or rec.model or str(i)
        verdicts = rec.verdicts
        props.append((f"tfperf[{label}].median_ms", format_ms((rec.stats or {}).get("median_ms"))))
        props.append((f"tfperf[{label}].budget", budget_text(main_verdict(verdicts))))
        props.append((f"tfperf[{label}].verdict", verdict_text(all_passed(verdicts))))
    return props
