// queued-jobs on Azure: a Flex Consumption Function App running the queue triggers, the
// storage account holding the jobs table, payload blobs and queues, a user-assigned identity
// that is the app's only way into that account (shared keys are off), and Application
// Insights. Deployed into one resource group by `azd up` (see infra/README.md).
targetScope = 'resourceGroup'

@description('Name of the azd environment: tagged on every resource and part of the hash that keeps names unique.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Start of every resource name, lowercase letters and digits. The storage account is named this prefix plus a 13-character hash, within the 24 characters Azure allows.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'qjobs'

@description('Region of every resource; it must offer the Flex Consumption plan: `az functionapp list-flexconsumption-locations` lists those that do.')
param location string = resourceGroup().location

@description('Memory of each Function App instance, in MB (Flex Consumption sizes).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances each function group scales out to: every queue trigger and the timer is a group of its own (Flex Consumption accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Python version of the Functions worker (azure-functions 1.x supports 3.10 to 3.12; queued-jobs needs 3.11 or later).')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Base queue name (QUEUED_JOBS_QUEUE): the normal band; -high and -low name the others. At most 40 characters (queued_jobs.queue_names.MAX_BASE_NAME), so that <name>-high-deadletter leaves room for the -poison suffix within the 63 Azure allows.')
@minLength(3)
@maxLength(40)
param queueName string = 'jobs'

@description('Replication of the storage account. LRS is the cheapest; choose ZRS, GZRS or RAGZRS when the jobs must survive a zone or region outage.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_LRS'

@description('Tags added to every resource.')
param tags object = {}

@description('Object id of a user or service principal to give data roles on the storage account, so that the queued-jobs CLI can run against it (azd fills in the signed-in principal, AZURE_PRINCIPAL_ID). Empty: no one but the app.')
param principalId string = ''

@description('What principalId is: User (az login as a person) or ServicePrincipal (a pipeline).')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// Names the library uses: AzureStorage's default table and payload container, the sample
// zip builder's container (function_app/sample_jobs.py), and the azd service (azure.yaml).
var jobsTableName = 'jobs'
var payloadContainerName = 'job-payloads'
var documentsContainerName = 'documents'
var azdServiceName = 'jobs'

// Every priority band (QueueNames.bands) with the -poison queue the Functions host moves a
// message to after maxDequeueCount deliveries and the -deadletter queue in which the
// library keeps bodies that are not job messages.
var jobQueueNames = [
  '${queueName}-high'
  '${queueName}-high-poison'
  '${queueName}-high-deadletter'
  queueName
  '${queueName}-poison'
  '${queueName}-deadletter'
  '${queueName}-low'
  '${queueName}-low-poison'
  '${queueName}-low-deadletter'
]

var prefix = toLower(namePrefix)
var resourceToken = uniqueString(subscription().id, resourceGroup().id, environmentName)
var storageAccountName = take('${prefix}${resourceToken}', 24)
var functionAppName = '${prefix}-func-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var allTags = union(tags, {
  'azd-env-name': environmentName
})

// Built-in role definitions (the same ids in every tenant).
var blobDataOwnerRole = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var queueDataContributorRole = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var tableDataContributorRole = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var metricsPublisherRole = '3913510d-42f4-4e42-8a64-420c390055eb'
var blobDataContributorRole = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
// What the CLI needs against the account: records and indexes, messages, payloads and files
// (Blob Data Contributor may also ask for the user delegation key that signs download links).
var principalDataRoles = [
  blobDataContributorRole
  queueDataContributorRole
  tableDataContributorRole
]

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-log-${resourceToken}'
  location: location
  tags: allTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// Workspace-based, and only Entra ID tokens may write to it: the app authenticates with the
// identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), which holds Monitoring Metrics Publisher.
resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${prefix}-appi-${resourceToken}'
  location: location
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-id-${resourceToken}'
  location: location
  tags: allTags
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43: the name is namePrefix + uniqueString(), lowercased and cut to 24 characters: valid, but computed, so checkov cannot read it
  // checkov:skip=CKV_AZURE_35: without VNet integration the Flex Consumption app reaches storage from shared outbound addresses, so the firewall cannot deny by default; every request still needs an Entra ID token
  // checkov:skip=CKV_AZURE_59: the public endpoint is how the app (no VNet) and azd reach the account; shared keys and anonymous blob access are off, so each request is authorized by Entra ID roles
  // checkov:skip=CKV_AZURE_206: replication is the storageSku parameter; the LRS default is a cost choice for job records and in-flight messages, raise it where jobs must survive a zone or region outage
  name: storageAccountName
  location: location
  tags: allTags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Payloads too large for a queue message (AzureStorage.container).
resource payloadContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: payloadContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Input and output of the sample zip builder (samples.build_zip).
resource documentsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: documentsContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The package `azd deploy` uploads and the Flex Consumption app runs from.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource jobQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for name in jobQueueNames: {
  parent: queueService
  name: name
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource jobsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: jobsTableName
}

// Storage Blob Data Owner, not Contributor: the Functions host uses AzureWebJobsStorage for its
// own containers (azure-webjobs-hosts, azure-webjobs-secrets) and takes blob leases there for
// the timer trigger's singleton lock, and the Flex app reads its deployment package with it;
// the library's payload and documents blobs need read, write and delete.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, blobDataOwnerRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwnerRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The queue triggers, the poison and dead-letter queues, and the messages the library sends.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, queueDataContributorRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributorRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The jobs table: records, indexes and progress.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, tableDataContributorRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableDataContributorRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The deploying principal's own access, for the CLI (docs/deploy.md); none without principalId.
resource principalDataRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in (empty(principalId) ? [] : principalDataRoles): {
  name: guid(storage.id, principalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: principalType
  }
}]

// Telemetry with local authentication off needs this role on the component.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, metricsPublisherRole)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', metricsPublisherRole)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy for Flex Consumption exists only in some regions and pairs with zone-redundant storage; off so the template deploys wherever Flex Consumption is offered
  name: '${prefix}-plan-${resourceToken}'
  location: location
  tags: allTags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: the app serves no HTTP API (queue and timer triggers only), so there are no callers to ask for client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption sets the instance count itself, from the queue length down to zero; siteConfig worker counts do not apply to this plan
  // checkov:skip=CKV_AZURE_213: the app serves no HTTP endpoint to probe (queue and timer triggers only); its health shows in Application Insights: failures, poison queues and sweep runs
  // checkov:skip=CKV_AZURE_222: azd deploy publishes the package through the app's SCM endpoint; private access needs a VNet and private endpoints, which this template does not set up
  name: functionAppName
  location: location
  tags: union(allTags, {
    'azd-service-name': azdServiceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'QUEUED_JOBS_QUEUE'
          value: queueName
        }
        // Telemetry (docs/observability-azure.md): the host (host.json telemetryMode
        // OpenTelemetry) and the app's Azure Monitor distro (function_app/telemetry_setup.py)
        // both send to this resource, authenticated as the identity (local auth is off).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
        }
        // The Python worker hands the host's trace context to each invocation and tells the
        // host that the app exports its own logs, so the host does not send them again. Not
        // PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: the worker would configure the distro
        // a second time.
        {
          name: 'PYTHON_ENABLE_OPENTELEMETRY'
          value: 'true'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
  // The host starts as soon as the site exists: let it find its data roles in place.
  dependsOn: [
    blobDataOwner
    queueDataContributor
    tableDataContributor
    metricsPublisher
    deploymentContainer
  ]
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_URL string = 'https://${functionApp.properties.defaultHostName}'
output STORAGE_ACCOUNT_NAME string = storage.name
output STORAGE_BLOB_ENDPOINT string = storage.properties.primaryEndpoints.blob
output STORAGE_QUEUE_ENDPOINT string = storage.properties.primaryEndpoints.queue
output STORAGE_TABLE_ENDPOINT string = storage.properties.primaryEndpoints.table
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output QUEUED_JOBS_QUEUE string = queueName
