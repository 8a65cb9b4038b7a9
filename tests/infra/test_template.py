"""Checks of infra/azuredeploy.json as plain JSON.

The template cannot be deployed or compiled here (no Azure, no az CLI): these tests are
the only check it gets, so they look for the mistakes the inspiring project shipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "azuredeploy.json"

# Built-in role definition ids, as documented by Microsoft ("Azure built-in roles").
BUILT_IN_ROLES = {
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "keyVaultSecretsOfficer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}

# Settings the platform reads, not the app (so Settings does not know them).
PLATFORM_SETTING = re.compile(
    r"^(AzureWebJobsStorage__\w+|APPLICATIONINSIGHTS_\w+|FUNCTIONS_\w+|WEBSITE_\w+)$"
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(TEMPLATE_PATH.read_text())


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["resources"] if r["type"] == kind]


def only_resource(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = resources_of(template, kind)
    return found


def app_settings(template: dict[str, Any]) -> dict[str, str]:
    """Every app setting the template can set, on any plan, by name."""
    variables = template["variables"]
    settings = variables["commonAppSettings"] + variables["premiumAppSettings"]
    names = {item["name"]: item["value"] for item in settings}
    site = only_resource(template, "Microsoft.Web/sites")
    expression = site["properties"]["siteConfig"]["appSettings"]
    for name in re.findall(r"createObject\('name', '(\w+)'", expression):
        names[name] = "<expression>"
    return names


def concrete_value(value: str, defaults: dict[str, Any]) -> str:
    """A template value with a plain parameter reference replaced by its default."""
    reference = re.fullmatch(r"\[parameters\('(\w+)'\)\]", value)
    if reference:
        return str(defaults[reference[1]] or "")
    return "x" if value.startswith("[") else value


def test_every_parameter_is_used_and_every_reference_exists(template: dict[str, Any]) -> None:
    body = json.dumps(template["variables"]) + json.dumps(template["resources"])
    body += json.dumps(template["outputs"])
    used_parameters = set(re.findall(r"parameters\('(\w+)'\)", body))
    used_variables = set(re.findall(r"variables\('(\w+)'\)", body))
    declared_parameters = set(template["parameters"])
    assert used_parameters == declared_parameters
    assert used_variables <= set(template["variables"])


def test_app_settings_configure_the_app_on_azure(template: dict[str, Any]) -> None:
    values = app_settings(template)
    unknown = {
        name
        for name in values
        if not PLATFORM_SETTING.match(name) and name.lower() not in Settings.model_fields
    }
    assert not unknown, f"settings the app does not read: {unknown}"
    # The app must start from these settings alone: placeholders stand for expressions.
    defaults = {name: spec.get("defaultValue") for name, spec in template["parameters"].items()}
    concrete = {
        name.lower(): concrete_value(value, defaults)
        for name, value in values.items()
        if not PLATFORM_SETTING.match(name)
    }
    concrete["backup_storage_account_name"] = "stexample123"
    concrete["key_vault_url"] = "https://kv-example.vault.azure.net/"
    concrete["entra_tenant_id"] = "00000000-0000-0000-0000-000000000000"
    concrete["entra_audience"] = "api://dilux-backup"
    concrete["notify_webhook_url"] = ""
    settings = Settings(_env_file=None, **concrete)
    assert settings.secret_store.value == "keyvault"
    assert settings.auth_mode.value == "entra"
    assert settings.backup_storage_connection_string is None


def test_the_host_buffers_no_body_the_api_would_refuse(template: dict[str, Any]) -> None:
    from http_api.request_guard import MAX_BODY_BYTES

    limit = int(app_settings(template)["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"])
    assert MAX_BODY_BYTES <= limit <= 4 * MAX_BODY_BYTES


def test_flex_gets_no_worker_runtime_setting(template: dict[str, Any]) -> None:
    common = {item["name"] for item in template["variables"]["commonAppSettings"]}
    assert "FUNCTIONS_WORKER_RUNTIME" not in common
    runtime = template["variables"]["flexFunctionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.11"}


def test_no_key_or_secret_leaves_the_template(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    assert "listKeys" not in text
    assert "AccountKey" not in text
    assert "securestring" not in text.lower()
    for name, output in template["outputs"].items():
        assert not re.search(r"key$|password|secret|connectionstring", name, re.IGNORECASE), name
        assert "ConnectionString" not in output["value"], name
    for name, value in app_settings(template).items():
        if name == "APPLICATIONINSIGHTS_CONNECTION_STRING":
            # Ingestion endpoint and instrumentation id only; with DisableLocalAuth the
            # component accepts telemetry from the app's Entra identity alone.
            continue
        assert not re.search(r"KEY$|PASSWORD|CONNECTION_STRING", name), name
        assert not re.search(r"AccountKey=|SharedAccessSignature|sig=", value), name


def test_application_insights_accepts_only_entra_identities(template: dict[str, Any]) -> None:
    component = only_resource(template, "Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True
    assert app_settings(template)["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "Authorization=AAD"
    )


def test_the_app_not_the_worker_configures_telemetry(template: dict[str, Any]) -> None:
    """With PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY the worker would configure Azure
    Monitor too (shared/telemetry.py then adds only its metrics); the template leaves it to
    the app, which exports its own log lines with their job fields."""
    settings = app_settings(template)
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
    assert "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY" not in settings
    requirements = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    assert "azure-monitor-opentelemetry>=" in requirements


def test_storage_is_hardened(template: dict[str, Any]) -> None:
    account = only_resource(template, "Microsoft.Storage/storageAccounts")["properties"]
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["supportsHttpsTrafficOnly"] is True
    blob = only_resource(template, "Microsoft.Storage/storageAccounts/blobServices")
    assert blob["properties"]["isVersioningEnabled"] is True
    assert blob["properties"]["deleteRetentionPolicy"]["enabled"] is True
    containers = resources_of(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert len(containers) == 2
    assert all(c["properties"]["publicAccess"] == "None" for c in containers)
    lifecycle = only_resource(template, "Microsoft.Storage/storageAccounts/managementPolicies")
    assert lifecycle["properties"]["policy"]["rules"]


def test_key_vault_uses_rbac_soft_delete_and_purge_protection(template: dict[str, Any]) -> None:
    vault = only_resource(template, "Microsoft.KeyVault/vaults")["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert "accessPolicies" not in vault


def test_roles_are_built_in_and_scoped_to_one_resource(template: dict[str, Any]) -> None:
    roles = template["variables"]["roles"]
    assert roles == BUILT_IN_ROLES
    assignments = [
        a
        for a in resources_of(template, "Microsoft.Authorization/roleAssignments")
        if a["scope"] != CONTAINER_SCOPE  # the custom immutability role: tested below
    ]
    scopes = sorted(re.match(r"\[concat\('([\w.]+/\w+)/'", a["scope"])[1] for a in assignments)
    # Storage (three data roles through one copy loop), the vault, the telemetry component:
    # never the resource group or the subscription.
    assert scopes == [
        "Microsoft.Insights/components",
        "Microsoft.KeyVault/vaults",
        "Microsoft.Storage/storageAccounts",
    ]
    for assignment in assignments:
        assert assignment["properties"]["principalType"] == "ServicePrincipal"
        assert (
            "subscriptionResourceId('Microsoft.Authorization/roleDefinitions'"
            in (assignment["properties"]["roleDefinitionId"])
        )
    storage_loop = next(a for a in assignments if "storageAccounts" in a["scope"])
    assert template["variables"]["storageRoleNames"] == [
        "storageBlobDataContributor",
        "storageQueueDataContributor",
        "storageTableDataContributor",
    ]
    assert storage_loop["copy"]["count"] == "[length(variables('storageRoleNames'))]"
    vault_role = next(a for a in assignments if "vaults" in a["scope"])
    assert "keyVaultSecretsOfficer" in vault_role["properties"]["roleDefinitionId"]


CONTAINER_SCOPE = "[variables('backupContainerScope')]"
IMMUTABILITY_ACTION = (
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/immutableStorage/"
    "runAsSuperUser/action"
)


def test_the_backup_container_supports_version_level_immutability(
    template: dict[str, Any],
) -> None:
    containers = resources_of(template, "Microsoft.Storage/storageAccounts/blobServices/containers")
    backups = next(c for c in containers if "backupContainerName" in c["name"])
    assert backups["properties"]["immutableStorageWithVersioning"] == {"enabled": True}
    settings = app_settings(template)
    assert settings["IMMUTABILITY"] == "on" and settings["IMMUTABILITY_MODE"] == "locked"
    assert settings["ENCRYPTION"] == "on"


def test_immutability_needs_one_data_action_on_the_backup_container_only(
    template: dict[str, Any],
) -> None:
    """Storage Blob Data Owner would also allow it, with far more: a custom role grants
    only the action that sets immutability policies and legal holds."""
    [role] = resources_of(template, "Microsoft.Authorization/roleDefinitions")
    [permissions] = role["properties"]["permissions"]
    assert permissions == {
        "actions": [],
        "notActions": [],
        "dataActions": [IMMUTABILITY_ACTION],
        "notDataActions": [],
    }
    assert role["properties"]["assignableScopes"] == ["[resourceGroup().id]"]
    [assignment] = [
        a
        for a in resources_of(template, "Microsoft.Authorization/roleAssignments")
        if a["scope"] == CONTAINER_SCOPE
    ]
    assert "immutabilityRoleName" in assignment["properties"]["roleDefinitionId"]
    scope = template["variables"]["backupContainerScope"]
    assert scope.endswith(
        "'/blobServices/default/containers/', parameters('backupContainerName'))]"
    )


def test_function_app_uses_its_own_identity_for_storage(template: dict[str, Any]) -> None:
    site = only_resource(template, "Microsoft.Web/sites")
    assert site["identity"] == {"type": "SystemAssigned"}
    assert site["properties"]["httpsOnly"] is True
    settings = app_settings(template)
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "AzureWebJobsStorage" not in settings
    deployment = template["variables"]["flexFunctionAppConfig"]["deployment"]["storage"]
    assert deployment["authentication"] == {"type": "SystemAssignedIdentity"}


def test_flex_subnet_is_delegated_to_container_app_environments(
    template: dict[str, Any],
) -> None:
    vnet = only_resource(template, "Microsoft.Network/virtualNetworks")
    assert vnet["condition"] == "[parameters('enableVnetIntegration')]"
    (subnet,) = vnet["properties"]["subnets"]
    service = subnet["properties"]["delegations"][0]["properties"]["serviceName"]
    assert "'Microsoft.App/environments'" in service
    assert service.startswith("[if(variables('isFlex')")


def test_plan_defaults_to_flex_consumption(template: dict[str, Any]) -> None:
    sku = template["parameters"]["planSku"]
    assert sku["defaultValue"] == "FC1"
    assert sku["allowedValues"] == ["FC1", "EP1", "EP2", "EP3"]
    assert template["variables"]["flexPlanSku"] == {"name": "FC1", "tier": "FlexConsumption"}
