"""The settings the sample Function App reads are the ones local.settings.sample.json lists,
and the files that deploy it agree with the package."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import queued_jobs
from queued_jobs import JobApp
from queued_jobs.clock import SYSTEM_CLOCK
from queued_jobs.functions import FunctionsHost, job_blueprint

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP = ROOT / "function_app"
SAMPLE = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
#: Read by the Functions host (Core Tools locally) or its Python worker, not by the app's code.
HOST_ONLY = {"FUNCTIONS_WORKER_RUNTIME", "PYTHON_ENABLE_OPENTELEMETRY"}
#: Set by the platform on every instance, not by the user.
PLATFORM = {"WEBSITE_INSTANCE_ID"}
URIS = {
    f"AzureWebJobsStorage__{service}ServiceUri": f"https://jobsacct.{service}.core.windows.net"
    for service in ("blob", "queue", "table")
}
#: The ways to fill in the sample: as it is, and each identity-based form.
FORMS = {
    "connection-string": {},
    "managed-identity": {
        "AzureWebJobsStorage": "",
        **URIS,
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555",
    },
    "managed-identity-by-resource-id": {
        "AzureWebJobsStorage": "",
        **URIS,
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__managedIdentityResourceId": "/subscriptions/s/resourceGroups/g/"
        "providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-jobs",
    },
    "service-principal": {
        "AzureWebJobsStorage": "",
        **URIS,
        "AzureWebJobsStorage__tenantId": "tenant",
        "AzureWebJobsStorage__clientId": "client",
        "AzureWebJobsStorage__clientSecret": "secret",
    },
    "account-name": {"AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": "jobsacct"},
}


class RecordingEnviron(dict[str, str]):
    """``os.environ`` that records the names that code of this project looks up by name
    (libraries' own lookups, such as the SDKs' ``AZURE_*``, are not the app's settings)."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def _record(self, key: object) -> None:
        caller = sys._getframe(2).f_code.co_filename
        if isinstance(key, str) and caller.startswith(
            (str(ROOT / "queued_jobs"), str(FUNCTION_APP))
        ):
            self.read.add(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._record(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self._record(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._record(key)
        return super().__contains__(key)


@pytest.fixture
def fresh_sample_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FUNCTION_APP))
    for name in ("function_app", "sample_jobs"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in ("function_app", "sample_jobs"):
        sys.modules.pop(name, None)


async def settings_read(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> set[str]:
    """The settings that importing the sample Function App and opening its storage read."""
    environ = RecordingEnviron(values)
    monkeypatch.setattr("os.environ", environ)
    for name in ("function_app", "sample_jobs"):
        sys.modules.pop(name, None)
    import sample_jobs

    import function_app  # noqa: F401  (the host imports it the same way)

    app: JobApp = sample_jobs.app
    host = FunctionsHost(app)
    job_blueprint(app, host=host)
    host.pipeline  # noqa: B018  (made on the first message: it reads the instance id)
    files = app.storage.files("documents", clock=SYSTEM_CLOCK)
    await host.close()
    await files.close()
    return environ.read


@pytest.mark.usefixtures("fresh_sample_modules")
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS)
async def test_every_setting_the_app_reads_is_in_the_sample(
    monkeypatch: pytest.MonkeyPatch, form: dict[str, str]
) -> None:
    read = await settings_read(monkeypatch, SAMPLE | form)

    assert read - PLATFORM <= set(SAMPLE)


@pytest.mark.usefixtures("fresh_sample_modules")
async def test_every_setting_in_the_sample_is_read_in_one_form_or_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: set[str] = set()
    for form in FORMS.values():
        read |= await settings_read(monkeypatch, SAMPLE | form)

    assert set(SAMPLE) - HOST_ONLY == read - PLATFORM


def test_the_sample_runs_locally_against_azurite_on_the_queue_the_bindings_name() -> None:
    assert SAMPLE["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert SAMPLE["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert SAMPLE["QUEUED_JOBS_QUEUE"] == queued_jobs.QueueNames().base
    identity = {k: v for k, v in SAMPLE.items() if k.startswith("AzureWebJobsStorage__")}
    assert len(identity) == 9
    assert not any(identity.values())  # listed, left empty: the connection string wins


def test_the_function_app_installs_this_version_from_the_wheel_that_azd_builds() -> None:
    lines = [
        line
        for line in (FUNCTION_APP / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # The wheel by its file, so that no package of that name on an index can stand in.
    assert lines[0] == f"./wheels/queued_jobs-{queued_jobs.__version__}-py3-none-any.whl"
    assert not any(line.startswith(("--find-links", "-f ", "--extra-index-url")) for line in lines)
    pyproject = (ROOT / "pyproject.toml").read_text()
    functions_extra = re.search(r'^functions = \["(.+)"\]$', pyproject, re.MULTILINE)
    assert functions_extra is not None
    assert functions_extra.group(1) in lines  # the same azure-functions range
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "../infra/hooks/build_wheel.py wheels" in azure_yaml
    assert "project: ./function_app" in azure_yaml


def test_the_deployed_package_leaves_out_local_files_but_keeps_the_wheels() -> None:
    ignored = set((FUNCTION_APP / ".funcignore").read_text().split())

    assert {"local.settings.json", ".venv", "__pycache__", "tests"} <= ignored
    assert not {"wheels", "wheels/", "*.whl"} & ignored
    assert "function_app/wheels/" in (ROOT / ".gitignore").read_text().splitlines()
