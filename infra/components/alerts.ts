import * as monitor from '@pulumi/azure-native/monitor';
import * as pulumi from '@pulumi/pulumi';

export interface RequestAlertThresholds {
  /** Percentage of API requests answered with a 5xx status above which the error alert fires. */
  readonly serverErrorPercent: number;
  /** p95 of API request duration (server side), in ms, above which the latency alert fires. */
  readonly p95LatencyMs: number;
  /** Minutes of requests each evaluation looks at. */
  readonly windowMinutes: 5 | 10 | 15 | 30 | 45 | 60;
  /** Fewest API requests in a window for it to be judged at all. */
  readonly minimumRequests: number;
}

export interface AlertsArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Region of the log alert rules (the action group itself is global). */
  readonly location: pulumi.Input<string>;
  /** Application Insights component whose `requests` the rules query. */
  readonly appInsightsId: pulumi.Input<string>;
  /** host.json `extensions.http.routePrefix`: only requests under it are API requests. */
  readonly apiRoutePrefix: string;
  readonly actionGroupName: string;
  /** At most 12 characters; shown as the sender of SMS and e-mail. */
  readonly actionGroupShortName: string;
  readonly serverErrorRuleName: string;
  readonly latencyRuleName: string;
  /** Who gets the e-mail; with none, the alerts still fire and show in the portal. */
  readonly email: string | undefined;
  readonly thresholds: RequestAlertThresholds;
}

/** The two KQL queries, each returning one row with the measured value when the window has enough requests. */
export interface RequestAlertQueries {
  readonly serverErrorPercent: string;
  readonly p95LatencyMs: string;
}

/** Column each query returns its measure in (the rule's `metricMeasureColumn`). */
export const measureColumns = {
  serverErrorPercent: 'serverErrorPercent',
  p95LatencyMs: 'p95DurationMs',
} as const;

/**
 * Queries over the Application Insights `requests` table. Functions also logs timer, queue and orchestration
 * invocations as requests, without a URL; only requests whose path is under the route prefix are API calls.
 * The alert rule supplies the time range (its window), so the queries carry none.
 */
export function requestAlertQueries(routePrefix: string, minimumRequests: number): RequestAlertQueries {
  if (!/^[A-Za-z0-9_-]+$/.test(routePrefix)) {
    throw new Error(`route prefix '${routePrefix}' must be one path segment of letters, digits, - or _`);
  }
  if (!Number.isInteger(minimumRequests) || minimumRequests < 1) {
    throw new Error(`minimum requests must be a positive integer, got ${minimumRequests}`);
  }
  const apiRequests = [
    'requests',
    `| where tostring(parse_url(url).Path) startswith "/${routePrefix}/"`,
  ].join('\n');
  return {
    serverErrorPercent: [
      apiRequests,
      '| summarize total = count(), serverErrors = countif(toint(resultCode) >= 500)',
      `| where total >= ${minimumRequests}`,
      `| project ${measureColumns.serverErrorPercent} = 100.0 * serverErrors / total`,
    ].join('\n'),
    p95LatencyMs: [
      apiRequests,
      '| summarize total = count(), p95 = percentile(duration, 95)',
      `| where total >= ${minimumRequests}`,
      `| project ${measureColumns.p95LatencyMs} = p95`,
    ].join('\n'),
  };
}

/** ISO 8601 duration of a window the log alert API accepts (PT5M ... PT1H). */
export function windowDuration(minutes: RequestAlertThresholds['windowMinutes']): string {
  return minutes === 60 ? 'PT1H' : `PT${minutes}M`;
}

/**
 * Alerts on the API's health as its callers see it: the share of 5xx answers and the p95 server latency, both
 * from Application Insights request telemetry, evaluated every five minutes. Log alert rules rather than metric
 * alerts, because the standard request metrics offer neither a ratio nor a percentile.
 */
export class Alerts extends pulumi.ComponentResource {
  public readonly actionGroup: monitor.ActionGroup;
  public readonly serverErrorRule: monitor.ScheduledQueryRule;
  public readonly latencyRule: monitor.ScheduledQueryRule;

  constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Alerts', name, {}, opts);
    if (args.actionGroupShortName.length === 0 || args.actionGroupShortName.length > 12) {
      throw new Error(`action group short name '${args.actionGroupShortName}' must have 1-12 characters`);
    }
    const queries = requestAlertQueries(args.apiRoutePrefix, args.thresholds.minimumRequests);
    const window = windowDuration(args.thresholds.windowMinutes);

    // Why: one place to route both alerts; receivers come from stack config, so none exist only in the portal.
    this.actionGroup = new monitor.ActionGroup(
      `${name}-action-group`,
      {
        actionGroupName: args.actionGroupName,
        resourceGroupName: args.resourceGroupName,
        location: 'Global',
        groupShortName: args.actionGroupShortName,
        enabled: true,
        emailReceivers:
          args.email === undefined
            ? []
            : [{ name: 'operators', emailAddress: args.email, useCommonAlertSchema: true }],
      },
      { parent: this },
    );

    const rule = (
      resourceName: string,
      ruleName: string,
      description: string,
      severity: number,
      query: string,
      measureColumn: string,
      threshold: number,
    ): monitor.ScheduledQueryRule =>
      new monitor.ScheduledQueryRule(
        resourceName,
        {
          ruleName,
          resourceGroupName: args.resourceGroupName,
          location: args.location,
          kind: monitor.Kind.LogAlert,
          description,
          displayName: ruleName,
          enabled: true,
          severity,
          scopes: [args.appInsightsId],
          evaluationFrequency: 'PT5M',
          windowSize: window,
          criteria: {
            allOf: [
              {
                query,
                timeAggregation: monitor.TimeAggregation.Maximum,
                metricMeasureColumn: measureColumn,
                operator: monitor.Operator.GreaterThan,
                threshold,
                failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
              },
            ],
          },
          // Resolves itself once a window is healthy again, so a fixed incident does not stay open.
          autoMitigate: true,
          actions: { actionGroups: [this.actionGroup.id] },
        },
        { parent: this },
      );

    // Why: 5xx answers are the API's own failures (4xx are the caller's); a rate, so load does not move the bar.
    this.serverErrorRule = rule(
      `${name}-server-errors`,
      args.serverErrorRuleName,
      `More than ${args.thresholds.serverErrorPercent}% of API requests answered 5xx over ${args.thresholds.windowMinutes} min`,
      1,
      queries.serverErrorPercent,
      measureColumns.serverErrorPercent,
      args.thresholds.serverErrorPercent,
    );

    // Why: p95 is what a batch-scoring caller waits on; averages hide the slow tail a cold start or throttle adds.
    this.latencyRule = rule(
      `${name}-p95-latency`,
      args.latencyRuleName,
      `p95 API server latency above ${args.thresholds.p95LatencyMs} ms over ${args.thresholds.windowMinutes} min`,
      2,
      queries.p95LatencyMs,
      measureColumns.p95LatencyMs,
      args.thresholds.p95LatencyMs,
    );

    this.registerOutputs({
      actionGroupId: this.actionGroup.id,
      serverErrorRuleId: this.serverErrorRule.id,
      latencyRuleId: this.latencyRule.id,
    });
  }
}
