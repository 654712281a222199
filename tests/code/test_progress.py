import nbformat
import pytest

from course_lib.progress import concept_progress, exercise_status, main, plot_progress, progress


def _graded(grade_id, tags, outputs, executed=True):
    cell = nbformat.v4.new_code_cell("# Check: something")
    cell.metadata.update({"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True, "points": 2,
                                       "schema_version": 3, "solution": False, "task": False},
                          "tags": tags})
    cell.outputs = outputs
    cell.execution_count = 1 if executed else None
    return cell


def _notebook(folder, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), *cells]
    (folder / name).mkdir(parents=True)
    path = folder / name / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def course(tmp_path):
    ok = nbformat.v4.new_output("stream", name="stdout", text="✓ fine\n")
    err = nbformat.v4.new_output("error", ename="CheckFailed", evalue="✗ wrong", traceback=[])
    noisy = nbformat.v4.new_output("stream", name="stderr", text="a warning\n")
    _notebook(tmp_path, "00-foundations", [
        _graded("ex1", ["concept:mlops"], [ok]),
        _graded("ex2", ["concept:mlops", "concept:why-mlops"], [err]),
        _graded("ex3", ["concept:ml-workflow"], [], executed=False),
        _graded("ex4", ["concept:key-components"], [ok, noisy]),
    ])
    return tmp_path


def test_status_is_read_from_saved_outputs(course):
    table = exercise_status(course / "00-foundations" / "00-foundations.ipynb")
    assert dict(zip(table.grade_id, table.status)) == {"ex1": "passed", "ex2": "failed", "ex3": "not run", "ex4": "failed"}
    assert table.points.sum() == 8


def test_concepts_roll_up(course):
    by_concept = concept_progress(progress(course)).set_index("concept")
    assert by_concept.loc["mlops", "status"] == "in progress"
    assert by_concept.loc["ml-workflow", "status"] == "not run"
    assert by_concept.loc["data-lake", "status"] == "no module yet"
    assert len(by_concept) == 70


def test_figure_and_command(course, tmp_path, capsys):
    fig = plot_progress(progress(course))
    assert "2 of 8 points" in fig.axes[0].get_title()
    assert main([str(course), "--png", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 0
    assert "00-foundations" in capsys.readouterr().out


def test_bad_input_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="No course notebooks"):
        progress(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a notebook"):
        exercise_status(tmp_path / "x.txt")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="not valid notebook JSON"):
        exercise_status(tmp_path / "broken.ipynb")
    assert main([str(tmp_path / "missing")]) == 2


def test_the_released_course_has_nothing_run_yet(root):
    table = progress(root / "notebooks")
    assert not table.empty and set(table.status) == {"not run"}


def test_show_progress_reads_the_saved_module_notebook(course, capsys):
    import matplotlib

    matplotlib.use("agg")
    from course_lib.progress import show_progress

    table = show_progress("00-foundations", course / "00-foundations")
    out = capsys.readouterr().out
    assert list(table.status) == ["passed", "failed", "not run", "failed"]
    assert "SAVED" in out and "ex2" in out
    import matplotlib.pyplot as plt

    assert "2 of 8 points" in plt.gcf().axes[0].get_title()


def test_show_progress_explains_a_missing_notebook(tmp_path, capsys):
    from course_lib.progress import show_progress

    assert show_progress("03-experiments", tmp_path) is None
    assert "No saved 03-experiments.ipynb" in capsys.readouterr().out
