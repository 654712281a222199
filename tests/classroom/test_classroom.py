"""The classroom kit: collect, parallel isolated autograde, feedback without hidden tests, export, plot.

The class test grades a simulated class (every recipe of tests/fixtures/submissions/adversarial.yml:
honest, wrong and adversarial submissions) of a tiny assignment with two workers, and checks each
student's outcome, the gradebook, the feedback and the isolation.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from course_tools import classroom, notebooks, sandbox, simclass

from classroom_tiny import HIDDEN_WORDS, TINY, hidden_lines, tiny_notebook

ROOT = notebooks.course_root()


# ------------------------------------------------------------------------------------------ fast
@pytest.mark.parametrize("command", [[], ["collect"], ["autograde"], ["feedback"], ["export"], ["plot"], ["simulate"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        classroom.main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_collect_reads_both_lms_layouts_and_keeps_the_newest(tmp_path):
    from nbgrader.utils import parse_utc

    lms = tmp_path / "lms"
    (lms / "bob").mkdir(parents=True)
    text = nbformat.writes(nbformat.v4.new_notebook())
    (lms / "alice_attempt1.ipynb").write_text(text)
    os.utime(lms / "alice_attempt1.ipynb", (1_700_000_000, 1_700_000_000))
    (lms / "alice_attempt2.ipynb").write_text(text)
    (lms / "bob" / "my work.ipynb").write_text(text)
    chosen = classroom.collect_lms(tmp_path / "course", "00-foundations", lms)
    assert {s: p.name for s, p in chosen.items()} == {"alice": "alice_attempt2.ipynb", "bob": "my work.ipynb"}
    for student in ("alice", "bob"):
        folder = tmp_path / "course" / "submitted" / student / "00-foundations"
        assert (folder / "00-foundations.ipynb").is_file()
        parse_utc((folder / "timestamp.txt").read_text())  # nbgrader can read it


def test_collect_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no LMS export folder"):
        classroom.collect_lms(tmp_path, "00-foundations", tmp_path / "missing")
    (tmp_path / "lms").mkdir()
    (tmp_path / "lms" / "bad id!_x.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="student id"):
        classroom.collect_lms(tmp_path, "00-foundations", tmp_path / "lms")


@pytest.mark.parametrize("code, kind", [
    ("import course_lib.feedback as fb\nfb.check = lambda *a, **k: None", "patches-module"),
    ("from course_lib import feedback\nsetattr(feedback, 'check_equal', print)", "patches-module"),
    ("import course_lib.feedback\ncourse_lib.feedback.passed = print", "patches-module"),
    ("import builtins\nbuiltins.isinstance = lambda *a: True", "patches-module"),
    ("import sys\nsys.modules['course_lib.feedback'] = object()", "patches-module"),
    ("def check_equal(*args, **kwargs):\n    pass", "rebinds-check"),
    ("check = lambda *args, **kwargs: None", "rebinds-check"),
    ("import IPython.core.interactiveshell as shell\nshell.InteractiveShell.showtraceback = lambda *a, **k: None", "patches-module"),
    ("exec('x = 1')", "dynamic-code"),
    ("open('../../../gradebook.db', 'wb')", "gradebook"),
])
def test_scan_flags_attacks_on_the_checks(code, kind):
    findings = sandbox.scan_source(code, 3, set(sandbox.FEEDBACK_NAMES))
    assert any(f.kind == kind and f.tamper for f in findings), findings


@pytest.mark.parametrize("name", notebooks.assignments(ROOT))
def test_scan_does_not_flag_the_courses_own_solutions(name):
    if not notebooks.release_path(name, ROOT).is_file():
        pytest.skip(f"{name} has no release yet")
    source = notebooks.read(notebooks.solution_path(name, ROOT))
    solved = simclass.solved(notebooks.read(notebooks.release_path(name, ROOT)), source)
    scan = sandbox.scan_submission(solved, source)
    assert not scan.tampered, f"{name}: the solution itself is flagged: {scan.summary()}"
    assert sandbox.repair_submission(solved, source) == []


def test_repair_restores_metadata_and_neutralises_copies():
    source = tiny_notebook()
    nb = simclass.build({"student": "x", "base": "solution", "expect": {}, "edits": [
        {"op": "set_meta", "cell": "check:1", "key": "points", "value": 100},
        {"op": "set_meta", "cell": "check:2", "key": "grade_id", "value": "mine"},
        {"op": "duplicate", "cell": "check:0"}]}, source, source, [])
    notes = sandbox.repair_submission(nb, source)
    assert len(notes) == 4, notes
    graded = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    # the renamed check became an ordinary cell, and the real one is back in its place
    assert [(m["grade_id"], m["points"]) for m in graded] == [("ex1-add-check", 2), ("ex2-mean-check", 1), ("ex3-words-check", 2)]


def _ids(nb) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id", "-") for c in nb.cells]


def test_repair_puts_a_deleted_check_back_after_a_read_only_text_cell():
    # nbgrader 0.9.6's add_missing_cells fails the whole submission with KeyError when the source cell
    # just before the missing check is a read-only text cell; the repair puts the check back first.
    source = tiny_notebook()
    nb = simclass.build({"student": "x", "base": "solution", "expect": {}, "edits": [{"op": "delete", "cell": "check:0"}]},
                        source, source, [])
    assert "ex1-add-check" not in _ids(nb)
    notes = sandbox.repair_submission(nb, source)
    assert notes and "put back" in notes[0], notes
    assert _ids(nb) == _ids(source), "the check is not back at its place"
    restored = nb.cells[_ids(nb).index("ex1-add-check")]
    assert restored.cell_type == "code" and restored.metadata["nbgrader"]["points"] == 2
    assert not any(word in restored.source for word in HIDDEN_WORDS), "the restored cell shows hidden tests"


@pytest.mark.parametrize("name", ["00-foundations", "01-data", "06-cicd", "08-deployment-strategies"])
def test_repair_puts_deleted_checks_of_a_lesson_back_where_they_were(name):
    source = notebooks.read(notebooks.solution_path(name, ROOT))
    release = notebooks.read(notebooks.release_path(name, ROOT))
    nb = simclass.solved(release, source)
    expected = [c.source for c in nb.cells]
    checks = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    for i in reversed(checks[::2]):  # every other check deleted
        del nb.cells[i]
    notes = sandbox.repair_submission(nb, source)
    assert len(notes) == len(checks[::2]), notes
    assert _ids(nb) == _ids(release)
    # nbgrader replaces a restored check's code from the gradebook; the plain cells around it must not move
    # (a stand-in cell after a check must stay after it, or the check would grade the stand-in)
    assert [c.source for i, c in enumerate(nb.cells) if i not in checks] == [s for i, s in enumerate(expected) if i not in checks]


def test_hide_hidden_tests_keeps_the_visible_part_and_the_message_only():
    cell = next(c for c in tiny_notebook().cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1-add-check")
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="✗ add(-7, 7)",
                                           traceback=[f"line 7: {hidden_lines()[1]}", "CheckFailed: ✗ add(-7, 7)"])]
    cleaned, _ = classroom.HideHiddenTests().preprocess_cell(cell, {}, 4)
    text = cleaned.source + json.dumps(cleaned.outputs)
    assert not any(word in text for word in HIDDEN_WORDS), text
    assert "check_equal(add(2, 3)" in cleaned.source and "hidden tests are not shown" in cleaned.source
    assert cleaned.outputs[0]["traceback"] == ["CheckFailed: ✗ add(-7, 7)"]


def test_clean_env_passes_no_secrets(monkeypatch, tmp_path):
    for name in ("SECRET_TOKEN", "MLFLOW_TRACKING_URI", "COURSE_WORKSPACE", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN"):
        monkeypatch.setenv(name, "x")
    env = sandbox.clean_env(tmp_path / "home")
    assert not {"SECRET_TOKEN", "MLFLOW_TRACKING_URI", "COURSE_WORKSPACE", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN"} & set(env)
    assert env["HOME"] == str(tmp_path / "home") and env[sandbox.MARKER]


def test_wall_clock_limit_kills_the_group_and_escaped_children(tmp_path):
    escapee = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True); time.sleep(120)"
    env = sandbox.clean_env(tmp_path / "home")
    result = sandbox.run_limited([sys.executable, "-c", escapee], tmp_path, env, sandbox.Limits(wall_seconds=3))
    assert result.timed_out and result.seconds < 30
    assert result.swept >= 1, "the child in its own session was not found"
    time.sleep(0.5)
    left = [p for p in psutil.process_iter() if _marker(p) == env[sandbox.MARKER] and _alive(p)]
    assert not left, f"processes left behind: {left}"


def test_memory_limit_stops_a_hog(tmp_path):
    result = sandbox.run_limited([sys.executable, "-c", "x = bytearray(3 * 1024**3)"], tmp_path,
                                 sandbox.clean_env(tmp_path / "home"), sandbox.Limits(memory_mb=512, wall_seconds=60))
    assert result.returncode != 0 and "MemoryError" in result.stderr


def test_every_recipe_builds_for_the_exemplar():
    source = notebooks.read(notebooks.solution_path("00-foundations", ROOT))
    release = notebooks.read(notebooks.release_path("00-foundations", ROOT))
    wrong = classroom_wrong("00-foundations")
    for recipe in simclass.load_recipes():
        nb = simclass.build(recipe, release, source, wrong)
        nbformat.validate(nb)
    assert len(simclass.class_recipes(simclass.load_recipes(), 30, wrong)) == 30


def classroom_wrong(name):
    from course_tools import grading

    return grading.load_fixtures(ROOT / "tests" / "fixtures" / "wrong_answers" / f"{name}.yml")


def _alive(proc):
    try:
        return proc.status() != psutil.STATUS_ZOMBIE  # killed, waiting for its parent to reap it
    except psutil.Error:
        return False


def _marker(proc):
    try:
        return proc.environ().get(sandbox.MARKER)
    except (psutil.Error, OSError):
        return None


# ------------------------------------------------------------------------------------------ a class
# One test grades the class and checks everything: with pytest-xdist, tests of one module may run on
# different workers, and a shared module fixture would then grade the class twice.
@pytest.mark.notebook
def test_a_simulated_class_is_graded_fairly_and_safely(tiny_root, tmp_path):
    """Every recipe once, graded with two workers, a secret in the grader's environment."""
    saved = os.environ.get("SECRET_TOKEN")
    os.environ["SECRET_TOKEN"] = "do-not-leak"
    try:
        summary = simclass.simulate(tiny_root, [TINY], tmp_path / "class", students=len(simclass.load_recipes()), workers=2,
                                    limits=sandbox.Limits(cell_timeout=5, wall_seconds=60, memory_mb=1536, cpu_seconds=60))
    finally:
        os.environ.pop("SECRET_TOKEN") if saved is None else os.environ.update(SECRET_TOKEN=saved)
    course = tmp_path / "class" / "course"
    _every_student_is_graded_as_expected(summary)
    _gradebook_has_every_row_and_only_earned_points(course)
    _feedback_never_shows_hidden_tests(course)
    _plain_nbgrader_feedback_leaks_hidden_tests(course, tmp_path / "plain")
    _submissions_see_no_classmates_and_no_secrets(course)
    _nothing_is_left_running()
    _export_and_plot(course, tmp_path)


def _every_student_is_graded_as_expected(summary):
    figures = summary["assignments"][TINY]
    assert figures["graded"] == figures["submissions"] == len(simclass.load_recipes())
    assert figures["unexpected"] == {}, json.dumps(figures["unexpected"], indent=1)


def _gradebook_has_every_row_and_only_earned_points(course):
    from nbgrader.api import Gradebook

    report = {s["student"]: s for s in json.loads((course / "classroom" / TINY / "report.json").read_text())["students"]}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s.id: gradebook.find_submission(TINY, s.id).score for s in gradebook.students}
    assert set(scores) == set(report)
    assert scores["honest-solution"] == 5 and scores["honest-wrong"] == 3 and scores["honest-blank"] == 0
    for student in ("patches-feedback", "patches-through-exec"):
        assert report[student]["raw_score"] == 5, f"{student}: the attack should have fooled plain nbgrader"
        assert scores[student] == 0 and report[student]["status"] == "tampered"
    assert all(s["seconds"] > 0 for s in report.values())
    assert json.loads((course / "classroom" / TINY / "report.json").read_text())["wall_seconds"] > 0


def _feedback_never_shows_hidden_tests(course):
    files = sorted((course / "feedback").glob(f"*/{TINY}/{TINY}.html"))
    assert {f.parts[-3] for f in files} >= {"honest-solution", "honest-wrong", "honest-blank"}
    for path in files:
        text = html.unescape(path.read_text())
        leaked = [line for line in hidden_lines() if line in text] + [w for w in HIDDEN_WORDS if w in text]
        assert not leaked, f"{path.parts[-3]}: hidden tests in the feedback: {leaked}"
    wrong = html.unescape((course / "feedback" / "honest-wrong" / TINY / f"{TINY}.html").read_text())
    assert "✗ add(2, 3)" in wrong and "hidden tests are not shown" in wrong  # the check's message still shows


def _plain_nbgrader_feedback_leaks_hidden_tests(course, where):
    """Why HideHiddenTests exists: nbgrader 0.9.6's own feedback shows them (upstream #917, #1363).

    With nbgrader's default feedback preprocessors the hidden tests show; with the course's
    nbgrader_config.py, plain `nbgrader generate_feedback` hides them too.
    """
    defaults = ["--GenerateFeedback.preprocessors=nbgrader.preprocessors.GetGrades",
                "--GenerateFeedback.preprocessors=nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    for label, extra, leaks in (("default", defaults, True), ("course", [], False)):
        out = where / label
        result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", TINY, "--student=honest-wrong",
                                 "--force", f"--CourseDirectory.feedback_directory={out}", *extra],
                                cwd=course, env=sandbox.clean_env(where / "home"), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        text = html.unescape((out / "honest-wrong" / TINY / f"{TINY}.html").read_text())
        shown = any(word in text for word in HIDDEN_WORDS)
        if leaks:
            assert shown, "plain nbgrader no longer leaks: HideHiddenTests may go"
        else:
            assert not shown, "nbgrader_config.py's feedback preprocessors let hidden tests through"


def _submissions_see_no_classmates_and_no_secrets(course):
    nb = nbformat.read(str(course / "autograded" / "snoops-on-others" / TINY / f"{TINY}.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "SNOOP" in printed and "do-not-leak" not in printed and "SECRET_TOKEN" not in printed
    listed = printed.split("SNOOP", 1)[1].split("\n", 1)[0]
    others = [s["student"] for s in json.loads((course / "classroom" / TINY / "report.json").read_text())["students"]
              if s["student"] != "snoops-on-others"]
    if os.geteuid() != 0:  # root reads any folder: see docs/instructor.md
        assert not [s for s in others if s in listed], listed
    assert "../../../submitted/snoops-on-others" in listed and "../../../submitted/honest" not in listed


def _nothing_is_left_running():
    daemons = [p for p in psutil.process_iter(["cmdline"]) if "update grade set auto_score" in " ".join(p.info["cmdline"] or [])]
    assert not daemons, f"a submission's background process survived: {daemons}"


def _export_and_plot(course, tmp_path):
    rows = classroom.export(course, tmp_path / "grades.csv")
    assert rows == len(simclass.load_recipes())
    png = classroom.plot(tmp_path / "grades.csv", TINY, tmp_path / "grades.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
