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
export type { ChatMessage, ChatRequest, ToolDefinition } from './request.js';
export { parseChatRequest } from './request.js';
