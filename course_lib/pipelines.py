"""An ML pipeline of typed steps that pass artifacts, record what they did and re-run from any step.

A :class:`Step` is a plain function with declared ``inputs`` (artifacts made by earlier steps),
``params`` (values from the run's parameters) and ``outputs`` (the names of what it returns, as a
dict). An :class:`MLPipeline` runs its steps in order; every output is written to a
content-addressed :class:`ArtifactStore` in the workspace (the file name is the SHA-256 of its
bytes) and every run writes a record of each step's input and output hashes. Because artifacts are
files and not variables, a run can start at any step: ``pipeline.run(params, from_step="train")``
reuses the artifacts of the latest run that got that far.

Nothing happens at import; files are written only by :meth:`MLPipeline.run`.

Introduced in 04-pipelines.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import pickle
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

__all__ = ["Step", "Artifact", "ArtifactStore", "StepRecord", "PipelineRun", "MLPipeline", "QualityGateError", "StepFailed"]


class QualityGateError(Exception):
    """Raised by a step when the data or the model fails an agreed quality gate.

    Introduced in 04-pipelines.
    """


class StepFailed(RuntimeError):
    """A pipeline step raised; the run's record was saved before this was raised.

    Introduced in 04-pipelines.
    """


@dataclass(frozen=True)
class Step:
    """One step of an ML pipeline: a function with declared inputs, parameters and outputs.

    ``func`` is called with one keyword argument per input and per parameter and must return a dict
    whose keys are exactly ``outputs``.

    Introduced in 04-pipelines.
    """

    name: str
    func: Callable[..., Mapping[str, Any]]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"A step name must be a non-empty identifier, not {self.name!r}.")
        if not callable(self.func):
            raise ValueError(f"Step {self.name!r}: func must be callable, got {type(self.func).__name__}.")
        if not self.outputs:
            raise ValueError(f"Step {self.name!r} declares no outputs; a step must produce at least one artifact.")
        for group in ("inputs", "outputs", "params"):
            value = getattr(self, group)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"Step {self.name!r}: {group} must be a tuple of names, got {value!r}.")

    def code_version(self) -> str:
        """A short hash of the step function's source code (its name when the source is unavailable)."""
        try:
            source = inspect.getsource(self.func)
        except (OSError, TypeError):
            source = getattr(self.func, "__qualname__", repr(self.func))
        return hashlib.sha256(source.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Artifact:
    """A stored artifact: its name in the pipeline, the SHA-256 of its bytes and its file.

    Introduced in 04-pipelines.
    """

    name: str
    sha256: str
    path: Path


def _serialise(value: Any) -> tuple[bytes, str]:
    if isinstance(value, pd.DataFrame):
        buffer = io.BytesIO()
        value.to_parquet(buffer, index=False)
        return buffer.getvalue(), "parquet"
    try:
        return json.dumps(value, sort_keys=True).encode(), "json"
    except TypeError:
        return pickle.dumps(value, protocol=5), "pkl"


class ArtifactStore:
    """Content-addressed files: DataFrames as Parquet, JSON-able values as JSON, anything else pickled.

    Introduced in 04-pipelines.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, name: str, value: Any) -> Artifact:
        """Write ``value`` (once per content) and return its :class:`Artifact`."""
        data, extension = _serialise(value)
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / f"{digest}.{extension}"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return Artifact(name=name, sha256=digest, path=path)

    def get(self, artifact: Artifact) -> Any:
        """Read an artifact back, checking that its bytes still have the recorded hash."""
        if not artifact.path.is_file():
            raise FileNotFoundError(f"Artifact {artifact.name!r} is missing: {artifact.path} does not exist.")
        data = artifact.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != artifact.sha256:
            raise ValueError(f"Artifact {artifact.name!r} at {artifact.path} was modified after it was written.")
        if artifact.path.suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(data))
        if artifact.path.suffix == ".json":
            return json.loads(data)
        return pickle.loads(data)  # only files this store wrote itself


@dataclass
class StepRecord:
    """What one step did in one run: ``status`` is ran, reused, failed or skipped.

    ``inputs`` maps each input artifact and each parameter (``param:<name>``) to a hash;
    ``outputs`` maps each output to its artifact's hash.

    Introduced in 04-pipelines.
    """

    step: str
    status: str
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    code_version: str = ""
    error: str | None = None


@dataclass
class PipelineRun:
    """The record of one pipeline run, saved as ``runs/<run_id>.json`` next to the artifacts.

    Introduced in 04-pipelines.
    """

    run_id: str
    pipeline: str
    status: str
    params: dict[str, Any]
    steps: list[StepRecord]
    artifacts: dict[str, Artifact]
    started: float
    from_step: str | None = None

    def step(self, name: str) -> StepRecord:
        """The record of step ``name``."""
        for record in self.steps:
            if record.step == name:
                return record
        raise KeyError(f"Run {self.run_id} has no step {name!r}; its steps are {[r.step for r in self.steps]}.")

    def to_frame(self) -> pd.DataFrame:
        """One row per step: step, status, seconds, outputs (the first characters of their hashes)."""
        rows = [{"step": r.step, "status": r.status,
                 "seconds": None if r.started is None or r.finished is None else round(r.finished - r.started, 3),
                 "outputs": {k: v[:10] for k, v in r.outputs.items()}} for r in self.steps]
        return pd.DataFrame(rows)


class MLPipeline:
    """Steps in order, an artifact store and run records, all under ``root``.

    Introduced in 04-pipelines.
    """

    def __init__(self, name: str, steps: Sequence[Step], root: str | Path) -> None:
        if not steps:
            raise ValueError("A pipeline needs at least one step.")
        self.name, self.steps, self.root = name, list(steps), Path(root)
        self.store = ArtifactStore(self.root / "artifacts")
        self.producer: dict[str, str] = {}
        for step in self.steps:
            if step.name in {s.name for s in self.steps[: self.steps.index(step)]}:
                raise ValueError(f"Two steps are named {step.name!r}; step names must be unique.")
            for name_in in step.inputs:
                if name_in not in self.producer:
                    raise ValueError(f"Step {step.name!r} reads {name_in!r}, which no earlier step produces "
                                     f"(produced so far: {sorted(self.producer)}).")
            for name_out in step.outputs:
                if name_out in self.producer:
                    raise ValueError(f"Artifact {name_out!r} is produced by both {self.producer[name_out]!r} and {step.name!r}.")
                self.producer[name_out] = step.name

    @property
    def step_names(self) -> list[str]:
        """The steps' names, in execution order."""
        return [s.name for s in self.steps]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(upstream step, downstream step) pairs, from the declared inputs and outputs."""
        return sorted({(self.producer[i], s.name) for s in self.steps for i in s.inputs},
                      key=lambda e: (self.step_names.index(e[1]), self.step_names.index(e[0])))

    def runs(self) -> list[PipelineRun]:
        """Every recorded run of this pipeline, oldest first."""
        found = [self._read(p) for p in (self.root / "runs").glob("*.json")]
        return sorted((r for r in found if r.pipeline == self.name), key=lambda r: r.started)

    def load(self, run: PipelineRun, artifact: str) -> Any:
        """Load the artifact ``artifact`` of ``run`` from the store."""
        if artifact not in run.artifacts:
            raise KeyError(f"Run {run.run_id} has no artifact {artifact!r}; it has {sorted(run.artifacts)}.")
        return self.store.get(run.artifacts[artifact])

    def run(self, params: Mapping[str, Any] | None = None, *, from_step: str | None = None,
            raise_on_error: bool = True) -> PipelineRun:
        """Run the pipeline (from its first step, or from ``from_step`` reusing earlier artifacts).

        Args:
            params: the values of every parameter the steps declare.
            from_step: re-run from this step; the steps before it are reused from the latest run
                in which they all succeeded.
            raise_on_error: raise :class:`StepFailed` when a step fails (after saving the record).

        Returns:
            The :class:`PipelineRun`, also saved under ``root/runs``.
        """
        params = dict(params or {})
        missing = sorted({p for s in self.steps for p in s.params} - set(params))
        if missing:
            raise KeyError(f"Missing pipeline parameters {missing}; the steps declare "
                           f"{sorted({p for s in self.steps for p in s.params})}.")
        start = 0
        run = PipelineRun(uuid.uuid4().hex[:12], self.name, "running", params, [], {}, time.time(), from_step)
        if from_step is not None:
            if from_step not in self.step_names:
                raise ValueError(f"Unknown step {from_step!r}; the steps are {self.step_names}.")
            start = self.step_names.index(from_step)
            earlier = self.step_names[:start]
            previous = [r for r in self.runs()
                        if all(r.step(n).status in ("ran", "reused") for n in earlier)]
            if start and not previous:
                raise ValueError(f"No earlier run completed {earlier}: run the whole pipeline once first.")
            if start:
                for name in earlier:
                    old = previous[-1].step(name)
                    run.steps.append(StepRecord(name, "reused", old.inputs, old.outputs, old.started, old.finished,
                                                old.code_version))
                    for out in old.outputs:
                        run.artifacts[out] = previous[-1].artifacts[out]
        failure: BaseException | None = None
        for step in self.steps[start:]:
            if failure is not None:
                run.steps.append(StepRecord(step.name, "skipped", code_version=step.code_version()))
                continue
            record = StepRecord(step.name, "running", started=time.time(), code_version=step.code_version())
            run.steps.append(record)
            try:
                kwargs = {i: self.store.get(run.artifacts[i]) for i in step.inputs}
                record.inputs = {i: run.artifacts[i].sha256 for i in step.inputs}
                for p in step.params:
                    kwargs[p] = params[p]
                    record.inputs[f"param:{p}"] = hashlib.sha256(json.dumps(params[p], sort_keys=True, default=str).encode()).hexdigest()
                result = step.func(**kwargs)
                if not isinstance(result, Mapping) or set(result) != set(step.outputs):
                    found = sorted(result) if isinstance(result, Mapping) else type(result).__name__
                    raise ValueError(f"Step {step.name!r} must return a dict with keys {sorted(step.outputs)}, got {found}.")
                for out in step.outputs:
                    run.artifacts[out] = self.store.put(out, result[out])
                    record.outputs[out] = run.artifacts[out].sha256
                record.status = "ran"
            except Exception as error:  # the record says which step failed and why
                record.status, record.error, failure = "failed", f"{type(error).__name__}: {error}", error
            record.finished = time.time()
        run.status = "failed" if failure is not None else "success"
        self._write(run)
        if failure is not None and raise_on_error:
            raise StepFailed(f"Run {run.run_id}: step {_failed(run)!r} failed: "
                             f"{failure}") from failure
        return run

    def _write(self, run: PipelineRun) -> None:
        folder = self.root / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        payload = asdict(run)
        payload["artifacts"] = {k: {"name": a.name, "sha256": a.sha256, "path": a.path.name} for k, a in run.artifacts.items()}
        (folder / f"{run.run_id}.json").write_text(json.dumps(payload, indent=1, default=str))

    def _read(self, path: Path) -> PipelineRun:
        payload = json.loads(path.read_text())
        payload["steps"] = [StepRecord(**s) for s in payload["steps"]]
        payload["artifacts"] = {k: Artifact(a["name"], a["sha256"], self.store.root / a["path"])
                                for k, a in payload["artifacts"].items()}
        return PipelineRun(**payload)


def _failed(run: PipelineRun) -> str:
    return next(r.step for r in run.steps if r.status == "failed")
