// A webhook endpoint in the shape serverless helpdesk runtimes use (an
// exported async function given the request's headers and raw body, as
// Freshworks serverless apps and HubSpot serverless functions are): it
// verifies the AI agent's webhook with the `verifier` world and answers.
// The component is instantiated once per warm instance, not per request.
import { verifier } from 'glbridge/verifier';

const { webhooks } = verifier();

/**
 * @param {{ headers: Record<string, string>, body: string | Uint8Array }} request
 * @returns {Promise<{ statusCode: number, body: string }>}
 */
export async function handler({ headers, body }) {
  const raw = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const header = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'x-gradientlabs-signature')?.[1];
  if (!header) return { statusCode: 401, body: JSON.stringify({ error: 'missing X-GradientLabs-Signature' }) };
  let event;
  try {
    event = webhooks.verifyAndParse(process.env.GLBRIDGE_SIGNING_KEY ?? '', header, undefined, raw);
  } catch (e) {
    const refusal = e.payload ?? { tag: 'error', val: String(e) };
    // A body that verified but is not a webhook is the sender's bug (400);
    // anything else is an unauthenticated request (401).
    const status = refusal.tag === 'invalid-envelope' ? 400 : 401;
    return { statusCode: status, body: JSON.stringify({ error: refusal.tag }) };
  }
  // Hand the event to the helpdesk here (reply, hand off, run an action).
  return { statusCode: 200, body: JSON.stringify({ received: event.id, type: event.eventType, conversation: event.conversationId }) };
}
