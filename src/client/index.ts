/**
 * Sluice client: streams chat from a Sluice gateway in browsers and Node 20, with typed frames,
 * live accumulated state, transparent resume and upstream cancel.
 */
export { cancelGeneration, getGeneration, health, resumeStream, startGeneration, streamChat } from './api.js';
export type { ChatStream } from './chat-stream.js';
export {
  SluiceConnectionError,
  SluiceError,
  SluiceProtocolError,
  SluiceRequestError,
} from './errors.js';
export type {
  CancelBody,
  ChatMessageInput,
  ChatRequestBody,
  ChatResult,
  ChunkData,
  ClientOptions,
  DeltaData,
  DoneData,
  Envelope,
  ErrorBody,
  ErrorData,
  FinishReason,
  Frame,
  FrameEvent,
  GenerationError,
  GenerationResult,
  GenerationToolCall,
  HealthResult,
  LiveStats,
  MetadataData,
  ModelCapabilitiesBody,
  ProviderHealth,
  ReconnectOptions,
  ResumeOptions,
  StartData,
  StartedGeneration,
  Stats,
  StreamErrorCode,
  StreamFrame,
  StreamOptions,
  ToolCallData,
  ToolCallStartData,
  ToolCallState,
  ToolInput,
  Usage,
} from './types.js';
