"""The deployment docs agree with the template and the files they describe: the instance
cap's bounds, the per-group reading of it, the tools and checks of the walk-through, and
the local steps in the order that works on a fresh clone."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
from pycep import BicepParser

from queued_jobs.cli import cli
from queued_jobs.models import Priority

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
FUNCTIONS = (ROOT / "docs" / "functions.md").read_text()
INFRA_README = (ROOT / "infra" / "README.md").read_text()
AZURE_YAML = (ROOT / "azure.yaml").read_text()


@pytest.fixture(scope="module")
def instance_cap() -> dict[str, Any]:
    parameter = dict(BicepParser().parse(file_path=ROOT / "infra" / "main.bicep"))["parameters"][
        "maximumInstanceCount"
    ]
    decorators = {d["type"]: d["argument"] for d in parameter["decorators"]}
    return {
        "min": decorators["min_value"],
        "max": decorators["max_value"],
        "default": parameter["default"],
    }


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("page", [DEPLOY, INFRA_README], ids=["deploy.md", "infra/README.md"])
def test_the_parameter_tables_give_the_templates_bounds_for_the_instance_cap(
    page: str, instance_cap: dict[str, Any]
) -> None:
    rows = re.findall(r"^\| `maximumInstanceCount` \| `(\d+)` \| (\d+)-(\d+)\b", page, re.M)

    assert len(rows) == 1
    default, low, high = (int(n) for n in rows[0])
    assert (low, high, default) == (
        instance_cap["min"],
        instance_cap["max"],
        instance_cap["default"],
    )


def test_the_operations_guide_gives_the_same_bounds_and_no_cap_below_them(
    instance_cap: dict[str, Any],
) -> None:
    row = re.search(
        r"^\| `maximumInstanceCount` \|[^|]*\|[^|]*?([\d,]+) to ([\d,]+)", OPERATIONS, re.M
    )
    assert row is not None
    assert (_number(row.group(1)), _number(row.group(2))) == (
        instance_cap["min"],
        instance_cap["max"],
    )
    # No advice to set the cap to a value the plan refuses.
    for advice in re.finditer(
        r"maximum instance count (?:near|to|at|of) ([\d,]+)", OPERATIONS, re.I
    ):
        assert _number(advice.group(1)) >= instance_cap["min"], advice.group(0)


def test_the_docs_read_the_cap_per_function_group_and_name_the_groups() -> None:
    for page in (DEPLOY, OPERATIONS):
        assert "per function group" in page
        assert "across all its functions" not in page
    for priority in Priority:
        assert f"`queued_jobs_{priority.value}`" in OPERATIONS
    assert "`queued_jobs_<band>_poison`" in OPERATIONS
    assert "`queued_jobs_sweep`" in OPERATIONS


def test_the_walkthrough_lists_the_tools_it_uses_and_checks_the_indexing() -> None:
    tools = DEPLOY[DEPLOY.index("### What you need") : DEPLOY.index("### Choose a region")]
    required = re.search(r'^  azd: ">= (\d+\.\d+)(?:\.0)?"$', AZURE_YAML, re.M)
    assert required is not None

    assert f"(`azd`) {required.group(1)} or later" in tools
    for tool in ("(`az`)", "`queued-jobs` CLI", "Python 3.11"):
        assert tool in tools
    assert "az functionapp list-flexconsumption-locations" in DEPLOY
    assert "az functionapp function list" in DEPLOY
    assert "AZURE_PRINCIPAL_ID" in DEPLOY


def test_the_local_steps_build_the_wheel_before_installing_the_requirements() -> None:
    section = FUNCTIONS[FUNCTIONS.index("## Running it locally") :]
    steps = re.search(r"```sh\n(.*?)```", section, re.S)
    assert steps is not None
    lines = [line.split("#")[0].strip() for line in steps.group(1).splitlines()]

    build = lines.index("python ../infra/hooks/build_wheel.py wheels")
    install = lines.index("pip install -r requirements.txt")
    assert build < install
    assert lines.index("cd function_app") < build
    assert (ROOT / "infra" / "hooks" / "build_wheel.py").is_file()


def _cli_lines(page: str) -> list[str]:
    """The ``queued-jobs`` commands of the page's shell blocks, continuation lines joined."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", page, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for command in line.split(" #")[0].split("&&"):
                if command.strip().startswith("queued-jobs "):
                    lines.append(command.strip())
    return lines


@pytest.mark.parametrize(
    "command",
    [*_cli_lines(DEPLOY), *_cli_lines(FUNCTIONS)],
)
def test_every_cli_command_in_the_deploy_docs_is_one_the_cli_accepts(command: str) -> None:
    args = shlex.split(command)[1:]
    options = {opt: param for param in cli.params for opt in param.opts}
    while args[0] in options:  # the group's own options come first
        takes_value = not getattr(options[args[0]], "is_flag", False)
        args = args[2:] if takes_value else args[1:]
    name, *rest = args
    group = cli.make_context("queued-jobs", [name], resilient_parsing=True)
    subcommand = cli.get_command(group, name)
    assert subcommand is not None, name

    try:
        subcommand.make_context(name, rest, parent=group)
    except click.UsageError as error:  # a missing or unknown option, as the user would see
        pytest.fail(f"{command!r}: {error.format_message()}")
