"""Regenerate the student release ``notebooks/`` from the master copy ``solutions/``.

    course-release                 # every assignment, into notebooks/
    course-release 00-foundations  # one assignment
    course-release --out DIR       # somewhere else (the release-sync test does this)
    course-release --check         # exit 1 when notebooks/ differs from a fresh release

Each assignment goes through ``nbgrader generate_assignment`` in a scratch copy of
the course (so the instructor's gradebook is untouched), then both the solution
and the release are normalised: no outputs, no execution counts, no
machine-specific metadata, stable cell ids.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_tools import notebooks


def _nbgrader(args: list[str], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
        cwd=cwd, capture_output=True, text=True, env=notebooks.with_venv_on_path(dict(os.environ)),
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")


def normalise_solutions(root: Path, names: list[str]) -> list[Path]:
    """Strip outputs and noise from the solution notebooks in place; return the changed ones."""
    changed = []
    for name in names:
        path = notebooks.solution_path(name, root)
        if notebooks.write(notebooks.read(path), path):
            changed.append(path)
    return changed


def generate(root: Path, out_dir: Path, names: list[str]) -> list[Path]:
    """Generate the release of ``names`` into ``out_dir/<name>/``; return the release notebooks."""
    written = []
    with tempfile.TemporaryDirectory(prefix="course-release-") as scratch:
        scratch = Path(scratch)
        shutil.copy(root / "nbgrader_config.py", scratch)
        for name in names:
            shutil.copytree(root / "solutions" / name, scratch / "solutions" / name,
                            ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints", "__pycache__"))
            notebooks.write(notebooks.read(scratch / "solutions" / name / f"{name}.ipynb"),
                            scratch / "solutions" / name / f"{name}.ipynb")
            _nbgrader(["generate_assignment", name, "--force"], cwd=scratch)
            target = out_dir / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(scratch / "notebooks" / name, target)
            release = target / f"{name}.ipynb"
            notebooks.write(notebooks.read(release), release, keep_checksums=True)
            written.append(release)
    return written


def differences(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two release folders (missing, extra or changed)."""
    found = []
    comparison = filecmp.dircmp(expected, actual, ignore=["workspace", ".ipynb_checkpoints", "__pycache__"])

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        found.extend(f"{prefix}{n} (missing from {actual})" for n in cmp.left_only)
        found.extend(f"{prefix}{n} (not in a fresh release)" for n in cmp.right_only)
        for n in cmp.common_files:
            if (Path(cmp.left) / n).read_bytes() != (Path(cmp.right) / n).read_bytes():
                found.append(f"{prefix}{n} (content differs)")
        for n, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{n}/")

    walk(comparison, "")
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", help="assignment names (default: all in solutions/)")
    parser.add_argument("--out", type=Path, help="release folder (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="compare a fresh release with notebooks/")
    args = parser.parse_args(argv)

    root = notebooks.course_root()
    names = args.assignments or notebooks.assignments(root)
    unknown = [n for n in names if n not in notebooks.assignments(root)]
    if unknown:
        parser.error(f"no solution notebook for {unknown}; known: {notebooks.assignments(root)}")
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(root, Path(tmp), names)
            diffs = [d for n in names for d in differences(Path(tmp) / n, root / "notebooks" / n)]
        for line in diffs:
            print(f"notebooks/ out of date: {line}")
        if not diffs:
            print(f"notebooks/ matches a fresh release of {len(names)} assignment(s).")
        return 1 if diffs else 0
    for path in normalise_solutions(root, names):
        print(f"normalised {path.relative_to(root)}")
    for path in generate(root, args.out or root / "notebooks", names):
        print(f"released   {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
