# The course's commands. Everything installs into .venv from pyproject.toml (the one place with pins).
#   make lab        set up, then open the course in JupyterLab (learners)
#   make test       set up, then run the whole test suite (contributors, CI)
#   make release    regenerate notebooks/ from solutions/
#   make benchmark  time and measure every solution notebook (writes benchmarks/latest.md)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JUPYTER := $(VENV)/bin/jupyter
STAMP  := $(VENV)/.installed
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
LAB_FLAGS := --ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root,)
# Keep MLflow and friends offline and quiet.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
# nbgrader calls `alembic` and Jupyter looks for kernels on PATH: the venv comes first.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup lab instructor-lab gradebook grade simulate-class progress reset test test-fast independence release benchmark clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# Learners: hide nbgrader's instructor and exchange panels (they need a shared exchange folder);
# keep its Validate button.
lab: setup
	$(JUPYTER) labextension disable --level=sys_prefix @jupyter/nbgrader:formgrader @jupyter/nbgrader:course-list \
	    @jupyter/nbgrader:create-assignment @jupyter/nbgrader:assignment-list >/dev/null 2>&1 || true
	$(JUPYTER) server extension disable --sys-prefix nbgrader.server_extensions.formgrader \
	    nbgrader.server_extensions.course_list nbgrader.server_extensions.assignment_list >/dev/null 2>&1 || true
	$(JUPYTER) lab $(LAB_FLAGS) notebooks/00-foundations/00-foundations.ipynb

# Learners: which checks of your saved notebooks pass, per module and concept (and progress.png).
progress: setup
	$(PY) -m course_lib.progress notebooks --png progress.png

# Learners: put notebooks/MODULE back to its released version (your copy is kept as a backup):
#   make reset MODULE=03-experiments [KEEP_WORKSPACE=1]
reset: setup
	$(PY) -m course_tools.reset $(MODULE) $(if $(KEEP_WORKSPACE),--keep-workspace,)

# Instructors: the full nbgrader interface (formgrader, create-assignment toolbar).
instructor-lab: setup
	$(JUPYTER) labextension enable --level=sys_prefix @jupyter/nbgrader:formgrader @jupyter/nbgrader:course-list \
	    @jupyter/nbgrader:create-assignment @jupyter/nbgrader:assignment-list >/dev/null 2>&1 || true
	$(JUPYTER) server extension enable --sys-prefix nbgrader.server_extensions.formgrader \
	    nbgrader.server_extensions.course_list nbgrader.server_extensions.assignment_list >/dev/null 2>&1 || true
	$(JUPYTER) lab $(LAB_FLAGS) solutions/00-foundations/00-foundations.ipynb

# Instructors: register every assignment in gradebook.db without touching notebooks/.
gradebook: setup
	for a in $$(ls solutions); do $(VENV)/bin/nbgrader generate_assignment $$a --force \
	    --CourseDirectory.release_directory=.release-local --log-level=WARN || exit 1; done
	rm -rf .release-local

# Instructors: grade a class from an LMS export (a folder of notebooks named <student>_<anything>.ipynb
# or <student>/<file>.ipynb):  make grade A=00-foundations LMS=path/to/export [WORKERS=2 TIMEOUT=60]
WORKERS ?= 2
TIMEOUT ?= 60
grade: setup
	$(PY) -m course_tools.classroom collect $(A) --lms $(LMS)
	$(PY) -m course_tools.classroom autograde $(A) --workers $(WORKERS) --timeout $(TIMEOUT)
	$(PY) -m course_tools.classroom feedback $(A)
	$(PY) -m course_tools.classroom export
	$(PY) -m course_tools.classroom plot $(A)

# Instructors: a simulated class of 30 (honest, wrong, adversarial) graded end to end, serial vs parallel.
simulate-class: setup
	$(PY) -m course_tools.classroom simulate 00-foundations --students 30 --workers 2 --serial --timeout 30

test: setup
	$(PY) -m pytest -n 2

# Without executing notebooks (seconds, not minutes).
test-fast: setup
	$(PY) -m pytest -n 2 -m "not notebook and not slow"

# Skipping one exercise costs only its points: every independent module, one exercise left blank at a time.
independence: setup
	COURSE_ALL_INDEPENDENCE=1 $(PY) -m pytest -n 2 tests/notebooks/test_exercise_independence.py

release: setup
	$(PY) -m course_tools.release

benchmark: setup
	$(PY) -m course_tools.benchmark

clean:
	rm -rf $(VENV) gradebook.db submitted autograded feedback classroom .release-local
	find . -name workspace -type d -prune -exec rm -rf {} +
