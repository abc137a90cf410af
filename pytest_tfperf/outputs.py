"""Where the renderers' output goes: report files, the saved baseline, the terminal, JUnit.

- `write_outputs(settings, results, baseline_doc)`: the controller's JSON / Markdown / HTML
  files, `--tfperf-save`, and GitHub's step summary (one failed write is an error line, not a crash);
- `terminal_summary(terminalreporter, settings, results)`: the tfperf sections of pytest's summary;
- `junit_properties(records)`: `item.user_properties` for JUnit XML.
Every number shown was computed by the measurement, budget or compare step (`baseline.finalize`).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["junit_properties", "terminal_summary", "write_outputs"]


def write_outputs(settings, results, baseline_doc: dict | None = None) -> list[Path]:
    """Write the JSON / Markdown / HTML reports, the saved baseline and the step summary.

    Args:
        settings: the run's `options.Settings` (`json_path`, `markdown_path`, `html_path`,
            `save`, `report`, `rootdir`...).
        results: the merged session results.
        baseline_doc: the baseline loaded at configure time, if any.

    Returns:
        The paths written (also listed in the terminal summary).
    """
    from .atomic import write_json, write_text
    from .baseline import finalize, save
    from .errors import TfperfError
    from .report import html, json_report, markdown

    finalize(settings, results, baseline_doc)
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
    if settings.json_path or settings.save:
        doc = json_report.build_document(results)
    if settings.json_path:
        written.append(attempt("--tfperf-json", settings.json_path,
                               lambda: write_json(settings.json_path, doc)))
    if settings.save:
        path = attempt("--tfperf-save", settings.save,
                       lambda: save(results, settings.save, settings.storage, document=doc))
        if path is not None:
            results.environment["saved_baseline"] = str(path)
    md = None
    if settings.markdown_path:
        md = markdown.render(results)
        written.append(attempt("--tfperf-markdown", settings.markdown_path,
                               lambda: write_text(settings.markdown_path, md)))
    if settings.html_path:
        written.append(attempt("--tfperf-html", settings.html_path,
                               lambda: write_text(settings.html_path, html.render(results))))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (settings.report or settings.markdown_path) and not results.is_empty():
        def append_summary():
            with open(summary, "a", encoding="utf-8") as fh:  # appended to, as GitHub expects
                fh.write((md or markdown.render(results)) + "\n")
        attempt("GITHUB_STEP_SUMMARY", summary, append_summary)
    written = [p for p in written if p is not None]
    results.environment["written"] = [str(p) for p in written]
    if errors:
        results.environment["write_errors"] = errors
    return written


def terminal_summary(terminalreporter, settings, results, baseline_doc: dict | None = None) -> None:
    """Print the tfperf sections (`--tfperf-report`; budget failures and comparisons always).

    Call in `pytest_terminal_summary` on the controller (not on xdist workers).
    """
    from .baseline import finalize
    from .report.terminal import sections

    finalize(settings, results, baseline_doc)
    width = 100  # the tables' contract, whatever the terminal (CI logs are wide)
    for title, lines in sections(results, report=settings.report, profile=settings.profile,
                                 compare=settings.comparing, width=width):
        red = title.endswith("failures")
        terminalreporter.write_sep("-", title, red=red, bold=red)
        for line in lines:
            terminalreporter.write_line(line)
    for error in results.environment.get("write_errors") or ():
        terminalreporter.write_line(f"tfperf: ERROR {error}", red=True, bold=True)


def junit_properties(measurement_records) -> list[tuple[str, str]]:
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
