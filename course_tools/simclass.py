"""A simulated class: honest, wrong and adversarial submissions made from an assignment's release.

Recipes live in ``tests/fixtures/submissions/adversarial.yml`` (see its header). :func:`build` turns a
recipe into a notebook; :func:`simulate` builds a class of any size in a scratch course, collects it
as an LMS export, grades it (in parallel, and serially to compare), checks every student's outcome
against the recipe's expectation, and returns the figures.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml

from course_tools import classroom, grading, notebooks, sandbox

RECIPES = notebooks.course_root() / "tests" / "fixtures" / "submissions" / "adversarial.yml"
_SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def load_recipes(path: Path = RECIPES) -> list[dict]:
    """Read and check the recipe file."""
    recipes = yaml.safe_load(path.read_text()) or []
    for recipe in recipes:
        missing = {"student", "base", "expect"} - set(recipe)
        if missing:
            raise ValueError(f"{path.name}: recipe {recipe.get('student', '?')} lacks {sorted(missing)}")
    return recipes


def solved(release, source):
    """The release with every answer cell filled in from the source notebook (markers removed)."""
    nb = copy.deepcopy(release)
    answers = {_meta(c)["grade_id"]: c.source for c in source.cells if _meta(c).get("solution")}
    for cell in nb.cells:
        if _meta(cell).get("solution"):
            cell.source = _SOLUTION.sub(lambda m: m.group(1), answers[_meta(cell)["grade_id"]])
    return nb


def _cells(nb, ref: str) -> list:
    answers = [c for c in nb.cells if _meta(c).get("solution")]
    checks = [c for c in nb.cells if _meta(c).get("grade") and c.cell_type == "code"]
    markdown = [c for c in nb.cells if c.cell_type == "markdown" and _meta(c).get("locked")]
    kind, _, index = ref.partition(":")
    pools = {"answer": answers, "answers": answers, "check": checks, "checks": checks, "locked-md": markdown}
    if kind not in pools:
        raise KeyError(f"unknown cell reference {ref!r}: use answer:N, check:N, answers, checks or locked-md:N")
    return pools[kind] if not index else [pools[kind][int(index)]]


def build(recipe: dict, release, source, wrong: list[dict]):
    """The notebook a recipe describes."""
    base = recipe["base"]
    nb = copy.deepcopy(release) if base == "release" else solved(release, source)
    if base.startswith("wrong:"):
        fixture = wrong[int(base.split(":")[1]) % len(wrong)]
        for cell in nb.cells:
            if _meta(cell).get("grade_id") == fixture["cell"]:
                cell.source = fixture["code"]
    for edit in recipe.get("edits", []):
        op = edit["op"]
        for cell in _cells(nb, edit["cell"]):
            position = nb.cells.index(cell)
            if op == "prepend":
                cell.source = edit["code"] + "\n" + cell.source
            elif op == "append":
                cell.source = cell.source + "\n" + edit["code"]
            elif op == "set_source":
                cell.source = edit["code"]
            elif op == "insert_after":
                nb.cells.insert(position + 1, nbformat.v4.new_code_cell(edit["code"]))
            elif op == "delete":
                nb.cells.remove(cell)
            elif op == "duplicate":
                twin = copy.deepcopy(cell)
                twin.pop("id", None)
                nb.cells.insert(position + 1, twin)
            elif op == "set_meta":
                cell.metadata.setdefault("nbgrader", {})[edit["key"]] = edit["value"]
            else:
                raise KeyError(f"unknown op {op!r} in recipe {recipe['student']}")
    for index, cell in enumerate(nb.cells):  # unique cell ids, as a real editor keeps them
        cell["id"] = f"cell-{index}"
    return nb


def class_recipes(recipes: list[dict], students: int, wrong: list[dict]) -> list[dict]:
    """``students`` recipes: every adversarial one once, then honest solutions, blanks and wrong answers."""
    chosen = list(recipes[:students])
    honest = [{"base": "solution", "expect": {"score": "full", "status": "ok"}},
              {"base": "wrong:{n}", "expect": {"score": "below_full", "status": "ok"}},
              {"base": "solution", "expect": {"score": "full", "status": "ok"}},
              {"base": "release", "expect": {"score": "zero", "status": "ok"}}]
    n = 0
    while len(chosen) < students:
        template = dict(honest[n % len(honest)])
        template["base"] = template["base"].format(n=n // len(honest) + 1)
        chosen.append({**template, "student": f"student-{len(chosen) + 1:03d}"})
        n += 1
    return chosen


def meets(expect: dict, result: classroom.StudentResult) -> list[str]:
    """What is wrong with ``result`` against a recipe's expectation ([] when it meets it)."""
    problems = []
    statuses = expect.get("status", "ok")
    statuses = statuses if isinstance(statuses, list) else [statuses]
    if result.status not in statuses:
        problems.append(f"status {result.status} not in {statuses} ({result.detail[:200]})")
    rules = {"full": result.score == result.max_score, "zero": result.score == 0,
             "partial": 0 < result.score < result.max_score, "below_full": result.score < result.max_score}
    wanted = expect.get("score", "full")
    wanted = wanted if isinstance(wanted, list) else [wanted]
    if not any(rules[w] for w in wanted):
        problems.append(f"score {result.score}/{result.max_score} is not {wanted}")
    return problems


def make_class(course: Path, assignment: str, lms: Path, recipes: list[dict], wrong_answers: Path | None = None) -> dict[str, dict]:
    """Write one submission per recipe into ``lms`` as ``<student>_<assignment>.ipynb``; return {student: recipe}."""
    source = notebooks.read(course / "solutions" / assignment / f"{assignment}.ipynb")
    release = notebooks.read(course / "notebooks" / assignment / f"{assignment}.ipynb")
    wrong_path = wrong_answers or notebooks.course_root() / "tests" / "fixtures" / "wrong_answers" / f"{assignment}.yml"
    wrong = grading.load_fixtures(wrong_path) if wrong_path.is_file() else []
    lms.mkdir(parents=True, exist_ok=True)
    made = {}
    for recipe in recipes:
        if recipe["base"].startswith("wrong:") and not wrong:
            raise FileNotFoundError(f"recipe {recipe['student']} needs wrong answers: no {wrong_path}")
        nb = build(recipe, release, source, wrong)
        (lms / f"{recipe['student']}_{assignment}.ipynb").write_text(nbformat.writes(nb))
        made[recipe["student"]] = recipe
    return made


def prepare_course(root: Path, where: Path, assignments: list[str]) -> Path:
    """A scratch nbgrader course with ``assignments`` (config, sources and releases) copied from ``root``."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", where)
    for name in assignments:
        for folder in ("solutions", "notebooks"):
            shutil.copytree(root / folder / name, where / folder / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints", "__pycache__"))
    return where


def simulate(root: Path, assignments: list[str], out: Path, *, students: int = 30, workers: int = 2,
             limits: sandbox.Limits = sandbox.Limits(), serial: bool = False,
             recipes_path: Path = RECIPES) -> dict:
    """Build a class of ``students`` per assignment, collect, autograde, feedback, export, plot; check outcomes."""
    if out.exists():
        shutil.rmtree(out)
    course = prepare_course(root, out / "course", assignments)
    summary: dict = {"students": students, "workers": workers, "limits": limits.__dict__, "assignments": {}}
    for assignment in assignments:
        wrong_path = root / "tests" / "fixtures" / "wrong_answers" / f"{assignment}.yml"
        wrong = grading.load_fixtures(wrong_path) if wrong_path.is_file() else []
        recipes = class_recipes(load_recipes(recipes_path), students, wrong)
        made = make_class(course, assignment, out / "lms" / assignment, recipes, wrong_path)
        classroom.collect_lms(course, assignment, out / "lms" / assignment)
        figures = {}
        runs = [("parallel", workers)] + ([("serial", 1)] if serial else [])
        outcomes = {}
        for label, count in runs:
            started = time.perf_counter()
            results = classroom.autograde_class(course, assignment, workers=count, limits=limits)
            figures[f"{label}_wall_s"] = round(time.perf_counter() - started, 1)
            outcomes[label] = {r.student: r for r in results}
        results = outcomes["parallel"]
        problems = {s: meets(made[s]["expect"], r) for s, r in results.items()}
        problems = {s: p for s, p in problems.items() if p}
        if serial:
            differ = {s for s in results if results[s].score != outcomes["serial"][s].score}
            figures["serial_vs_parallel_differences"] = sorted(differ)
        html = classroom.feedback(course, assignment)
        figures.update({
            "submissions": len(made), "graded": len(results),
            "adversarial": sum(1 for s in made if not s.startswith(("student-", "honest-"))),
            "statuses": {k: sum(r.status == k for r in results.values()) for k in ("ok", "failed", "timeout", "tampered", "missing")},
            "mean_seconds_per_submission": round(sum(r.seconds for r in results.values()) / max(len(results), 1), 1),
            "unexpected": problems, "feedback_files": len(html),
        })
        summary["assignments"][assignment] = figures
        (out / "summary.json").write_text(json.dumps(summary, indent=1))  # kept as it grows: a long run can be read midway
        print(f"{assignment}: {figures['graded']}/{figures['submissions']} graded in {figures['parallel_wall_s']} s, "
              f"statuses {figures['statuses']}, unexpected {len(problems)}", file=sys.stderr, flush=True)
    grades = out / "grades.csv"
    summary["csv_rows"] = classroom.export(course, grades)
    summary["plots"] = [str(classroom.plot(grades, a, out / f"{a}-grades.png")) for a in assignments]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
