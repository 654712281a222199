"""nbgrader configuration for the course (run nbgrader commands from this folder)."""

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "mlops-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Never collect, submit or release a notebook's workspace (MLflow store, data lake, server logs),
# checkpoints or caches; autograde gives every submission a fresh workspace of its own.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "workspace", "mlruns", "mlartifacts", "mlflow.db",
    "*.backup-*.ipynb",
]
# A deleted test cell is put back at grading time instead of silently losing its points.
c.OverwriteCells.add_missing_cells = True
# Graded cells run with a per-cell time limit; an infinite loop costs cells x timeout.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
# Don't let a cell print megabytes into the gradebook and feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 100
# The release keeps the docstringed stub and replaces the solution with this.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Feedback never shows hidden tests: nbgrader's feedback renders the autograded notebook, whose test cells
# carry their hidden tests and tracebacks quoting them (upstream #917, #1363). HideHiddenTests removes
# the hidden lines and keeps only each error's final message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course_tools.classroom.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
