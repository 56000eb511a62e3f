import { isNonArrayObject, type JsonObject } from '../core/json.js';
import type { WireEvent } from '../core/wire-parse.js';
import type { CodecPart, StreamCodec } from './types.js';

interface ObjectCodecOptions {
  /** The provider's name, for error messages. */
  displayName: string;
  /** What its wire calls one unit: an SSE `event` or an NDJSON `line`. */
  unit: 'event' | 'line';
  /** Treat a JSON array as several objects (Gemini's array form). */
  acceptArrays?: boolean;
  /** One parsed JSON object, with its SSE event name when it had one. */
  onObject(data: JsonObject, eventName: string | undefined, parts: CodecPart[]): void;
}

/**
 * The part every provider codec shares: dispatch on wire events, turn data that is not a JSON
 * object and malformed data into retryable `upstream_error` parts (never a throw), and ignore
 * the `[DONE]` marker (only OpenAI-style streams send it, and their finish comes before it).
 * A codec supplies only what it does with each object; `end()` adds nothing, so a body that
 * ends without a finish is reported `incomplete` by the generation layer.
 */
export function createObjectCodec(options: ObjectCodecOptions): StreamCodec {
  const { displayName, unit } = options;
  const article = unit === 'event' ? 'an' : 'a';
  const onValue = (value: unknown, eventName: string | undefined, parts: CodecPart[]): void => {
    if (isNonArrayObject(value)) {
      options.onObject(value, eventName, parts);
      return;
    }
    parts.push({
      type: 'error',
      code: 'upstream_error',
      message: `${displayName} sent ${article} ${unit} that is not a JSON object`,
      retryable: true,
    });
  };
  return {
    push(event: WireEvent): CodecPart[] {
      const parts: CodecPart[] = [];
      switch (event.type) {
        case 'message':
          if (options.acceptArrays && Array.isArray(event.data)) {
            for (const value of event.data) onValue(value, event.event, parts);
          } else {
            onValue(event.data, event.event, parts);
          }
          break;
        case 'end_marker':
          break;
        case 'malformed':
          parts.push({
            type: 'error',
            code: 'upstream_error',
            message: `${displayName} sent a malformed ${unit} (${event.reason})`,
            retryable: true,
          });
          break;
        default: {
          const exhaustive: never = event;
          throw new Error(`unhandled wire event ${JSON.stringify(exhaustive)}`);
        }
      }
      return parts;
    },
    end(): CodecPart[] {
      return [];
    },
  };
}
