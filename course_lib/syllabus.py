"""The course's syllabus: 70 MLOps concepts, each with a stable id and the module that teaches it.

The list lives in ``course_lib/concepts.tsv``. Notebook cells that teach or grade a
concept carry the tag ``concept:<id>``; the test suite checks that every concept
of an existing module is both taught and graded.

Introduced in 00-foundations.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

__all__ = ["Concept", "concepts", "concepts_by_module", "TAG_PREFIX"]

TAG_PREFIX = "concept:"


@dataclass(frozen=True)
class Concept:
    """One syllabus entry: ``id`` (e.g. ``"model-registry"``), its ``module``, its ``title``
    and the numbers of the glossary questions it merges."""

    id: str
    module: str
    title: str
    questions: tuple[int, ...]

    @property
    def tag(self) -> str:
        """The cell tag that marks this concept, e.g. ``concept:model-registry``."""
        return f"{TAG_PREFIX}{self.id}"


def concepts() -> list[Concept]:
    """All concepts in syllabus order.

    Introduced in 00-foundations.
    """
    text = resources.files("course_lib").joinpath("concepts.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return [
        Concept(row["id"], row["suggested_module"], row["concept"],
                tuple(int(q) for q in row["seed_questions"].split(",")))
        for row in rows
    ]


def concepts_by_module() -> dict[str, list[Concept]]:
    """Concepts grouped by module, modules in order.

    Introduced in 00-foundations.
    """
    grouped: dict[str, list[Concept]] = {}
    for concept in concepts():
        grouped.setdefault(concept.module, []).append(concept)
    return dict(sorted(grouped.items()))
