import { RequestError } from '../../core/errors.js';
import { uiMessageEncoder } from '../../faces/ai-sdk-ui/encoder.js';
import { type AdaptedUiRequest, adaptUiRequest } from '../../faces/ai-sdk-ui/request.js';
import { catalogOf, type ModelCatalog } from '../../faces/openai/models.js';
import { sendError } from '../respond.js';
import { at, type Route } from '../router.js';
import type { GenerationService } from '../service.js';
import { followLog, type StreamWriterOptions } from '../stream-writer.js';

export const UI_STREAM_PATH = '/api/v1/chat/ui';

export interface UiRoutesContext {
  service: GenerationService;
  writer: Omit<StreamWriterOptions, 'afterId' | 'headers'>;
}

/** The AI SDK UI message stream for `useChat` (CONTRACT.md section 9). */
export function uiRoutes(context: UiRoutesContext): Route[] {
  const { service } = context;
  let catalog: ModelCatalog | undefined;
  return [
    at(UI_STREAM_PATH, {
      async POST(call) {
        let adapted: AdaptedUiRequest | undefined;
        try {
          catalog ??= catalogOf(service.health());
          adapted = adaptUiRequest(await service.readBody(call.request), catalog);
          const chat = service.parse(adapted.native);
          const generation = await service.start(chat, {
            owner: call.scope.owner,
            receivedAt: call.receivedAt,
            scope: call.scope,
          });
          followLog(generation, call.response, uiMessageEncoder(generation.id), {
            afterId: 0,
            headers: call.cors,
            ...context.writer,
          });
        } catch (error) {
          // A refusal names the field as the UI body has it (the UI message, not the native turn).
          const field = adapted?.field(error instanceof RequestError ? error.field : undefined);
          if (!(error instanceof RequestError) || field === error.field || call.response.headersSent)
            throw error;
          const body = error.toJSON();
          if (field !== undefined) body.error.field = field;
          sendError(call.request, call.response, error, call.cors, body);
        }
      },
    }),
  ];
}
