"""Every concept of an existing module is taught (markdown) and graded (a check cell), by tag."""

import pytest

from course_lib.syllabus import TAG_PREFIX, concepts, concepts_by_module
from course_tools import notebooks

ROOT = notebooks.course_root()
ASSIGNMENTS = notebooks.assignments(ROOT)
IDS = {c.id for c in concepts()}


def _tags(nb):
    taught, graded = set(), set()
    for cell in nb.cells:
        ids = {t[len(TAG_PREFIX):] for t in cell.metadata.get("tags", []) if t.startswith(TAG_PREFIX)}
        if cell.cell_type == "markdown":
            taught |= ids
        elif cell.metadata.get("nbgrader", {}).get("grade"):
            graded |= ids
    return taught, graded


def test_the_syllabus_has_70_unique_concepts():
    ids = [c.id for c in concepts()]
    assert len(ids) == 70 == len(set(ids))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_tags_name_known_concepts(name):
    nb = notebooks.read(notebooks.solution_path(name, ROOT))
    taught, graded = _tags(nb)
    unknown = (taught | graded) - IDS
    assert not unknown, f"{name} tags unknown concept ids {sorted(unknown)} (see course_lib/concepts.tsv)"


@pytest.mark.parametrize("name", [m for m in concepts_by_module() if m in ASSIGNMENTS])
def test_every_concept_of_the_module_is_taught_and_graded(name):
    nb = notebooks.read(notebooks.solution_path(name, ROOT))
    taught, graded = _tags(nb)
    wanted = {c.id for c in concepts_by_module()[name]}
    assert not wanted - taught, f"{name}: not taught in a markdown cell tagged concept:<id>: {sorted(wanted - taught)}"
    assert not wanted - graded, f"{name}: not checked by a graded cell tagged concept:<id>: {sorted(wanted - graded)}"
