"""Job code: :class:`JobRunner` subclasses and plain functions, registered by a stable name.

::

    registry = JobRegistry()

    @registry.register
    class BuildZip(JobRunner[ZipRequest, ZipResult]):
        job_type = "zips.build"

        async def on_execute(self, request: ZipRequest, context: JobContext) -> ZipResult: ...

    @registry.job(name="mail.send", max_attempts=5)
    async def send_mail(request: Mail, context: JobContext) -> None: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import (
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    cast,
    get_args,
    get_origin,
    get_type_hints,
    runtime_checkable,
)

from pydantic import JsonValue, TypeAdapter, ValidationError
from pydantic_core import to_json

from ._threads import in_thread
from .context import JobContext
from .errors import ConfigurationError, InvalidInput, PayloadTooDeep, UnknownJobType
from .fairness.share import SHARE_LIMIT
from .limits.definitions import ConcurrencyLimit, Limit, RateLimit
from .models import MAX_NESTING, QueuedJob, check_payload
from .models.nesting import NOT_FINITE, has_non_finite
from .retry import RetryPolicy

__all__ = [
    "AlreadyRunning",
    "Defines",
    "JobDefinition",
    "JobRegistry",
    "JobRunner",
    "job_type_name",
    "run_on_execute",
    "runs_in_thread",
]


class AlreadyRunning(StrEnum):
    """What a job does when it is about to start while another job of its type runs.

    Any policy but ``ALLOW`` keeps a store-wide lease per job type while a job of it runs
    (see ``queued_jobs.execution.already_running`` and ``docs/execution.md``)."""

    #: Start anyway: any number run at once (the default; costs nothing).
    ALLOW = "allow"
    #: Do not start: the new job fails with ``JobAlreadyRunning`` (no retry).
    REFUSE = "refuse"
    #: Do not start: the new job is cancelled (skipped), saying which job was running.
    SKIP = "skip"
    #: Stop the running one first (its cancellation is requested), then start: the new job
    #: waits, handed back, until it has stopped. The newest job wins: a job that finds a
    #: job queued after it running is cancelled instead.
    REPLACE = "replace"


RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")
_F = TypeVar("_F", bound=Callable[..., Any])


class JobRunner(Generic[RequestT, ResultT]):
    """Base class of job code. Override :meth:`on_execute`; the rest are optional hooks.

    Class attributes set defaults for every job of this type (a job's own options win):
    ``job_type`` (the stable name jobs are stored under; default ``module.QualName``),
    ``max_attempts``, ``max_run_time`` and ``retry``; ``already_running`` says what a job
    of this type does when another one runs (:class:`AlreadyRunning`; ``None``: ``ALLOW``);
    ``limits``, the concurrency and rate limits its jobs pass (``queued_jobs.limits``).
    A new instance runs each attempt.
    Hooks never change a job's stored state: an exception in one is logged and ignored.
    """

    job_type: ClassVar[str | None] = None
    max_attempts: ClassVar[int | None] = None
    max_run_time: ClassVar[timedelta | None] = None
    retry: ClassVar[RetryPolicy | None] = None
    already_running: ClassVar[AlreadyRunning | None] = None
    limits: ClassVar[Sequence[Limit]] = ()

    async def on_execute(self, request: RequestT, context: JobContext) -> ResultT:
        """Do the work and return the result (stored as JSON). May be a plain ``def``."""
        raise NotImplementedError

    async def on_status_updated(self, job: QueuedJob) -> None:
        """Called after every stored status change of a job of this type."""

    async def before(self, context: JobContext) -> None:
        """Before each attempt."""

    async def after(self, context: JobContext) -> None:
        """After each attempt, whatever its outcome."""

    async def on_success(self, context: JobContext, result: ResultT) -> None:
        """After an attempt succeeded."""

    async def on_error(self, context: JobContext, error: BaseException) -> None:
        """After an attempt failed (a retry may follow)."""

    async def on_failure(self, context: JobContext, error: BaseException) -> None:
        """After the job failed for good (permanent error or attempts exhausted)."""

    async def on_halt(self, context: JobContext) -> None:
        """When the worker stops during the attempt and hands the job back."""


@dataclass(frozen=True)
class JobDefinition:
    """Everything the pipeline needs to run one job type."""

    job_type: str
    make_runner: Callable[[], JobRunner[Any, Any]]
    request: TypeAdapter[Any]
    result: TypeAdapter[Any]
    max_attempts: int | None = None
    max_run_time: timedelta | None = None
    retry: RetryPolicy | None = None
    #: How long the code needs to end once told to stop, if longer than the host's
    #: ``stop_timeout`` (a program given time to exit before it is killed).
    stop_grace: timedelta | None = None
    #: What starting a job of this type does while another one runs.
    already_running: AlreadyRunning = AlreadyRunning.ALLOW
    #: The concurrency and rate limits its jobs pass before they start
    #: (``queued_jobs.limits``).
    limits: tuple[Limit, ...] = ()

    def stop_time(self, stop_timeout: timedelta) -> timedelta:
        """How long the code of a job of this type gets to end once told to stop: the
        host's ``stop_timeout``, or ``stop_grace`` and a second more (to record it)."""
        if self.stop_grace is None:
            return stop_timeout
        return max(stop_timeout, self.stop_grace + timedelta(seconds=1))

    def validate_request(self, request: Any) -> JsonValue:
        """The request checked against its type and turned into JSON that reads back as it
        is (raises ``pydantic.ValidationError`` for a request of the wrong type,
        ``PayloadTooDeep`` or ``InvalidInput`` for one that cannot be stored)."""
        return _stored_form(self.request, request, "the request")

    def load_request(self, stored: JsonValue) -> Any:
        return self.request.validate_python(stored)

    def dump_result(self, result: Any) -> JsonValue:
        """The result checked against its declared type and turned into JSON that reads
        back as it is (raises ``pydantic.ValidationError`` for a result of the wrong type,
        ``PayloadTooDeep`` or ``InvalidInput`` for one that cannot be stored)."""
        return _stored_form(self.result, result, "the result")


@runtime_checkable
class Defines(Protocol):
    """Something that makes the definition of a job type (:meth:`JobRegistry.add`)."""

    def definition(self) -> JobDefinition: ...


def _stored_form(adapter: TypeAdapter[Any], given: Any, what: str) -> JsonValue:
    """``given`` validated by ``adapter`` and dumped as JSON, refused unless it reads back
    as it is: nested too deep for the serializer or the cap (at any depth: the validator and
    the serializer stop at their own limits, without recursion errors), integers too long,
    infinities or NaN, which the JSON dump turns into ``null``."""
    try:
        value = adapter.validate_python(given)
    except ValidationError as exc:
        if any(e["type"] == "recursion_depth_exceeded" for e in exc.errors(include_url=False)):
            raise PayloadTooDeep(what, MAX_NESTING) from None
        raise
    try:
        dumped = cast(JsonValue, adapter.dump_python(value, mode="json"))
    except ValueError as exc:  # pydantic's own errors are ValueErrors too
        if "depth" in str(exc):
            raise PayloadTooDeep(what, MAX_NESTING) from None
        raise InvalidInput(f"{what} cannot be written as JSON: {exc}") from None
    encoded = check_payload(dumped, what)
    if b"null" in encoded and _dropped_non_finite(adapter, value):
        raise InvalidInput(f"{what} {NOT_FINITE}")
    return dumped


def _dropped_non_finite(adapter: TypeAdapter[Any], value: Any) -> bool:
    """Whether the JSON dump of ``value`` wrote an infinity or a NaN as ``null``: its
    Python dump keeps them as floats, which ``to_json`` writes as constants."""
    try:
        plain = adapter.dump_python(value, mode="python")
        return has_non_finite(to_json(plain, inf_nan_mode="constants", fallback=_unknown))
    except (ValueError, TypeError):  # a Python dump that cannot be written: no telling
        return False


def _unknown(_: Any) -> None:
    return None


def _limits(limits: Sequence[Limit], target: object) -> tuple[Limit, ...]:
    """``limits`` as a tuple of limits, each name once."""
    if isinstance(limits, (str, bytes)) or not isinstance(limits, Sequence):
        raise ConfigurationError(f"limits of {target!r} are a list of limits, not {limits!r:.80}")
    found: dict[str, Limit] = {}
    for limit in limits:
        if not isinstance(limit, (ConcurrencyLimit, RateLimit)):
            raise ConfigurationError(
                f"{limit!r:.80} among the limits of {target!r} is not a ConcurrencyLimit or "
                "RateLimit"
            )
        if limit.name in found:
            raise ConfigurationError(f"limit {limit.name!r} is given twice for {target!r}")
        if limit.name == SHARE_LIMIT:
            raise ConfigurationError(
                f"limit name {SHARE_LIMIT!r} (of {target!r}) is the owner share's own: "
                "give the limit another name"
            )
        found[limit.name] = limit
    return tuple(found.values())


def _policy(value: str, target: object) -> AlreadyRunning:
    """``value`` as an :class:`AlreadyRunning` (its value's text is taken too)."""
    try:
        return AlreadyRunning(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in AlreadyRunning)
        raise ConfigurationError(
            f"already_running of {target!r} is {value!r:.80}: it is one of {choices}"
        ) from None


def job_type_name(target: Callable[..., Any] | type[Any]) -> str:
    """The default stable name of a runner class or function: ``module.QualName``."""
    return f"{target.__module__}.{target.__qualname__}"


def _runner_types(cls: type[JobRunner[Any, Any]]) -> tuple[Any, Any]:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, JobRunner):
                args = get_args(base)
                if len(args) == 2 and not any(isinstance(a, TypeVar) for a in args):
                    return args[0], args[1]
    return Any, Any


class _FunctionRunner(JobRunner[Any, Any]):
    """Adapts a plain function to the runner interface."""

    function: ClassVar[Callable[..., Any]]
    wants_context: ClassVar[bool]

    async def on_execute(self, request: Any, context: JobContext) -> Any:
        args = (request, context) if self.wants_context else (request,)
        if inspect.iscoroutinefunction(self.function):
            return await self.function(*args)
        return await in_thread(self.function, *args)


def runs_in_thread(runner: JobRunner[Any, Any]) -> bool:
    """Whether the runner's code is a plain ``def`` (it then runs in a thread of its own,
    which nothing can stop)."""
    if isinstance(runner, _FunctionRunner):
        return not inspect.iscoroutinefunction(runner.function)
    return not inspect.iscoroutinefunction(runner.on_execute)


async def run_on_execute(runner: JobRunner[Any, Any], request: Any, context: JobContext) -> Any:
    """Call ``on_execute``, in a thread of its own when it is a plain ``def`` (see
    :func:`~queued_jobs._threads.in_thread`: a cancelled call ends when its thread does)."""
    if inspect.iscoroutinefunction(runner.on_execute):
        return await runner.on_execute(request, context)
    sync = cast(Callable[[Any, JobContext], Any], runner.on_execute)
    return await in_thread(sync, request, context)


@dataclass
class JobRegistry:
    """The job types an application knows, by stable name."""

    _definitions: dict[str, JobDefinition] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)  # id(class or function) -> name

    def register(self, runner: type[JobRunner[Any, Any]]) -> type[JobRunner[Any, Any]]:
        """Register a :class:`JobRunner` subclass (usable as a class decorator)."""
        if not (isinstance(runner, type) and issubclass(runner, JobRunner)):
            raise ConfigurationError(f"{runner!r} is not a JobRunner subclass")
        request, result = _runner_types(runner)
        self._add(
            JobDefinition(
                job_type=runner.job_type or job_type_name(runner),
                make_runner=runner,
                request=TypeAdapter(request),
                result=TypeAdapter(result),
                max_attempts=runner.max_attempts,
                max_run_time=runner.max_run_time,
                retry=runner.retry,
                already_running=_policy(runner.already_running or AlreadyRunning.ALLOW, runner),
                limits=_limits(runner.limits, runner),
            ),
            runner,
        )
        return runner

    def job(
        self,
        function: _F | None = None,
        *,
        name: str | None = None,
        max_attempts: int | None = None,
        max_run_time: timedelta | None = None,
        retry: RetryPolicy | None = None,
        already_running: AlreadyRunning = AlreadyRunning.ALLOW,
        limits: Sequence[Limit] = (),
    ) -> Any:
        """Register a plain function ``f(request[, context])`` (sync or async) as a job type.

        Its first parameter's annotation is the request type, its return annotation the
        result type. Usable bare (``@registry.job``) or with options; ``already_running``
        says what a job does when another job of its type runs (:class:`AlreadyRunning`);
        ``limits``, the concurrency and rate limits its jobs pass (``queued_jobs.limits``).
        """

        def register(fn: _F) -> _F:
            hints = get_type_hints(fn)
            parameters = list(inspect.signature(fn).parameters)
            if not 1 <= len(parameters) <= 2:
                raise ConfigurationError(
                    f"job function {fn.__qualname__} must take (request) or (request, context)"
                )
            runner = type(
                f"{fn.__name__}_runner",
                (_FunctionRunner,),
                {"function": staticmethod(fn), "wants_context": len(parameters) == 2},
            )
            self._add(
                JobDefinition(
                    job_type=name or job_type_name(fn),
                    make_runner=runner,
                    request=TypeAdapter(hints.get(parameters[0], Any)),
                    result=TypeAdapter(hints.get("return", Any)),
                    max_attempts=max_attempts,
                    max_run_time=max_run_time,
                    retry=retry,
                    already_running=_policy(already_running, fn),
                    limits=_limits(limits, fn),
                ),
                fn,
            )
            return fn

        return register(function) if function is not None else register

    def add(self, definition: JobDefinition | Defines) -> JobDefinition:
        """Register a job type built elsewhere: a :class:`JobDefinition`, or anything that
        makes one (a ``queued_jobs.commands.Command``)."""
        built = definition if isinstance(definition, JobDefinition) else definition.definition()
        self._add(built, definition)
        return built

    def _add(self, definition: JobDefinition, target: object) -> None:
        existing = self._definitions.get(definition.job_type)
        if existing is not None:
            raise ConfigurationError(
                f"job type {definition.job_type!r} is already registered; give {target!r} "
                "another name"
            )
        for limit in _limits(definition.limits, target):
            known = self.limit(limit.name)
            if known is not None and known != limit:
                raise ConfigurationError(
                    f"limit {limit.name!r} of job type {definition.job_type!r} is not the "
                    f"limit of that name other job types pass ({known!r}): one name is one "
                    "limit; share the same object"
                )
        self._definitions[definition.job_type] = definition
        self._names[id(target)] = definition.job_type

    def name_of(self, target: str | Callable[..., Any] | type[Any]) -> str:
        """The registered name of a job type given by name, runner class or function."""
        if isinstance(target, str):
            name = target
        else:
            name = self._names.get(id(target)) or job_type_name(target)
        if name not in self._definitions:
            raise UnknownJobType(name, self._definitions)
        return name

    def limit(self, name: str) -> Limit | None:
        """The limit of that name some job type passes, if any."""
        for definition in self._definitions.values():
            for limit in definition.limits:
                if limit.name == name:
                    return limit
        return None

    def limits(self) -> list[Limit]:
        """Every limit the job types pass, by name (each once)."""
        found = {limit.name: limit for d in self._definitions.values() for limit in d.limits}
        return [found[name] for name in sorted(found)]

    def get(self, job_type: str) -> JobDefinition:
        try:
            return self._definitions[job_type]
        except KeyError:
            raise UnknownJobType(job_type, self._definitions) from None

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._definitions

    def __iter__(self) -> Iterator[str]:
        return iter(self._definitions)
