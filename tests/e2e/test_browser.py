"""A learner's first session, in a real (headless) Chromium: JupyterLab, the first notebook, Run All, feedback.

The learner has answered the first exercise (its cell holds the solution) and not the others. In the
browser: *Run → Run All Cells* runs the notebook down to the first unanswered exercise, which raises
``NotImplementedError``; the first exercise's check shows its ✓ line. Then the learner runs the stub
and check cell of a later exercise by hand and sees the check fail. Screenshots go to the test's
temporary folder, and to ``$COURSE_ARTIFACTS`` when that is set. Last, the launcher's *MLflow UI*
tile opens a tab that shows the experiment the notebook just logged.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

MODULE = "00-foundations"
ANSWERED = "ex1-fingerprint"            # filled with the solution before the notebook is opened
UNANSWERED = "ex2-train-and-log"        # Run All stops at the first call of this stub
RUN_BY_HAND = "ex3-passes-gate"         # its stub and check are run one by one after Run All


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _check_after(nb, index: int) -> int:
    return next(i for i in range(index + 1, len(nb.cells)) if nb.cells[i].metadata.get("nbgrader", {}).get("grade"))


def _answer_first_exercise(course: Path) -> nbformat.NotebookNode:
    release = course / "notebooks" / MODULE / f"{MODULE}.ipynb"
    solution = nbformat.read(course / "solutions" / MODULE / f"{MODULE}.ipynb", as_version=4)
    nb = nbformat.read(release, as_version=4)
    nb.cells[_index(nb, ANSWERED)].source = solution.cells[_index(solution, ANSWERED)].source
    nbformat.write(nb, release)
    return nb


def _screenshot(page, folder: Path, name: str) -> Path:
    shot = folder / name
    page.screenshot(path=str(shot))
    artifacts = os.environ.get("COURSE_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    return shot


def _output_text(cell) -> str:
    outputs = cell.locator(".jp-OutputArea-output")
    return "\n".join(outputs.all_inner_texts())


def test_run_all_in_a_real_browser_shows_the_feedback(course, lab_factory, chromium, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    nb = _answer_first_exercise(course)
    answered_check = _check_after(nb, _index(nb, ANSWERED))
    halt = _index(nb, UNANSWERED) + 1
    assert "train_and_log(" in nb.cells[halt].source, "the notebook changed: pick the cell Run All stops at"
    by_hand = _index(nb, RUN_BY_HAND)
    by_hand_check = _check_after(nb, by_hand)

    started = time.monotonic()
    lab = lab_factory(course)
    timings = {"lab ready": time.monotonic() - started}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), **chromium, viewport={"width": 1400, "height": 1000})
        try:
            context.set_default_timeout(120_000)  # a busy 2-core machine is slow to render JupyterLab
            page = context.new_page()
            page.goto(f"{lab.url}/lab/tree/notebooks/{MODULE}/{MODULE}.ipynb?token={lab.token}")
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells.nth(len(nb.cells) - 1)).to_be_attached(timeout=120_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(timeout=120_000)
            assert page.locator("text=Would you like to receive official Jupyter news?").count() == 0
            timings["notebook open, kernel idle"] = time.monotonic() - started

            cells.nth(0).click()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # Run All runs down to the first unanswered exercise, where the learner's stub raises.
            try:
                expect(cells.nth(halt).locator(".jp-OutputArea-output")).to_contain_text(
                    "NotImplementedError", timeout=150_000)
            except AssertionError:
                _screenshot(page, tmp_path, "browser-run-all-failed.png")
                errors = {i: _output_text(cells.nth(i))[-300:] for i in range(len(nb.cells))
                          if cells.nth(i).locator(".jp-OutputArea-output[data-mime-type*='error']").count()}
                raise AssertionError(f"Run All did not stop at cell {halt}; cells with errors: {errors}; "
                                     f"screenshot in {tmp_path}") from None
            timings["Run All stopped at the unanswered exercise"] = time.monotonic() - started
            passing = cells.nth(answered_check)
            assert "✓" in _output_text(passing), f"no ✓ under the answered exercise: {_output_text(passing)!r}"
            assert "Error" not in _output_text(passing)
            passing.scroll_into_view_if_needed()
            _screenshot(page, tmp_path, "browser-passing-check.png")

            # The learner runs a later exercise's (unanswered) cell, then its check.
            cells.nth(by_hand).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            page.keyboard.press("Shift+Enter")
            failing = cells.nth(by_hand_check)
            expect(failing.locator(".jp-OutputArea-output")).to_contain_text("NotImplementedError", timeout=60_000)
            assert "✓" not in _output_text(failing)
            failing.scroll_into_view_if_needed()
            _screenshot(page, tmp_path, "browser-failing-check.png")
            timings["failing check shown"] = time.monotonic() - started

            # The MLflow UI tile of the launcher opens a tab on the store this notebook has just written to.
            page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="New Launcher").first.click()
            tile = page.locator(".jp-LauncherCard", has_text="MLflow UI").first
            expect(tile).to_be_visible(timeout=120_000)
            with context.expect_page(timeout=120_000) as opened:
                tile.click()
            ui = opened.value
            ui.wait_for_load_state(timeout=150_000)
            assert ui.url.startswith(f"{lab.url}/mlflow"), ui.url
            expect(ui.get_by_text("churn-foundations").first).to_be_visible(timeout=90_000)
            _screenshot(ui, tmp_path, "browser-mlflow-ui.png")
            timings["MLflow UI shows the notebook's experiment"] = time.monotonic() - started
        except Exception:
            for number, shown in enumerate(context.pages):
                shown.screenshot(path=str(tmp_path / f"browser-failure-{number}.png"))
            raise
        finally:
            context.close()
    print("\n" + "\n".join(f"{what}: {seconds:.1f} s" for what, seconds in timings.items()))
    print(f"screenshots: {tmp_path}")
