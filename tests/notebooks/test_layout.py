"""Names, metadata and the release: cheap checks on every notebook, no kernel needed."""

import re

import pytest

from course_lib.syllabus import concepts_by_module
from course_tools import notebooks, release

ROOT = notebooks.course_root()
ASSIGNMENTS = notebooks.assignments(ROOT)
MODULES = set(concepts_by_module()) | {"11-capstone"}


def _graded(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_there_is_at_least_one_assignment():
    assert ASSIGNMENTS, "solutions/ holds no NN-topic/NN-topic.ipynb"


def test_folder_names_follow_the_pattern_and_the_syllabus():
    for folder in (ROOT / "solutions").iterdir():
        if folder.name.startswith("."):
            continue
        assert notebooks.ASSIGNMENT_PATTERN.match(folder.name), f"solutions/{folder.name} is not named NN-topic"
        assert (folder / f"{folder.name}.ipynb").is_file(), f"solutions/{folder.name}/ lacks {folder.name}.ipynb"
        assert folder.name in MODULES, f"{folder.name} is not a module of the syllabus ({sorted(MODULES)})"


def test_release_has_exactly_the_solution_assignments():
    released = sorted(p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert released == ASSIGNMENTS, "notebooks/ and solutions/ hold different assignments: run `make release`"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_is_committed_clean(name):
    path = notebooks.solution_path(name, ROOT)
    expected = notebooks.dumps(notebooks.normalise(notebooks.read(path)))
    assert path.read_text() == expected, f"{path.name} carries outputs or machine metadata: run `make release`"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_nbgrader_cells_are_well_formed(name):
    nb = notebooks.read(notebooks.solution_path(name, ROOT))
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate grade_ids: {duplicates}"
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    graded = _graded(nb)
    assert len(graded) >= 4, f"{name} has {len(graded)} graded cells; a module needs at least four exercises"
    for cell in answers:
        gid = cell.metadata["nbgrader"]["grade_id"]
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, f"{gid} lacks solution markers"
    for cell in graded:
        meta, gid = cell.metadata["nbgrader"], cell.metadata["nbgrader"]["grade_id"]
        assert cell.cell_type == "code" and meta.get("locked") and meta.get("points", 0) > 0, f"{gid}: graded cells are locked code with points"
        assert cell.source.lstrip().startswith("# Check:"), f"{gid}: a graded cell's first line says what it checks ('# Check: ...')"
        assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, f"{gid}: no hidden tests"
        assert not re.search(r"^\s*assert\b", cell.source, re.M), f"{gid}: use course_lib.feedback checks, not bare assert"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_lesson_has_objectives_and_key_points(name):
    nb = notebooks.read(notebooks.solution_path(name, ROOT))
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for heading in ("learning objectives", "prerequisites", "key points", "in production"):
        assert heading in text, f"{name} has no '{heading}' section"


@pytest.mark.notebook
def test_release_matches_a_fresh_regeneration(tmp_path):
    release.generate(ROOT, tmp_path, ASSIGNMENTS)
    diffs = [d for name in ASSIGNMENTS for d in release.differences(tmp_path / name, ROOT / "notebooks" / name)]
    assert not diffs, "notebooks/ is not the release of solutions/ (run `make release`):\n" + "\n".join(diffs)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_lesson_ends_with_the_learners_progress(name):
    nb = notebooks.read(notebooks.solution_path(name, ROOT))
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "progress-md" in ids and "key-points" in ids, f"{name} lacks the 'Your progress' section before Key points"
    cell = nb.cells[ids.index("progress-md") + 1]
    assert f'show_progress("{name}")' in cell.source, f"{name}: the cell after 'Your progress' must call show_progress(\"{name}\")"
    assert ids.index("progress-md") < ids.index("key-points"), f"{name}: 'Your progress' comes before Key points"
