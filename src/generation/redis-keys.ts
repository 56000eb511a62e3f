import type { Frame } from '../protocol/frames.js';
import type { LogReader } from './log.js';
import { resultOf } from './result.js';

/**
 * Where generations live in Redis (all keys expire):
 * - `sluice:gen:{id}:meta`: hash, `owner` (the instance running it), `client` (who started it: a
 *   key id or a client address), `status` (`running`, `done`);
 * - `sluice:gen:{id}:frames`: list of frames as JSON `{"event", "data"}`, index = frame id - 1;
 * - `sluice:gen:{id}:readers`: readers attached on instances other than the owner;
 * - `sluice:instance:{id}`: the lease of a live instance.
 * Channels: `sluice:gen:{id}` (new frames, see `parseFramesMessage`), `sluice:cancel` (ids),
 * `sluice:follow` (ids).
 */
const PREFIX = 'sluice:gen:';
export const CANCEL_CHANNEL = 'sluice:cancel';
/** An instance began following a generation (its id): its owner sends frames at once from then on. */
export const FOLLOW_CHANNEL = 'sluice:follow';
export const INSTANCE_PREFIX = 'sluice:instance:';
/** Safety bound on a running generation's keys, should every instance die. */
export const RUNNING_TTL_SECONDS = 24 * 3600;

export const metaKey = (id: string): string => `${PREFIX}${id}:meta`;
export const framesKey = (id: string): string => `${PREFIX}${id}:frames`;
export const readersKey = (id: string): string => `${PREFIX}${id}:readers`;
export const channel = (id: string): string => `${PREFIX}${id}`;

/** A frame as stored in Redis: typed JSON, built around the data JSON the log already encoded. */
export function storedFrame(log: LogReader, id: number): string {
  return `{"event":"${log.event(id)}","data":${log.dataJson(id)}}`;
}

export function parseStoredFrames(texts: readonly string[]): Frame[] {
  return texts.map((text) => JSON.parse(text) as Frame);
}

/**
 * The owners' appends, idempotent so that a retry after a lost reply or a Redis restart never
 * stores a frame twice or leaves a gap. One call carries the appends of every generation that
 * read in the same moment (one command and one reply for all of them, not one per generation).
 *
 * KEYS: meta, frames, readers of each append in turn. ARGV[1]: how many appends; then for each,
 * how many arguments it has, then its arguments: after, owner, ended (1/0), running ttl, done
 * ttl, channel, client, frames... Returns one result per append: -1 when written and published to
 * followers, -3 when written and no instance follows the generation, -2 when refused
 * (another instance ended the generation once its lease lapsed), or the length of the list when
 * it holds fewer frames than `after` (Redis restarted empty): nothing is written and the owner
 * sends again from there. Frames the list already holds are skipped.
 *
 * The hash fields and the expiry are written by the first append (or the first after a restart)
 * and the last one only: the appends between push frames and publish, nothing else. While some
 * instance follows the generation, the message carries the new frames themselves, so a follower
 * appends them without reading them back (see `parseFramesMessage`).
 */
export const APPEND_SCRIPT = `
local function append(meta, list, readers, given)
  local length = redis.call('LLEN', list)
  local after = tonumber(given[1])
  if length < after then return length end
  local state = redis.call('HMGET', meta, 'status', 'ended_by')
  if state[2] == 'lease' then return -2 end
  local first = 8 + (length - after)
  if first <= #given then redis.call('RPUSH', list, unpack(given, first)) end
  local ended = given[3] == '1'
  if ended then
    redis.call('HSET', meta, 'owner', given[2], 'client', given[7], 'status', 'done')
    redis.call('EXPIRE', meta, given[5])
    redis.call('EXPIRE', list, given[5])
    redis.call('EXPIRE', readers, given[5])
  elseif state[1] == false or length == 0 then
    redis.call('HSET', meta, 'owner', given[2], 'client', given[7], 'status', 'running')
    redis.call('EXPIRE', meta, given[4])
    redis.call('EXPIRE', list, given[4])
  end
  local followers = redis.call('PUBSUB', 'NUMSUB', given[6])[2]
  if followers == 0 then return -3 end
  local header = tostring(length) .. (ended and '.' or '')
  if first <= #given then
    redis.call('PUBLISH', given[6], header .. '\\n' .. table.concat(given, '\\n', first))
  else
    redis.call('PUBLISH', given[6], header)
  end
  return -1
end

local results = {}
local at = 2
for i = 1, tonumber(ARGV[1]) do
  local count = tonumber(ARGV[at])
  local given = {}
  for j = 1, count do given[j] = ARGV[at + j] end
  results[i] = append(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], given)
  at = at + count + 1
end
return results
`;

/** What an append tells the followers of a generation. */
export interface FramesMessage {
  /** The id the frames follow. */
  after: number;
  /** The generation ended with the last of them. */
  ended: boolean;
  /** Frames as stored (JSON, one per line in the message: JSON text holds no raw line break). */
  texts: string[];
}

/**
 * Reads a message of a generation's channel: `<after>` (`<after>.` when the generation ends
 * there), then the new frames, one a line. Anything else (`end` from the orphan script, a bare
 * id from an older instance) carries no frames: undefined, and the follower reads the list.
 */
export function parseFramesMessage(message: string): FramesMessage | undefined {
  const lineEnd = message.indexOf('\n');
  const header = lineEnd === -1 ? message : message.slice(0, lineEnd);
  const ended = header.endsWith('.');
  const digits = ended ? header.slice(0, -1) : header;
  if (!/^\d+$/.test(digits)) return undefined;
  const texts = lineEnd === -1 ? [] : message.slice(lineEnd + 1).split('\n');
  // A bare id without frames (older instances publish that) says nothing about an end.
  if (texts.length === 0 && !ended) return undefined;
  return { after: Number(digits), ended, texts };
}

/**
 * Appends the terminal frames of a generation whose owner's lease lapsed, if it still runs and
 * its owner is still gone; marks it done and wakes its followers. Atomic: it happens once.
 * KEYS: meta, frames. ARGV: instance key prefix, error frame, done frame, ttl seconds, channel.
 */
export const END_ORPHAN_SCRIPT = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'done', 'ended_by', 'lease')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'end')
return 1
`;

/** The frames that end a generation its instance abandoned, from what its log holds. */
export function orphanTerminalFrames(frames: readonly Frame[], now: number): [string, string] {
  const result = resultOf('', frames, false);
  const start = frames[0]?.event === 'start' ? frames[0].data : undefined;
  const envelope = { provider: result.provider, model: result.model };
  const partial = frames.some((frame) => frame.event === 'chunk' || frame.event === 'tool_call_start');
  const output = Math.ceil((result.text.length + result.thinking.length) / 4);
  const error: Frame = {
    event: 'error',
    data: {
      ...envelope,
      code: 'internal',
      message: 'the gateway instance running this generation stopped',
      retryable: true,
      partial,
    },
  };
  const done: Frame = {
    event: 'done',
    data: {
      ...envelope,
      finish_reason: 'error',
      usage: {
        input_tokens: 0,
        output_tokens: output,
        thinking_tokens: null,
        total_tokens: output,
        estimated: true,
      },
      stats: {
        ttft_ms: null,
        duration_ms: start === undefined ? 0 : Math.max(0, now - start.created),
        output_tokens_per_second: null,
        attempts: 1,
      },
      served_by: result.served_by ?? envelope,
      reasoning_state: null,
    },
  };
  return [JSON.stringify(error), JSON.stringify(done)];
}
