"""The instructor's path from submissions to grades, for a whole class, in parallel.

    python -m course_tools.classroom collect   NN-topic --lms export/        # or --exchange
    python -m course_tools.classroom autograde NN-topic --workers 2 --timeout 60
    python -m course_tools.classroom feedback  NN-topic                      # hidden tests never shown
    python -m course_tools.classroom export                                  # classroom/grades.csv
    python -m course_tools.classroom plot      NN-topic                      # classroom/NN-topic/grades.png
    python -m course_tools.classroom simulate  NN-topic --students 30 --workers 2 --serial

Design (nbgrader grades one student at a time and keeps one SQLite gradebook):

1. the assignment is registered once in the course gradebook and in a *template* scratch course;
2. each student is graded by ``nbgrader autograde`` in a scratch course of its own (a copy of the
   template: config, source, gradebook) holding only that student's submission, with a gradebook in a
   separate private folder, in a clean environment under resource limits (:mod:`course_tools.sandbox`);
   ``--workers`` such runs go at once;
3. the parent process alone writes the course gradebook: after each run it merges the per-cell auto
   scores, clipped to the course's own points, through ``nbgrader.api.Gradebook``, and copies the
   autograded notebook into ``autograded/``. A run that failed, timed out or was flagged as tampering
   still gets its row (0 points, ``needs_manual_grade``) and its reason in ``classroom/<A>/report.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from course_tools import notebooks, sandbox

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
FEEDBACK_PREPROCESSORS = ["nbgrader.preprocessors.GetGrades", "course_tools.classroom.HideHiddenTests",
                          "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]


@dataclass
class StudentResult:
    """One student's grading outcome."""

    student: str
    status: str = "ok"          # ok | failed | timeout | tampered | missing
    score: float = 0.0          # what the course gradebook records (0 unless status is ok)
    max_score: float = 0.0
    raw_score: float = 0.0      # what nbgrader's run gave, before the tampering and consistency rules
    seconds: float = 0.0
    detail: str = ""
    findings: list[str] = field(default_factory=list)
    cells: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- collect
def _stamp(path: Path, when: float) -> None:
    (path / "timestamp.txt").write_text(dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime(TIMESTAMP_FORMAT))


def collect_lms(course: Path, assignment: str, lms_dir: Path) -> dict[str, Path]:
    """Copy an LMS export into ``submitted/<student>/<assignment>/<assignment>.ipynb`` with a timestamp.

    Accepts ``<lms_dir>/<student>_<anything>.ipynb`` and ``<lms_dir>/<student>/<file>.ipynb``; when a
    student has several notebooks the newest (by modification time) wins. Returns {student: source}.
    """
    if not lms_dir.is_dir():
        raise FileNotFoundError(f"no LMS export folder at {lms_dir}")
    chosen: dict[str, Path] = {}
    for path in sorted(lms_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        relative = path.relative_to(lms_dir)
        student = relative.parts[0] if len(relative.parts) > 1 else path.stem.split("_")[0]
        if not STUDENT_ID.match(student):
            raise ValueError(f"{relative}: cannot use {student!r} as a student id (letters, digits, '.', '-')")
        if student not in chosen or path.stat().st_mtime > chosen[student].stat().st_mtime:
            chosen[student] = path
    if not chosen:
        raise FileNotFoundError(f"no .ipynb files under {lms_dir}")
    for student, path in chosen.items():
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / f"{assignment}.ipynb")
        _stamp(target, path.stat().st_mtime)
    return chosen


def collect_exchange(course: Path, assignment: str) -> None:
    """``nbgrader collect`` from the exchange (the course's own configuration)."""
    _nbgrader(["collect", assignment], course)


# --------------------------------------------------------------------------------------- grading
def _nbgrader(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a trusted nbgrader command (no submission code runs) with a throw-away home."""
    with tempfile.TemporaryDirectory(prefix="nbgrader-home-") as home:
        result = sandbox.run_limited([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd,
                                     env or sandbox.clean_env(Path(home)),
                                     sandbox.Limits(cell_timeout=0, wall_seconds=1800, memory_mb=None, cpu_seconds=None))
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")


def register(course: Path, assignment: str) -> None:
    """Record ``assignment`` (its graded cells and points) in the course gradebook; ``notebooks/`` untouched."""
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"no source notebook {source}")
    release = Path(tempfile.mkdtemp(prefix="release-"))
    try:
        _nbgrader(["generate_assignment", assignment, "--force", f"--CourseDirectory.release_directory={release}"], course)
    finally:
        shutil.rmtree(release, ignore_errors=True)


def _template(course: Path, assignment: str, where: Path) -> Path:
    """A scratch course with the config, the source and a gradebook knowing ``assignment``."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(course / "nbgrader_config.py", where)
    shutil.copytree(course / "solutions" / assignment, where / "solutions" / assignment, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints", "__pycache__"))
    _nbgrader(["generate_assignment", assignment, "--force"], where)
    return where


def _course_points(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {f"{nb.name}/{cell.name}": cell.max_score
                for nb in gradebook.find_assignment(assignment).notebooks for cell in nb.grade_cells}


def grade_one(template: Path, assignment: str, student: str, submission: Path, limits: sandbox.Limits,
              points: dict[str, float], keep: Path, root: Path | None = None) -> StudentResult:
    """Autograde one submission in its own scratch course; return its result (never raises on bad code)."""
    import nbformat

    result = StudentResult(student, max_score=sum(points.values()))
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="grade-", dir=root))
    private = Path(tempfile.mkdtemp(prefix="gb-", dir=root))  # the gradebook is not below the submission's folder
    try:
        shutil.copy(template / "nbgrader_config.py", scratch)  # no solutions/: the gradebook is enough
        shutil.copy(template / "gradebook.db", private / "gradebook.db")
        target = scratch / "submitted" / student / assignment
        shutil.copytree(submission.parent, target, ignore=shutil.ignore_patterns("workspace", "feedback", "*.db"))
        try:
            path = target / f"{assignment}.ipynb"
            nb = nbformat.read(str(path), as_version=4)
            source = nbformat.read(str(template / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
            scan = sandbox.scan_submission(nb, source)
            result.findings = [f"cell {f.cell}: {f.kind} ({f.detail})" for f in scan.findings]
            repairs = sandbox.repair_submission(nb, source)
            if repairs:
                result.findings += [f"repaired: {note}" for note in repairs]
                nbformat.write(nb, str(path))
        except Exception as error:  # unreadable JSON: nbgrader will fail on it too
            scan, result.findings = sandbox.Scan(), [f"unreadable notebook: {error}"]
        run = sandbox.run_limited(
            [sys.executable, "-m", "nbgrader", "autograde", assignment, f"--student={student}", "--force",
             f"--ExecutePreprocessor.timeout={limits.cell_timeout}", f"--CourseDirectory.db_url=sqlite:///{private / 'gradebook.db'}",
             "--log-level=WARN"],
            scratch, sandbox.clean_env(scratch / "home", TMPDIR=str(_mkdir(scratch / "home" / "tmp"))), limits)
        autograded = scratch / "autograded" / student / assignment / f"{assignment}.ipynb"
        if scan.tampered:
            result.status, result.detail = "tampered", "code that can make checks pass without the answer: " + scan.summary()
        if run.timed_out and not scan.tampered:
            result.status, result.detail = "timeout", f"killed after {limits.wall_seconds} s (wall-clock limit)"
        elif (run.returncode != 0 or not autograded.is_file()) and not scan.tampered:
            lines = [line for line in run.stderr.splitlines() if "ERROR" in line or "Error" in line]
            result.status, result.detail = "failed", (" | ".join(lines[-3:]) or run.stderr[-500:]).strip()
        elif run.returncode == 0 and autograded.is_file():
            result.cells = _scores(private / "gradebook.db", assignment, student, points, autograded)
            result.raw_score = sum(result.cells.values())
            result.score = result.raw_score if not scan.tampered else 0.0
        if autograded.is_file():
            destination = keep / student / assignment
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copy(autograded, destination / f"{assignment}.ipynb")
    except Exception as error:  # the grader's own failure must not lose the student's row
        result.status, result.detail = "failed", f"grader error: {type(error).__name__}: {error}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _scores(db: Path, assignment: str, student: str, points: dict[str, float], autograded: Path) -> dict[str, float]:
    """Per-cell auto scores from a scratch gradebook, trusted only where the notebook agrees.

    A score is clipped to the course's points, and a cell that did not run or shows an error scores 0
    whatever the scratch gradebook says (a submission could have written to its own copy).
    """
    import nbformat
    from nbgrader.api import Gradebook

    failed = set()
    for cell in nbformat.read(str(autograded), as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        errors = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if cell.cell_type == "code" and (errors or cell.get("execution_count") is None):
            failed.add(grade_id)
    scores = {}
    with Gradebook(f"sqlite:///{db}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                key = f"{notebook.name}/{grade.name}"
                if key in points:
                    auto = float(grade.auto_score or 0.0)
                    scores[key] = 0.0 if grade.name in failed else min(max(auto, 0.0), points[key])
    return {key: scores.get(key, 0.0) for key in points}


def merge(course: Path, assignment: str, result: StudentResult, timestamp: str | None) -> None:
    """Write one student's result into the course gradebook (the only writer)."""
    from nbgrader.api import Gradebook, MissingEntry

    url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.update_or_create_student(result.student)
        if result.status == "missing":  # nbgrader's own convention: no submission row, 0 in exports
            return
        try:
            gradebook.remove_submission(assignment, result.student)
        except MissingEntry:
            pass
    with Gradebook(url) as gradebook, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session")  # nbgrader's add_submission, harmless
        kwargs = {"timestamp": timestamp} if timestamp else {}
        submission = gradebook.add_submission(assignment, result.student, **kwargs)
        trusted = result.status == "ok"
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = result.cells.get(f"{notebook.name}/{grade.name}", 0.0) if trusted else 0.0
                grade.needs_manual_grade = not trusted
        gradebook.db.commit()


def autograde_class(course: Path, assignment: str, *, students: list[str] | None = None, workers: int = 2,
                    limits: sandbox.Limits = sandbox.Limits(), progress: bool = True) -> list[StudentResult]:
    """Autograde every submission of ``assignment`` (``submitted/<student>/<assignment>/``) in parallel."""
    from tqdm.auto import tqdm

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    submitted = course / "submitted"
    found = sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir()) if submitted.is_dir() else []
    students = students or found
    if not students:
        raise FileNotFoundError(f"no submissions under {submitted}/<student>/{assignment}/")
    register(course, assignment)
    points = _course_points(course, assignment)
    root = Path(tempfile.mkdtemp(prefix="classroom-"))  # every scratch course of this run, removed at the end
    template = _template(course, assignment, Path(tempfile.mkdtemp(prefix="template-", dir=root)))
    root.chmod(0o300)  # unguessable names in a folder nobody can list (root ignores this: see docs/instructor.md)
    keep = course / "autograded"
    results: list[StudentResult] = []
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = {}
            for student in students:
                notebook = submitted / student / assignment / f"{assignment}.ipynb"
                if not notebook.is_file():
                    results.append(StudentResult(student, "missing", max_score=sum(points.values()),
                                                 detail=f"no {notebook.relative_to(course)}"))
                    continue
                jobs[pool.submit(grade_one, template, assignment, student, notebook, limits, points, keep, root)] = student
            for job in tqdm(as_completed(jobs), total=len(jobs), desc=f"autograde {assignment}", disable=not progress):
                results.append(job.result())
        for result in results:  # one writer, after the workers
            stamp = submitted / result.student / assignment / "timestamp.txt"
            merge(course, assignment, result, stamp.read_text().strip() if stamp.is_file() else None)
    finally:
        root.chmod(0o700)
        shutil.rmtree(root, ignore_errors=True)
    results.sort(key=lambda r: r.student)
    report = {"assignment": assignment, "workers": workers, "limits": asdict(limits),
              "wall_seconds": round(time.perf_counter() - started, 2), "students": [asdict(r) for r in results]}
    out = course / "classroom" / assignment
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return results


# --------------------------------------------------------------------------------------- feedback
class HideHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden tests: their source lines, and every traceback of a graded cell.

    nbgrader 0.9.6's feedback shows the autograded notebook, whose test cells were restored WITH their
    hidden tests (upstream #917, #1363); a failing check's traceback quotes the failing line and its
    neighbours. This keeps the visible part of each test cell and, for errors, only the final
    ``Error: message`` line (the check's own explanation).
    """

    def preprocess_cell(self, cell, resources, index):  # noqa: D102
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            return cell, resources
        visible = notebooks.without_hidden_tests(cell.source)
        if visible.splitlines() != cell.source.splitlines():
            visible += "\n# (more checks ran here: the grader's hidden tests are not shown)"
        cell.source = visible
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def feedback(course: Path, assignment: str) -> list[Path]:
    """``nbgrader generate_feedback`` with :class:`HideHiddenTests`; returns the HTML files written."""
    flags = [f"--GenerateFeedback.preprocessors={name}" for name in FEEDBACK_PREPROCESSORS]
    _nbgrader(["generate_feedback", assignment, "--force", *flags], course)
    return sorted((course / "feedback").glob(f"*/{assignment}/*.html"))


# --------------------------------------------------------------------------------------- export, plot
def export(course: Path, out: Path) -> int:
    """Write one CSV row per (student, assignment) with score, max, status and flags; return the row count."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for assignment in gradebook.assignments:
            report_path = course / "classroom" / assignment.name / "report.json"
            report = {s["student"]: s for s in json.loads(report_path.read_text())["students"]} if report_path.is_file() else {}
            for student in gradebook.students:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                    score, status = submission.score, report.get(student.id, {}).get("status", "graded")
                except Exception:
                    score, status = 0.0, "missing"
                info = report.get(student.id, {})
                rows.append({"student": student.id, "assignment": assignment.name, "score": round(score, 2),
                             "max_score": assignment.max_score, "status": status,
                             "seconds": info.get("seconds", ""), "detail": info.get("detail", "")})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["student", "assignment", "score", "max_score", "status", "seconds", "detail"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def plot(grades_csv: Path, assignment: str, out: Path) -> Path:
    """A histogram of the scores of ``assignment`` from an exported CSV, statuses other than ok marked."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(grades_csv.open()) if r["assignment"] == assignment]
    if not rows:
        raise KeyError(f"no rows for {assignment!r} in {grades_csv}")
    maximum = float(rows[0]["max_score"])
    scores = [float(r["score"]) for r in rows]
    graded = [float(r["score"]) for r in rows if r["status"] in ("ok", "graded")]
    review = [float(r["score"]) for r in rows if r["status"] not in ("ok", "graded")]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist([graded, review], bins=[x - 0.5 for x in range(int(maximum) + 2)], stacked=True, edgecolor="white",
            color=["#4c72b0", "#dd8452"], label=["graded", "to review (failed, timeout, tampered, missing)"])
    ax.legend(frameon=False)
    ax.set(xlabel=f"score (out of {maximum:g})", ylabel="students",
           title=f"{assignment}: {len(rows)} students, median {sorted(scores)[len(scores) // 2]:g}, {len(review)} to review")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------- CLI
def _limits(args) -> sandbox.Limits:
    return sandbox.Limits(cell_timeout=args.timeout, wall_seconds=args.wall, memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds)


def _add_grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2; about one per core)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell before it is interrupted (default 60)")
    parser.add_argument("--wall", type=int, default=900, help="seconds per submission before its process group is killed (default 900)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per process, MB (default 4096)")
    parser.add_argument("--cpu-seconds", type=int, default=900, help="CPU-time limit per process, s (default 900)")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m course_tools.classroom", description=__doc__.split("\n\n")[0],
                                     epilog="The path, in order:\n" + __doc__.split("\n\n")[1] + "\n\nSee docs/instructor.md.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=notebooks.course_root(), help="the nbgrader course folder (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("collect", help="gather submissions into submitted/<student>/<assignment>/")
    p.add_argument("assignment")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--lms", type=Path, help="folder of <student>_<anything>.ipynb or <student>/<file>.ipynb")
    group.add_argument("--exchange", action="store_true", help="nbgrader collect from the exchange")
    p = sub.add_parser("autograde", help="grade every submission of an assignment in parallel, isolated")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only these students (repeatable)")
    _add_grading_options(p)
    p = sub.add_parser("feedback", help="HTML feedback per student, hidden tests removed")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="grades of every assignment as CSV")
    p.add_argument("--out", type=Path, help="default: classroom/grades.csv in the course")
    p = sub.add_parser("plot", help="grade distribution of one assignment as PNG (from the exported CSV)")
    p.add_argument("assignment")
    p.add_argument("--grades", type=Path, help="the exported CSV (default: classroom/grades.csv in the course)")
    p.add_argument("--out", type=Path, help="default: classroom/<assignment>/grades.png in the course")
    p = sub.add_parser("simulate", help="a simulated class (honest, wrong, adversarial) graded end to end in a scratch course")
    p.add_argument("assignment", nargs="+")
    p.add_argument("--students", type=int, default=30, help="class size (the adversarial cases first, then honest mixes)")
    p.add_argument("--serial", action="store_true", help="also grade the class with one worker, to compare")
    p.add_argument("--out", type=Path, help="folder for the scratch course and results (default: classroom/simulation in the course)")
    _add_grading_options(p)
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "collect":
        if args.exchange:
            collect_exchange(course, args.assignment)
        else:
            print(f"collected {len(collect_lms(course, args.assignment, args.lms))} submissions")
    elif args.command == "autograde":
        results = autograde_class(course, args.assignment, students=args.student, workers=args.workers, limits=_limits(args))
        for r in results:
            print(f"{r.student:24} {r.score:5g}/{r.max_score:<5g} {r.status:9} {r.seconds:7.1f} s  {r.detail[:80]}")
    elif args.command == "feedback":
        print(f"{len(feedback(course, args.assignment))} feedback files in {course / 'feedback'}")
    elif args.command == "export":
        out = args.out or course / "classroom" / "grades.csv"
        print(f"{export(course, out)} rows written to {out}")
    elif args.command == "plot":
        print(plot(args.grades or course / "classroom" / "grades.csv", args.assignment,
                   args.out or course / "classroom" / args.assignment / "grades.png"))
    elif args.command == "simulate":
        from course_tools import simclass

        summary = simclass.simulate(course, args.assignment, (args.out or course / "classroom" / "simulation").resolve(), students=args.students,
                                    workers=args.workers, limits=_limits(args), serial=args.serial)
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
