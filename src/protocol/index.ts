export type {
  ChunkData,
  DeltaData,
  DoneData,
  Envelope,
  ErrorData,
  FinishReason,
  Frame,
  FrameEvent,
  MetadataData,
  StartData,
  Stats,
  StreamErrorCode,
  ToolCallData,
  ToolCallStartData,
  Usage,
} from './frames.js';
export { FINISH_REASONS, STREAM_ERROR_CODES } from './frames.js';
export type {
  CancelBody,
  CreatedGenerationBody,
  ErrorBody,
  GenerationError,
  GenerationResult,
  GenerationRoute,
  GenerationToolCall,
  HealthBody,
  ModelCapabilitiesBody,
  ProviderHealth,
} from './http.js';
export {
  API_PATHS,
  EVENT_STREAM_TYPE,
  FRAME_EVENTS,
  GENERATION_ID_HEADER,
  LAST_EVENT_ID_HEADER,
  LAST_EVENT_ID_QUERY,
  matchGenerationPath,
  STREAM_END_DATA,
  STREAM_HEADERS,
} from './http.js';
export type { ChatMessage, ChatRequest, ToolDefinition } from './request.js';
export { parseChatRequest } from './request.js';
