"""What `azd package` ships: the wheel the prepackage hook builds (from a clean copy, so no
stale build files), the requirements that install exactly that wheel, the function app
folder as .funcignore filters it (no local data), and a host.json whose log levels name
categories the host has."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

import queued_jobs

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP = ROOT / "function_app"
HOOK = ROOT / "infra" / "hooks" / "build_wheel.py"
#: Offline: the build backend from this environment, nothing from an index.
OFFLINE = ("--no-build-isolation", "--no-index", "--quiet")
HOOK_COMMAND = (sys.executable, str(HOOK))
PIP_DRY_RUN = (sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet")
WHEEL = f"queued_jobs-{queued_jobs.__version__}-py3-none-any.whl"
#: What the Functions host files under: logs of function code come as
#: ``Function.<name>.User``, the host's own under ``Host.*``, workers' under ``Worker``.
HOST_CATEGORY_ROOTS = ("Function", "Host", "Worker", "Microsoft")


def build_wheel(out: Path, *, source: Path = ROOT) -> Path:
    """The wheel, built by the hook's script as azd runs it, but offline."""
    subprocess.run(
        [sys.executable, str(HOOK), str(out), "--source", str(source), *OFFLINE],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def checkout_with_stale_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package sources with what an in-place build and a local run leave behind."""
    source = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "queued_jobs", source / "queued_jobs", ignore=shutil.ignore_patterns("__pycache__")
    )
    stale = source / "build" / "lib" / "queued_jobs"
    stale.mkdir(parents=True)
    (stale / "removed_module.py").write_text("SECRET = 'from an old build'\n")
    info = source / "queued_jobs.egg-info"
    info.mkdir()
    (info / "SOURCES.txt").write_text("queued_jobs/removed_module.py\n")
    (source / "queued_jobs" / "__pycache__").mkdir()
    (source / "queued_jobs" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("")
    return source


def test_the_wheel_holds_the_package_and_nothing_an_earlier_build_left(
    checkout_with_stale_build: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "wheels", source=checkout_with_stale_build)

    assert wheel.name == WHEEL
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"queued_jobs-{queued_jobs.__version__}.dist-info/"
    assert all(name.startswith(("queued_jobs/", dist_info)) for name in names)
    package = {n for n in names if n.startswith("queued_jobs/")}
    sources = {
        path.relative_to(checkout_with_stale_build).as_posix()
        for path in (checkout_with_stale_build / "queued_jobs").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert package == sources
    assert "queued_jobs/removed_module.py" not in names


def test_a_second_build_replaces_the_wheel_instead_of_adding_one(tmp_path: Path) -> None:
    out = tmp_path / "wheels"
    out.mkdir()
    (out / "queued_jobs-0.0.1-py3-none-any.whl").write_bytes(b"old")

    build_wheel(out)

    assert [path.name for path in out.iterdir()] == [WHEEL]


def test_the_requirements_install_exactly_the_wheel_the_hook_builds(tmp_path: Path) -> None:
    app = tmp_path / "function_app"
    app.mkdir()
    shutil.copy2(FUNCTION_APP / "requirements.txt", app)
    build_wheel(app / "wheels")

    # As the remote build runs it, from the app folder, but offline: every other
    # requirement must already be satisfied by this environment.
    report = tmp_path / "report.json"
    subprocess.run(
        [*PIP_DRY_RUN, "--report", str(report), "-r", "requirements.txt"],
        cwd=app,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )

    installs = json.loads(report.read_text())["install"]
    assert [(i["metadata"]["name"], i["metadata"]["version"]) for i in installs] == [
        ("queued-jobs", queued_jobs.__version__)
    ]
    assert installs[0]["download_info"]["url"] == (app / "wheels" / WHEEL).as_uri()


def test_the_hook_refuses_a_wheel_the_requirements_do_not_name(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("./wheels/queued_jobs-9.9.9-py3-none-any.whl\n")

    run = subprocess.run(
        [*HOOK_COMMAND, str(tmp_path / "wheels"), "--requirements", str(requirements), *OFFLINE],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode != 0
    assert "queued_jobs-9.9.9-py3-none-any.whl" in run.stderr


def test_azd_runs_the_hook_on_every_platform_and_asks_for_a_recent_azd() -> None:
    text = (ROOT / "azure.yaml").read_text()

    hooks = re.findall(
        r"^\s+(?:run: |)python3? \.\./infra/hooks/build_wheel\.py wheels$", text, re.M
    )
    assert len(hooks) == 2  # posix and windows
    assert "pip wheel" not in text  # never built in place
    required = re.search(r'^requiredVersions:\n  azd: "(>= [\d.]+)"$', text, re.MULTILINE)
    assert required is not None


def funcignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in (FUNCTION_APP / ".funcignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def shipped(folder: Path) -> set[str]:
    """The files under ``folder`` that .funcignore keeps (gitignore rules for patterns
    without a slash, the only ones it has: a match on any part of the path excludes it)."""
    patterns = funcignore_patterns()
    assert not any("/" in p.rstrip("/") or p.startswith("!") for p in patterns)
    kept = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        parts = PurePosixPath(path.relative_to(folder).as_posix()).parts
        if not any(fnmatch.fnmatchcase(part, p.rstrip("/")) for part in parts for p in patterns):
            kept.add("/".join(parts))
    return kept


def test_the_deployed_folder_holds_the_app_and_its_wheel_but_no_local_data(
    tmp_path: Path,
) -> None:
    app = tmp_path / "function_app"
    shutil.copytree(FUNCTION_APP, app, ignore=shutil.ignore_patterns("__pycache__", "wheels"))
    code = shipped(app)
    litter = {
        "local.settings.json": "{}",
        ".azurite/__azurite_db_queue__.json": "{}",
        "__azurite_db_blob__.json": "{}",
        "__azurite_db_table__.json": "{}",
        "__blobstorage__/0a/blob": "x",
        "__queuestorage__/q/message": "x",
        ".venv/lib/site.py": "",
        "tests/test_jobs.py": "",
        "__pycache__/sample_jobs.cpython-311.pyc": "",
        "queued-jobs.db": "",
        f"wheels/{WHEEL}": "",
    }
    for name, text in litter.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)

    assert shipped(app) == code | {f"wheels/{WHEEL}"}
    assert {"function_app.py", "host.json", "requirements.txt", "sample_jobs.py"} <= code


def test_host_json_log_levels_name_categories_the_host_logs_under() -> None:
    levels = json.loads((FUNCTION_APP / "host.json").read_text())["logging"]["logLevel"]

    for category in levels:
        assert category == "default" or category.split(".")[0] in HOST_CATEGORY_ROOTS, category
    # Python logger names are no host category: function code logs as Function.<name>.User.
    assert "queued_jobs" not in levels
    assert levels.get("Function", levels["default"]) in {"Information", "Debug", "Trace"}


def test_host_json_has_the_host_export_opentelemetry_beside_the_apps_own() -> None:
    host = json.loads((FUNCTION_APP / "host.json").read_text())

    # The host's invocations and logs as OpenTelemetry, correlated with the app's spans;
    # logging.applicationInsights (sampling and the like) would not apply in this mode.
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "applicationInsights" not in host["logging"]
