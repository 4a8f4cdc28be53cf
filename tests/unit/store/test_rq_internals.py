"""RQ's private API, as `proctoring/store/rq_internals.py` uses it: each name it relies on is still
there (with the arguments we pass), the copies of RQ's code still match what they copy, and no
other module of `proctoring` touches an RQ or django-rq private name. No Redis needed."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import inspect
import textwrap
from pathlib import Path
from typing import Any

import django_rq
import pytest
import redis
import rq
from django_rq.queues import DjangoRQ
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.queue import Queue
from rq.registry import BaseRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.worker import BaseWorker, SimpleWorker

from proctoring.store import rq_internals

ROOT = Path(__file__).resolve().parents[3]
DOOR = ROOT / "proctoring" / "store" / "rq_internals.py"
VERSIONS = f"RQ {rq.__version__} / django-rq {importlib.metadata.version('django-rq')}"


def _gone(what: str) -> str:
    return f"{VERSIONS} no longer has {what}: proctoring/store/rq_internals.py needs updating"


def _offline() -> redis.Redis:
    """A client that never connects: nothing here sends a command."""
    return redis.Redis(host="127.0.0.1", port=1)


# --- Each private name the door relies on ---------------------------------------------------------

# (class, method, the parameters we pass, in order)
PRIVATE_METHODS = [
    (BaseWorker, "_finalize_success", ["self", "job", "queue", "execution", "return_value"]),
    (BaseWorker, "_finalize_failure", ["self", "job", "queue", "execution", "exc_info"]),
    (Queue, "_enqueue_job", ["self", "job", "pipeline", "at_front", "unique"]),
    (Queue, "_enqueue_rate_limited_job", ["self", "job", "pipeline", "at_front"]),
    (DjangoRQ, "_enqueue_job", ["self", "job", "pipeline", "at_front", "unique"]),
]


@pytest.mark.parametrize(
    "cls, name, parameters", PRIVATE_METHODS, ids=[f"{c.__name__}.{n}" for c, n, _ in PRIVATE_METHODS]
)
def test_rq_still_has_each_private_method_the_door_calls(cls: type, name: str, parameters: list[str]) -> None:
    method = getattr(cls, name, None)
    assert callable(method), _gone(f"{cls.__name__}.{name}")
    assert list(inspect.signature(method).parameters) == parameters, _gone(
        f"{cls.__name__}.{name}({', '.join(parameters[1:])}) (now {inspect.signature(method)})"
    )


def _worker() -> SimpleWorker:
    return SimpleWorker(["default"], connection=_offline(), prepare_for_work=False)


# (what it is, a factory of an instance, the attribute)
PRIVATE_ATTRIBUTES = [
    ("Worker", _worker, "_state"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_process"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_connection"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_pool_class"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_status"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_scheduled_job_registries"),
    ("RQScheduler", lambda: RQScheduler(["default"], connection=_offline()), "_acquired_locks"),
    ("Job", lambda: Job("j", connection=_offline()), "_dependency_ids"),
    ("Execution", lambda: Execution(id="e", job_id="j", connection=_offline()), "_job"),
]


@pytest.mark.parametrize(
    "owner, make, name", PRIVATE_ATTRIBUTES, ids=[f"{o}.{n}" for o, _, n in PRIVATE_ATTRIBUTES]
)
def test_rq_still_has_each_private_attribute_the_door_reads_or_sets(owner: str, make: Any, name: str) -> None:
    assert hasattr(make(), name), _gone(f"{owner}.{name}")


def test_the_worker_state_the_door_sets_is_the_one_rq_reads() -> None:
    worker = _worker()
    rq_internals.mark_busy(worker)
    assert worker.get_state() == "busy", _gone("Worker._state behind get_state()")


def test_the_job_the_door_gives_an_execution_is_the_one_rq_returns() -> None:
    execution = Execution(id="e", job_id="j", connection=_offline())
    job = Job("j", connection=_offline())
    rq_internals.set_execution_job(execution, job)
    assert execution.job is job, _gone("Execution._job behind Execution.job")


def test_dependencies_are_read_from_the_job_in_hand() -> None:
    job = Job("j", connection=_offline())
    assert not rq_internals.has_dependencies(job)
    job._dependency_ids = ["other"]
    assert rq_internals.has_dependencies(job), _gone("Job._dependency_ids")


def test_the_scheduler_uses_the_connection_its_hook_makes() -> None:
    made = _offline()

    class Scheduler(rq_internals.SchedulerBase):
        seen: list[type] = []

        def own_connection(self, pool_connection_class: type) -> redis.Redis | None:
            self.seen.append(pool_connection_class)
            return made

    scheduler = Scheduler(["default"], connection=_offline())
    assert scheduler.connection is made, _gone("RQScheduler._connection behind RQScheduler.connection")
    assert Scheduler.seen == [redis.Connection], _gone("RQScheduler._pool_class")
    assert rq_internals.scheduler_process(scheduler) is None


def test_rq_key_layouts_are_those_the_take_script_is_given() -> None:
    execution = Execution(id="e", job_id="j", connection=_offline())
    assert execution.key == rq_internals.EXECUTION_KEY_PREFIX + "j:e"
    assert ExecutionRegistry(job_id="j", connection=_offline()).key == (
        rq_internals.EXECUTIONS_REGISTRY_KEY_PREFIX + "j"
    )
    assert rq_internals.executions_registry_key("j") == rq_internals.EXECUTIONS_REGISTRY_KEY_PREFIX + "j"
    assert (
        rq_internals.worker_executions_key("w")
        == Execution(id="e", job_id="j", connection=_offline(), worker_name="w").worker_executions_key
    )


# What the copies in the door copy, by a hash of RQ's source: a change there is a change to
# look at in the copy (and then to record here).
COPIED = [
    (BaseWorker, "_start_scheduler", "start_scheduler", "a13b7b6ec099d91d"),
    (RQScheduler, "enqueue_scheduled_jobs", "SchedulerBase.enqueue_scheduled_jobs", "a8064476f220b4b4"),
]


@pytest.mark.parametrize(
    "cls, name, copy, digest", COPIED, ids=[f"{c.__name__}.{n}" for c, n, _, _ in COPIED]
)
def test_the_copies_in_the_door_match_what_they_copy(cls: type, name: str, copy: str, digest: str) -> None:
    method = getattr(cls, name, None)
    assert method is not None, _gone(f"{cls.__name__}.{name}")
    source = textwrap.dedent(inspect.getsource(method))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, (
        f"{VERSIONS} changed {cls.__name__}.{name}: compare rq_internals.{copy} with it"
    )


def test_queue_base_calls_its_hook_from_rqs_enqueue_step() -> None:
    assert "_enqueue_job" in vars(rq_internals.QueueBase)
    assert issubclass(rq_internals.QueueBase, DjangoRQ) and issubclass(DjangoRQ, Queue)
    # RQ's ways back to the queue go through `_enqueue_job` (so through the hook): an enqueue,
    # a retry (also of an abandoned job, by the started registry's cleanup), a requeue.
    callers: list[tuple[type, str, str]] = [
        (Queue, "enqueue_job", "._enqueue_job("),
        (Job, "retry", "._enqueue_job("),
        (StartedJobRegistry, "cleanup", "job.retry("),
        (BaseRegistry, "requeue", "._enqueue_job("),
    ]
    for owner, name, call in callers:
        assert call in inspect.getsource(getattr(owner, name)), _gone(
            f"{owner.__name__}.{name} calling {call}…)"
        )


# --- No private name of RQ's elsewhere ------------------------------------------------------------


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_in_class(node: ast.ClassDef) -> set[str]:
    """Private names a class body defines: methods, class attributes, `self._x = …`."""
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
    for sub in ast.walk(node):
        targets: list[ast.expr] = []
        if isinstance(sub, ast.Assign):
            targets = sub.targets
        elif isinstance(sub, ast.AnnAssign | ast.AugAssign):
            targets = [sub.target]
        for target in targets:
            for leaf in ast.walk(target):  # also `self._a, self._b = …`
                if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name):
                    if leaf.value.id == "self":
                        names.add(leaf.attr)
    return {name for name in names if _private(name)}


def _rq_private_names() -> dict[tuple[str, str], set[str]]:
    """(module, class) -> the private names that class of rq's or django-rq's defines."""
    found: dict[tuple[str, str], set[str]] = {}
    for package in (rq, django_rq):
        base = Path(inspect.getfile(package)).parent
        for path in base.rglob("*.py"):
            module = ".".join(path.relative_to(base.parent).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    found[(module, node.name)] = _defined_in_class(node)
    return found


RQ_PRIVATE = _rq_private_names()
ALL_RQ_PRIVATE = set().union(*RQ_PRIVATE.values())


def _rq_names_of(cls: Any) -> set[str]:
    """The private names of the rq and django-rq classes `cls` derives from."""
    names: set[str] = set()
    for base in getattr(cls, "__mro__", ()):
        if base.__module__.split(".")[0] in ("rq", "django_rq"):
            names |= RQ_PRIVATE.get((base.__module__, base.__qualname__), set())
    return names


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _ours(trees: dict[Path, ast.Module], classes: dict[tuple[Path, str], Any]) -> set[str]:
    """Private names our own code defines (module level, or in our classes where they are not
    RQ's): an access to one of them is ours even if some RQ class has the same name."""
    names: set[str] = set()
    for path, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                names |= _defined_in_class(node) - _rq_names_of(classes.get((path, node.name)))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {name for name in names if _private(name)}


def scan(path: Path, tree: ast.Module, cls_of: dict[str, Any], ours: set[str]) -> list[str]:
    """Uses of RQ's private names in one module: any name our classes that derive from RQ's
    define, override or read that is RQ's, and any `x._name` that is some RQ class's private
    name and none of ours."""
    where = path.relative_to(ROOT) if path.is_absolute() else path
    found: list[str] = []
    judged: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        rq_names = _rq_names_of(cls_of.get(node.name))
        if not rq_names:
            continue
        for name in sorted(_defined_in_class(node) & rq_names):
            found.append(f"{where}: class {node.name} defines RQ's {name}")
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                judged.add(id(sub))
                if sub.attr in rq_names:
                    found.append(f"{where}:{sub.lineno}: self.{sub.attr}")
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Attribute) and id(sub) not in judged:
            if _private(sub.attr) and sub.attr in ALL_RQ_PRIVATE and sub.attr not in ours:
                found.append(f"{where}:{sub.lineno}: {ast.unparse(sub)}")
    return sorted(set(found))


def _project() -> tuple[dict[Path, ast.Module], dict[tuple[Path, str], Any]]:
    trees: dict[Path, ast.Module] = {}
    classes: dict[tuple[Path, str], Any] = {}
    for path in sorted((ROOT / "proctoring").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        trees[path] = tree
        if any(isinstance(node, ast.ClassDef) for node in tree.body):
            module = importlib.import_module(_module_name(path))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    classes[(path, node.name)] = getattr(module, node.name, None)
    return trees, classes


def _scan_project() -> dict[Path, list[str]]:
    trees, classes = _project()
    ours = _ours({p: t for p, t in trees.items() if p != DOOR}, classes)
    return {
        path: scan(path, tree, {name: cls for (p, name), cls in classes.items() if p == path}, ours)
        for path, tree in trees.items()
    }


def test_no_module_but_the_door_uses_rqs_private_api() -> None:
    found = [line for path, lines in _scan_project().items() if path != DOOR for line in lines]
    assert not found, (
        "RQ's private API outside proctoring/store/rq_internals.py (go through the door):\n"
        + "\n".join(found)
    )


def test_the_scan_sees_what_the_door_uses() -> None:
    door = "\n".join(_scan_project()[DOOR])
    for name in (
        "_finalize_success",
        "_finalize_failure",
        "_enqueue_job",
        "_dependency_ids",
        "_job",
        "_state",
    ):
        assert name in door, f"the scan missed {name} in the door:\n{door}"


@pytest.mark.parametrize(
    "source",
    [
        "def ready(job):\n    return not job._dependency_ids\n",
        "def run(worker, job, queue, run):\n    worker._finalize_success(job, queue, run, None)\n",
    ],
)
def test_the_scan_catches_a_private_use_in_another_module(source: str) -> None:
    trees, classes = _project()
    ours = _ours({p: t for p, t in trees.items() if p != DOOR}, classes)
    assert scan(Path("proctoring/worker/elsewhere.py"), ast.parse(source), {}, ours)


def test_the_scan_catches_an_override_of_an_rq_private_method() -> None:
    source = (
        "class MyQueue(Queue):\n"
        "    def _enqueue_job(self, job, pipeline=None, at_front=False, unique=False):\n"
        "        return super()._enqueue_job(job, pipeline, at_front, unique)\n"
    )

    class MyQueue(Queue):
        pass

    found = scan(Path("proctoring/queue/elsewhere.py"), ast.parse(source), {"MyQueue": MyQueue}, set())
    assert any("defines RQ's _enqueue_job" in line for line in found), found
