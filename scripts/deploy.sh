#!/usr/bin/env bash
# `make deploy`: resource group, template deployment, package upload, with the az CLI.
# Needs: az (logged in with `az login`), and these variables:
#   APP_NAME        the Function App name (globally unique)
#   RESOURCE_GROUP  created if missing
#   LOCATION        an Azure region with Flex Consumption (az functionapp list-flexconsumption-locations)
#   ENTRA_AUDIENCE  the API app registration's Application ID URI or client id
# Optional: PLAN_SKU (FC1, EP1-EP3), ENTRA_TENANT_ID, NOTIFY_WEBHOOK_URL, ENABLE_VNET (true/false),
#   CONSOLE_CLIENT_ID (the web console's app registration; README, "The web console").
# This script cannot run in the development environment (no Azure access): it is unverified.
set -euo pipefail
cd "$(dirname "$0")/.."

for name in APP_NAME RESOURCE_GROUP LOCATION ENTRA_AUDIENCE; do
  if [ -z "${!name:-}" ]; then
    echo "set $name (see the README's Deploying to Azure section)" >&2
    exit 2
  fi
done
command -v az >/dev/null || { echo "the Azure CLI (az) is required" >&2; exit 2; }

package=$(ls -t dist/*.zip | head -n1)
parameters=(appName="$APP_NAME" entraAudience="$ENTRA_AUDIENCE" planSku="${PLAN_SKU:-FC1}"
  enableVnetIntegration="${ENABLE_VNET:-false}" notifyWebhookUrl="${NOTIFY_WEBHOOK_URL:-}"
  consoleClientId="${CONSOLE_CLIENT_ID:-}")
if [ -n "${ENTRA_TENANT_ID:-}" ]; then parameters+=(entraTenantId="$ENTRA_TENANT_ID"); fi

az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none
az deployment group create --resource-group "$RESOURCE_GROUP" --name "dilux-$APP_NAME" \
  --template-file infra/azuredeploy.json --parameters "${parameters[@]}" --output none

if [ "${PLAN_SKU:-FC1}" = "FC1" ]; then
  # Flex Consumption: one-deploy into the deployment container the template made.
  az functionapp deployment source config-zip --resource-group "$RESOURCE_GROUP" \
    --name "$APP_NAME" --src "$package"
else
  # Elastic Premium runs from the package blob (WEBSITE_RUN_FROM_PACKAGE), read with the
  # app's identity; uploading needs Storage Blob Data Contributor for whoever runs this.
  container=$(az deployment group show -g "$RESOURCE_GROUP" -n "dilux-$APP_NAME" \
    --query properties.outputs.deploymentContainer.value -o tsv)
  account=$(az deployment group show -g "$RESOURCE_GROUP" -n "dilux-$APP_NAME" \
    --query properties.outputs.storageAccountName.value -o tsv)
  az storage blob upload --auth-mode login --account-name "$account" --container-name "$container" \
    --name released-package.zip --file "$package" --overwrite
  az functionapp restart --resource-group "$RESOURCE_GROUP" --name "$APP_NAME"
fi
url=$(az deployment group show -g "$RESOURCE_GROUP" -n "dilux-$APP_NAME" \
  --query properties.outputs.functionAppUrl.value -o tsv)
echo "deployed: $url/api/health"
