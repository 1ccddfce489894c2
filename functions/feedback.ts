import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { FeedbackRejectedError, getFeedbackService } from '../shared/feedback';
import { SERVICE_BUS_ENTITIES } from '../shared/platform/resources';

const REJECTION_STATUS = { malformed: 400, 'unknown-prediction': 404, 'conflicting-feedback': 409 } as const;

/** The filed HS code for a prediction, over HTTP: 201 recorded, 200 duplicate (counted once), 4xx rejected. */
export async function postFeedback(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch (error: unknown) {
    return {
      status: 400,
      jsonBody: { error: { code: 'malformed', message: `body is not JSON: ${(error as Error).message}` } },
    };
  }
  try {
    const result = await getFeedbackService().submitRaw(body, { channel: 'http', messageId: null });
    return {
      status: result.outcome === 'recorded' ? 201 : 200,
      jsonBody: { outcome: result.outcome, feedback: result.record },
    };
  } catch (error: unknown) {
    if (error instanceof FeedbackRejectedError) {
      context.warn(error.message);
      return {
        status: REJECTION_STATUS[error.deadLetterReason],
        jsonBody: { error: { code: error.deadLetterReason, message: error.deadLetterErrorDescription } },
      };
    }
    throw error;
  }
}

/**
 * The same over the `feedback` Service Bus queue. A rejected message has its reason recorded in Cosmos (see
 * `FeedbackService.recordRejection`) and is rethrown with its dead-letter reason: the local host dead-letters it
 * with that reason at once; Azure's trigger cannot (README, "Experiments, feedback and promotion") and retries it
 * to MaxDeliveryCount. Any other failure (Cosmos unavailable) is rethrown plainly, so the message is abandoned and
 * retried.
 */
export async function feedbackMessage(message: unknown, context: InvocationContext): Promise<void> {
  const messageId = context.triggerMetadata?.messageId;
  const deliveryCount = context.triggerMetadata?.deliveryCount;
  const service = getFeedbackService();
  try {
    const result = await service.submitRaw(message, {
      channel: 'servicebus',
      messageId: typeof messageId === 'string' ? messageId : null,
    });
    context.log(`feedback ${result.outcome} for prediction ${result.record.predictionId}`);
  } catch (error: unknown) {
    if (error instanceof FeedbackRejectedError) {
      context.warn(`feedback message ${String(messageId)}: ${error.message}`);
      if (typeof messageId === 'string' && messageId !== '') {
        await service.recordRejection(error, {
          messageId,
          deliveryCount: typeof deliveryCount === 'number' ? deliveryCount : null,
          body: message,
        });
      } else {
        context.warn('the message has no id: its rejection is in this log only');
      }
    } else {
      context.error(
        `feedback message ${String(messageId)} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    throw error;
  }
}

app.http('feedback', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'feedback',
  handler: postFeedback,
});

app.serviceBusQueue('feedbackQueue', {
  connection: 'ServiceBus',
  queueName: SERVICE_BUS_ENTITIES.feedbackQueue,
  handler: feedbackMessage,
});
