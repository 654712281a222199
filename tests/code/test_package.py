"""course_lib stays small and boring: no side effects at import, every public function documented."""

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys

import course_lib

MODULES = sorted(m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_"))


def test_importing_course_lib_has_no_side_effects(tmp_path):
    """No files written, no environment or MLflow state changed, no seeding."""
    script = (
        "import json, os, random, sys\n"
        "before = dict(os.environ); state = random.getstate()\n"
        f"for name in {MODULES!r}:\n"
        "    __import__('course_lib.' + name)\n"
        "print(json.dumps({'env': sorted(set(os.environ.items()) ^ set(before.items())),\n"
        "                  'seeded': random.getstate() != state,\n"
        "                  'mlflow': 'mlflow' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.splitlines()[-1])
    assert report["env"] == [], f"importing course_lib changed the environment: {report['env']}"
    assert not report["seeded"], "importing course_lib touched the global random state"
    assert not report["mlflow"], "importing course_lib imported mlflow (slow, and it is only needed on use)"
    assert list(tmp_path.iterdir()) == [], f"importing course_lib wrote {list(tmp_path.iterdir())}"


def test_every_public_function_says_where_it_is_introduced():
    undocumented = []
    for name in MODULES:
        module = importlib.import_module(f"course_lib.{name}")
        assert module.__doc__, f"course_lib.{name} has no module docstring"
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj) or ""
                if not re.search(r"Introduced in \d\d-[a-z-]+", doc) and not (
                    inspect.isclass(obj) and re.search(r"Introduced in \d\d-", module.__doc__)
                ):
                    undocumented.append(f"course_lib.{name}.{attr}")
    assert not undocumented, "docstrings must end with 'Introduced in NN-topic.': " + ", ".join(undocumented)


def test_modules_stay_small():
    for name in MODULES:
        lines = len(inspect.getsource(importlib.import_module(f"course_lib.{name}")).splitlines())
        assert lines <= 400, f"course_lib.{name} has {lines} lines; split it by lifecycle stage"
