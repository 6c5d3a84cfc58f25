"""infra/main.bicep, parsed with pycep: the security settings it promises and the names it
shares with the package (queues, table, containers, app settings, the azd service)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser
from pycep.models import BicepElement

from queued_jobs import AzureStorage, QueueNames
from queued_jobs.functions import DEAD_LETTER_SUFFIX, QUEUE_SETTING, job_blueprint
from queued_jobs.queue_names import MAX_BASE_NAME
from queued_jobs.queues.base import POISON_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "main.bicep"

STORAGE = "Microsoft.Storage/storageAccounts"
SITE = "Microsoft.Web/sites"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues"
TABLE = "Microsoft.Storage/storageAccounts/tableServices/tables"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"

BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"

AZURE_QUEUE_NAME_MAX = 63
#: The bounds of a Flex Consumption app's maximumInstanceCount.
MIN_INSTANCES, MAX_INSTANCES = 40, 1000
AZURE_STORAGE_ACCOUNT_NAME_MAX = 24
UNIQUE_STRING_LENGTH = 13  # uniqueString() is always 13 characters

FORBIDDEN_IN_OUTPUTS = ("key", "secret", "password", "connectionstring", "sas", "list")


@dataclass(frozen=True)
class Ref:
    """A reference to a resource's property, such as ``identity.properties.clientId``."""

    symbol: str
    path: str


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed = BicepParser().parse(file_path=TEMPLATE)
    return dict(parsed)


class Evaluator:
    """Resolves what the template's expressions can be resolved to offline: parameters to
    their defaults, variables to their values, ``symbol.a.b`` to :class:`Ref`, and the few
    functions the template uses on names and role ids."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.parameters: dict[str, Any] = template["parameters"]
        self.variables: dict[str, Any] = template["variables"]
        self.resources: dict[str, Any] = template["resources"]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, BicepElement):
            return self._identifier(str(value))
        if isinstance(value, str):
            return self._interpolate(value)
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, dict):
            if set(value) == {"operator"}:
                return self._operator(value["operator"])
            if set(value) == {"function"}:
                return self._function(value["function"])
            return {_unquote(key): self(item) for key, item in value.items()}
        return value

    def _identifier(self, name: str) -> Any:
        if name in self.parameters:
            # A parameter without a default (environmentName) stays a placeholder.
            return self(self.parameters[name].get("default", f"<{name}>"))
        if name in self.variables:
            return self(self.variables[name]["value"])
        if name in self.resources:
            return Ref(name, "")
        raise AssertionError(f"{name!r} is neither a parameter, a variable nor a resource")

    def _interpolate(self, text: str) -> str:
        def plain(match: re.Match[str]) -> str:
            resolved = self._identifier(match.group(1))
            return resolved if isinstance(resolved, str) else match.group(0)

        return re.sub(r"\$\{(\w+)\}", plain, text)

    def _operator(self, operator: dict[str, Any]) -> Ref:
        assert operator["type"] == "property_accessor", f"unexpected operator {operator}"
        base = self(operator["operands"]["operand_1"])
        assert isinstance(base, Ref), f"property of something else than a resource: {operator}"
        path = _path(operator["operands"]["operand_2"])
        return Ref(base.symbol, f"{base.path}.{path}" if base.path else path)

    def _function(self, function: dict[str, Any]) -> Any:
        kind, arguments = function["type"], function["parameters"]
        if kind == "subscription_resource_id":
            return f"{arguments['resource_type']}/{self(arguments['resource_name_1'])}"
        if kind == "guid":
            return ("guid", *(self(argument) for argument in arguments.values()))
        if kind in {"resource_group", "subscription"}:
            return Ref(f"{kind}()", "")
        if kind == "union":
            merged: dict[str, Any] = {}
            for argument in arguments.values():
                merged.update(self(argument))
            return merged
        return function


def _path(value: Any) -> str:
    """``a.b.c`` from pycep's nested property accessors, without resolving anything."""
    if isinstance(value, dict):
        operator = value["operator"]
        assert operator["type"] == "property_accessor", f"unexpected operator {operator}"
        operands = operator["operands"]
        return f"{_path(operands['operand_1'])}.{_path(operands['operand_2'])}"
    return str(value)


def _unquote(key: str) -> str:
    return key[1:-1] if key.startswith("'") and key.endswith("'") else key


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["resources"].items()
        if resource["type"] == resource_type
    }


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = _resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def _config(resource: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource, also of a resource declared with a loop."""
    config: dict[str, Any] = resource["config"]
    return config["config"] if "loop_type" in config else config


def _created_names(template: dict[str, Any], resource_type: str) -> set[str]:
    evaluate = Evaluator(template)
    names: set[str] = set()
    for resource in _resources(template, resource_type).values():
        config = resource["config"]
        if "loop_type" in config:
            loop = config["loop_type"]
            assert loop["type"] == "array", f"unexpected loop {loop}"
            assert config["config"]["name"] == loop["detail"]["item_name"]
            names.update(evaluate(BicepElement(loop["detail"]["array_name"])))
        else:
            names.add(evaluate(config["name"]))
    return names


def _decorators(template: dict[str, Any], parameter: str) -> dict[str, Any]:
    return {d["type"]: d["argument"] for d in template["parameters"][parameter]["decorators"]}


def _identity_role_assignments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The app identity's role assignments (the deploying principal's are a loop)."""
    return {
        name: assignment
        for name, assignment in _resources(template, ROLE_ASSIGNMENT).items()
        if "loop_type" not in assignment["config"]
    }


def _app_settings(template: dict[str, Any]) -> dict[str, Any]:
    _, site = _only(template, SITE)
    settings = _config(site)["properties"]["siteConfig"]["appSettings"]
    names = [setting["name"] for setting in settings]
    assert len(names) == len(set(names)), f"app settings set twice: {names}"
    return {setting["name"]: setting["value"] for setting in settings}


def _azure_yaml_service_names() -> list[str]:
    text = (ROOT / "azure.yaml").read_text()
    services = re.search(r"^services:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    assert services, "azure.yaml has no services"
    return re.findall(r"^  ([\w-]+):\s*$", services.group(1), re.MULTILINE)


def _sample_containers() -> set[str]:
    """The containers function_app/sample_jobs.py opens with ``app.files("...")``."""
    tree = ast.parse((ROOT / "function_app" / "sample_jobs.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "files"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


# --- security --------------------------------------------------------------------------


def test_the_storage_account_takes_only_entra_id_over_tls(template: dict[str, Any]) -> None:
    _, storage = _only(template, STORAGE)
    properties = _config(storage)["properties"]

    assert properties["allowSharedKeyAccess"] is False
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["minimumTlsVersion"] in {"TLS1_2", "TLS1_3"}
    assert properties["allowBlobPublicAccess"] is False
    assert properties["defaultToOAuthAuthentication"] is True
    assert properties["allowCrossTenantReplication"] is False


def test_no_container_is_public(template: dict[str, Any]) -> None:
    containers = _resources(template, CONTAINER)

    assert containers
    for name, container in containers.items():
        assert _config(container)["properties"]["publicAccess"] == "None", name


def test_the_function_app_runs_as_the_identity_over_https(template: dict[str, Any]) -> None:
    identity, _ = _only(template, "Microsoft.ManagedIdentity/userAssignedIdentities")
    _, site = _only(template, SITE)
    config = _config(site)
    properties = config["properties"]

    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] in {"1.2", "1.3"}
    assert properties["siteConfig"]["ftpsState"] == "Disabled"
    assert config["identity"]["type"] == "UserAssigned"
    assert list(config["identity"]["userAssignedIdentities"]) == [f"'${{{identity}.id}}'"]


def test_the_deployment_package_is_read_with_the_identity(template: dict[str, Any]) -> None:
    evaluate = Evaluator(template)
    identity, _ = _only(template, "Microsoft.ManagedIdentity/userAssignedIdentities")
    storage, _ = _only(template, STORAGE)
    _, site = _only(template, SITE)
    deployment = _config(site)["properties"]["functionAppConfig"]["deployment"]["storage"]

    assert deployment["type"] == "blobContainer"
    assert deployment["authentication"]["type"] == "UserAssignedIdentity"
    assert evaluate(deployment["authentication"]["userAssignedIdentityResourceId"]) == Ref(
        identity, "id"
    )
    # The package lives in a container of our own account, one the template creates.
    url = evaluate(deployment["value"])
    prefix = f"${{{storage}.properties.primaryEndpoints.blob}}"
    assert url.startswith(prefix)
    assert url.removeprefix(prefix) in _created_names(template, CONTAINER)


def test_the_identity_holds_exactly_the_data_and_telemetry_roles(
    template: dict[str, Any],
) -> None:
    evaluate = Evaluator(template)
    identity, _ = _only(template, "Microsoft.ManagedIdentity/userAssignedIdentities")
    storage, _ = _only(template, STORAGE)
    insights, _ = _only(template, "Microsoft.Insights/components")
    definitions = "Microsoft.Authorization/roleDefinitions/"

    granted = set()
    for name, assignment in _identity_role_assignments(template).items():
        config = _config(assignment)
        scope = evaluate(config["scope"])
        role = evaluate(config["properties"]["roleDefinitionId"])
        assert isinstance(scope, Ref), name
        assert role.startswith(definitions), name
        role_id = role.removeprefix(definitions)
        assert evaluate(config["properties"]["principalId"]) == Ref(
            identity, "properties.principalId"
        )
        assert config["properties"]["principalType"] == "ServicePrincipal"
        assert evaluate(config["name"]) == (
            "guid",
            Ref(scope.symbol, "id"),
            Ref(identity, "id"),
            role_id,
        ), f"{name}: name is not guid(scope.id, identity.id, role)"
        granted.add((scope.symbol, role_id))

    assert granted == {
        (storage, BLOB_DATA_OWNER),
        (storage, QUEUE_DATA_CONTRIBUTOR),
        (storage, TABLE_DATA_CONTRIBUTOR),
        (insights, MONITORING_METRICS_PUBLISHER),
    }


def test_the_deploying_principal_gets_the_data_roles_the_cli_needs_only_when_named(
    template: dict[str, Any],
) -> None:
    evaluate = Evaluator(template)
    storage, _ = _only(template, STORAGE)
    loops = {
        name: assignment
        for name, assignment in _resources(template, ROLE_ASSIGNMENT).items()
        if "loop_type" in assignment["config"]
    }
    assert len(loops) == 1
    assignment = next(iter(loops.values()))
    loop = assignment["config"]["loop_type"]["detail"]
    config = _config(assignment)
    role = loop["item_name"]

    # No principal, no assignment: the loop runs over an empty list.
    condition = loop["array_name"]["operator"]
    assert condition["type"] == "conditional"
    operands = condition["operands"]
    assert operands["condition"] == {
        "function": {"type": "empty", "parameters": {"item_to_test": "principalId"}}
    }
    assert operands["true_value"] == []
    roles = evaluate(BicepElement(operands["false_value"]))
    assert set(roles) == {BLOB_DATA_CONTRIBUTOR, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR}
    assert len(roles) == len(set(roles))
    assert template["parameters"]["principalId"]["default"] == ""
    # Scoped to the account, to the principal azd names, one assignment name per role.
    assert evaluate(config["scope"]) == Ref(storage, "")
    assert config["properties"]["principalId"] == BicepElement("principalId")
    assert config["properties"]["principalType"] == BicepElement("principalType")
    assert config["properties"]["roleDefinitionId"]["function"]["parameters"][
        "resource_name_1"
    ] == BicepElement(role)
    name = config["name"]["function"]
    assert name["type"] == "guid"
    assert list(name["parameters"].values())[1:] == [BicepElement("principalId"), role]
    assert _decorators(template, "principalType")["allowed"] == ["User", "ServicePrincipal"]
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["principalId"] == {"value": "${AZURE_PRINCIPAL_ID}"}
    assert parameters["principalType"] == {"value": "${AZURE_PRINCIPAL_TYPE=User}"}


def test_telemetry_needs_an_entra_id_token(template: dict[str, Any]) -> None:
    workspace, _ = _only(template, "Microsoft.OperationalInsights/workspaces")
    _, insights = _only(template, "Microsoft.Insights/components")
    properties = _config(insights)["properties"]

    assert properties["DisableLocalAuth"] is True
    assert Evaluator(template)(properties["WorkspaceResourceId"]) == Ref(workspace, "id")


def test_the_app_sends_telemetry_to_the_templates_application_insights_as_the_identity(
    template: dict[str, Any],
) -> None:
    identity, _ = _only(template, "Microsoft.ManagedIdentity/userAssignedIdentities")
    insights, _ = _only(template, "Microsoft.Insights/components")
    settings = _app_settings(template)
    setup = runpy.run_path(str(ROOT / "function_app" / "telemetry_setup.py"))

    # The setting the sample's telemetry_setup (and the host) read: this resource's.
    assert Evaluator(template)(settings[setup["CONNECTION_SETTING"]]) == Ref(
        insights, "properties.ConnectionString"
    )
    # Local auth is off: the exporters take a token for the app's identity, which holds
    # Monitoring Metrics Publisher on the resource (the role test above).
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        f"Authorization=AAD;ClientId=${{{identity}.properties.clientId}}"
    )
    # The worker hands the host's trace context on, and the host leaves the app's logs to it;
    # the worker must not configure the distro as well (every record would go twice).
    assert settings["PYTHON_ENABLE_OPENTELEMETRY"] == "true"
    assert setup["WORKER_SETTING"] not in settings
    assert setup["LOGGER_SETTING"] not in settings  # the queued_jobs loggers, by default


def test_outputs_hold_no_secrets(template: dict[str, Any]) -> None:
    outputs = template["outputs"]

    assert {"FUNCTION_APP_URL", "FUNCTION_APP_NAME", "STORAGE_ACCOUNT_NAME"} <= set(outputs)
    evaluate = Evaluator(template)
    for name, output in outputs.items():
        text = f"{name} {evaluate(output['value'])}".lower().replace("_", "")
        for word in FORBIDDEN_IN_OUTPUTS:
            assert word not in text, f"output {name} mentions {word!r}"
    assert "listkeys" not in TEMPLATE.read_text().lower()


def test_the_app_reaches_storage_only_through_its_identity(template: dict[str, Any]) -> None:
    identity, _ = _only(template, "Microsoft.ManagedIdentity/userAssignedIdentities")
    storage, _ = _only(template, STORAGE)
    settings = _app_settings(template)
    evaluate = Evaluator(template)
    connection = inspect.signature(job_blueprint).parameters["connection"].default

    assert connection not in settings  # a connection string would carry a key
    assert settings[f"{connection}__credential"] == "managedidentity"
    assert evaluate(settings[f"{connection}__clientId"]) == Ref(identity, "properties.clientId")
    for service in ("blob", "queue", "table"):
        assert evaluate(settings[f"{connection}__{service}ServiceUri"]) == Ref(
            storage, f"properties.primaryEndpoints.{service}"
        )
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        f"Authorization=AAD;ClientId=${{{identity}.properties.clientId}}"
    )
    for name, value in settings.items():
        text = str(value).lower()
        assert "accountkey" not in text, name
        assert "sharedaccesssignature" not in text, name


def test_no_setting_the_flex_consumption_plan_rejects(template: dict[str, Any]) -> None:
    settings = _app_settings(template)

    for name in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"):
        assert name not in settings
    assert "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING" not in settings
    _, site = _only(template, SITE)
    runtime = _config(site)["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"


# --- Flex Consumption ------------------------------------------------------------------


def test_the_app_runs_on_a_flex_consumption_plan(template: dict[str, Any]) -> None:
    plan_name, plan = _only(template, "Microsoft.Web/serverfarms")
    _, site = _only(template, SITE)
    config = _config(site)
    evaluate = Evaluator(template)

    assert _config(plan)["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert _config(plan)["properties"]["reserved"] is True
    assert config["kind"] == "functionapp,linux"
    assert evaluate(config["properties"]["serverFarmId"]) == Ref(plan_name, "id")
    scale = config["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert evaluate(scale["instanceMemoryMB"]) == 2048
    assert evaluate(scale["maximumInstanceCount"]) == 100


def test_parameters_stay_within_what_flex_consumption_and_the_package_accept(
    template: dict[str, Any],
) -> None:
    assert _decorators(template, "instanceMemoryMB")["allowed"] == [512, 2048, 4096]
    # Flex Consumption refuses a maximum below 40 or above 1000 (docs/deploy.md).
    count = _decorators(template, "maximumInstanceCount")
    assert (count["min_value"], count["max_value"]) == (MIN_INSTANCES, MAX_INSTANCES)
    default = template["parameters"]["maximumInstanceCount"]["default"]
    assert MIN_INSTANCES <= default <= MAX_INSTANCES
    # azure-functions 1.x runs on Python 3.10 to 3.12; the package needs 3.11.
    assert _decorators(template, "pythonVersion")["allowed"] == ["3.11", "3.12"]
    assert template["parameters"]["pythonVersion"]["default"] == "3.11"


# --- names shared with the package -----------------------------------------------------


def test_the_queue_parameter_defaults_to_the_package_default(template: dict[str, Any]) -> None:
    assert template["parameters"]["queueName"]["default"] == QueueNames().base


def test_every_queue_name_the_parameter_allows_is_a_valid_queue_name(
    template: dict[str, Any],
) -> None:
    limits = _decorators(template, "queueName")
    longest_band = max(len(band) for band in QueueNames("abc").bands) - len("abc")
    longest_suffix = max(len(POISON_SUFFIX), len(DEAD_LETTER_SUFFIX))

    assert limits["min_length"] >= 3
    assert limits["max_length"] == MAX_BASE_NAME  # what QueueNames accepts
    assert limits["max_length"] + longest_band + longest_suffix <= AZURE_QUEUE_NAME_MAX


def test_the_template_creates_the_queues_the_functions_listen_on(
    template: dict[str, Any],
) -> None:
    bands = QueueNames(template["parameters"]["queueName"]["default"]).bands
    expected = {
        band + suffix for band in bands for suffix in ("", POISON_SUFFIX, DEAD_LETTER_SUFFIX)
    }

    assert _created_names(template, QUEUE) == expected


def test_the_template_creates_the_jobs_table_and_containers(template: dict[str, Any]) -> None:
    defaults = {field.name: field.default for field in dataclasses.fields(AzureStorage)}
    containers = _created_names(template, CONTAINER)

    assert _created_names(template, TABLE) == {defaults["table"]}
    assert defaults["container"] in containers
    assert _sample_containers() == {"documents"}
    assert _sample_containers() <= containers
    package = containers - {defaults["container"], *_sample_containers()}
    assert len(package) == 1
    assert next(iter(package)).startswith("app-package-")


def test_the_queue_setting_is_the_one_the_bindings_read(template: dict[str, Any]) -> None:
    settings = _app_settings(template)

    assert settings[QUEUE_SETTING] == BicepElement("queueName")
    assert Evaluator(template)(settings[QUEUE_SETTING]) == QueueNames().base


def test_the_storage_account_name_fits_azure_limits(template: dict[str, Any]) -> None:
    limits = _decorators(template, "namePrefix")

    assert limits["min_length"] >= 3
    assert limits["max_length"] + UNIQUE_STRING_LENGTH <= AZURE_STORAGE_ACCOUNT_NAME_MAX


def test_azd_deploys_to_the_app_tagged_with_its_service_name(template: dict[str, Any]) -> None:
    _, site = _only(template, SITE)
    tags = Evaluator(template)(_config(site)["tags"])

    assert _azure_yaml_service_names() == ["jobs"]
    assert tags["azd-service-name"] == _azure_yaml_service_names()[0]
    assert "azd-env-name" in tags
    tagged = [
        name
        for name, resource in template["resources"].items()
        if "azd-service-name" in str(resource)
    ]
    assert len(tagged) == 1, f"more than one resource carries azd-service-name: {tagged}"
