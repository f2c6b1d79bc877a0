// JSON request bodies (the prototype's routes, batches, admin changes): parsed with a bound on how
// deeply they nest. JSON.parse itself takes any depth, but a value nested thousands deep then
// overflows the stack of whatever walks it (JSON.stringify of a /write value, an error message
// quoting it): a 500 from a 10 KB body. Such a body is a 400 instead.

import { badRequest } from './errors.js';

/** Deeper than any document the API takes; the body's own object counts, so a /write value may nest 63 deep. */
export const jsonDepthMax = 64;

const textDecoder = new TextDecoder();

/** Parses `text` as JSON, or throws a 400 that starts with `what` ("the body", "batch body"). */
export function parseJson(text: string, what: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw badRequest(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed === 'object' && parsed !== null && nestingDepth(text) > jsonDepthMax) {
    throw badRequest(`${what} nests deeper than ${jsonDepthMax} levels`);
  }
  return parsed;
}

/** A request body that must be a JSON object. */
export function parseJsonBody(body: unknown): Record<string, unknown> {
  if (!(body instanceof Uint8Array) || body.length === 0) throw badRequest('expected a JSON body');
  const parsed = parseJson(textDecoder.decode(body), 'the body');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('expected a JSON object');
  return parsed as Record<string, unknown>;
}

/** The deepest nesting of arrays and objects in valid JSON text (brackets inside strings skipped). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
  return deepest;
}
