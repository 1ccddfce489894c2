import * as applicationinsights from '@pulumi/azure-native/applicationinsights';
import * as operationalinsights from '@pulumi/azure-native/operationalinsights';
import * as pulumi from '@pulumi/pulumi';

export interface MonitoringArgs {
  /** Resource group that holds the workspace and the Application Insights component. */
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly workspaceName: string;
  readonly appInsightsName: string;
  /** Days Log Analytics keeps logs and traces. */
  readonly retentionInDays: number;
}

/** Telemetry for the function app: a Log Analytics workspace and a workspace-based Application Insights. */
export class Monitoring extends pulumi.ComponentResource {
  public readonly workspace: operationalinsights.Workspace;
  public readonly appInsights: applicationinsights.Component;
  /** Ingestion endpoint and instrumentation key: an address, not a credential, once local auth is off. */
  public readonly appInsightsConnectionString: pulumi.Output<string>;
  public readonly appInsightsId: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Monitoring', name, {}, opts);

    // Why: classic Application Insights is retired; workspace-based telemetry lands here and KQL spans all of it.
    this.workspace = new operationalinsights.Workspace(
      `${name}-workspace`,
      {
        workspaceName: args.workspaceName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: operationalinsights.WorkspaceSkuNameEnum.PerGB2018 },
        retentionInDays: args.retentionInDays,
      },
      { parent: this },
    );

    // Why: request, dependency and latency telemetry for the SLO monitor; Entra-only ingestion (no key auth).
    this.appInsights = new applicationinsights.Component(
      `${name}-app-insights`,
      {
        resourceName: args.appInsightsName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'web',
        applicationType: applicationinsights.ApplicationType.Web,
        ingestionMode: applicationinsights.IngestionMode.LogAnalytics,
        workspaceResourceId: this.workspace.id,
        disableLocalAuth: true,
      },
      { parent: this },
    );

    this.appInsightsConnectionString = this.appInsights.connectionString;
    this.appInsightsId = this.appInsights.id;
    this.registerOutputs({
      workspaceId: this.workspace.id,
      appInsightsId: this.appInsightsId,
    });
  }
}
