import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';

/**
 * Limits per key, or per client address when the gateway has no keys (CONTRACT.md section 10):
 * requests that start generations per window, running generations, and output tokens per minute
 * counted live. In this process by default; shared by every instance through Redis when one is
 * given, so N instances enforce one limit.
 *
 * Requests and tokens are windows of rate-limiter-flexible (in memory, or in Redis with an
 * in-memory stand-in while Redis fails). Running generations are a count, not a rate: in Redis a
 * sorted set per key whose members are leases an instance keeps renewing, so the generations of
 * an instance that died stop counting within a lease.
 */

/** A request budget: `points` per `seconds`. */
export interface RateWindow {
  points: number;
  seconds: number;
  text: string;
}

/** The limits that apply to one key (or address); any may be absent. */
export interface LimitPolicy {
  rate?: RateWindow | undefined;
  maxStreams?: number | undefined;
  tokensPerMin?: number | undefined;
}

/** A running generation's place under `maxStreams`; released when it ends. */
export interface StreamSlot {
  /**
   * Gives the place back. In this process that is done when it returns (nothing is returned);
   * through Redis the promise resolves once Redis has it back.
   */
  release(): Promise<void> | undefined;
}

/** Output tokens of one generation, counted while it runs. */
export interface TokenMeter {
  /** The generation ended with this many output tokens (exact or estimated): the count is settled. */
  settle(outputTokens: number): void;
}

/** Characters of answer and reasoning text produced since it was last asked. */
export type CharacterSource = () => number;

export type Admission =
  | { admitted: true; headers: Record<string, string>; slot: StreamSlot | undefined }
  | { admitted: false; headers: Record<string, string>; message: string };

interface PolicyWindows {
  requests: RateLimiterAbstract | undefined;
  tokens: RateLimiterAbstract | undefined;
}

/** How one limit stands, for the `RateLimit-*` headers. */
interface Standing {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

function headersOf(standing: Standing): Record<string, string> {
  return {
    'RateLimit-Limit': String(standing.limit),
    'RateLimit-Remaining': String(Math.max(0, Math.floor(standing.remaining))),
    'RateLimit-Reset': String(Math.max(0, standing.resetSeconds)),
  };
}

function refusal(standing: Standing, message: string): Admission {
  const retryAfter = Math.max(1, standing.resetSeconds);
  return {
    admitted: false,
    headers: { ...headersOf({ ...standing, remaining: 0 }), 'Retry-After': String(retryAfter) },
    message,
  };
}

/**
 * Takes a stream slot if fewer than ARGV[4] leases are alive. KEYS[1]: the key's set.
 * ARGV: now (ms), lease end (ms), member, max, key ttl (ms). Returns the count held, or -1.
 */
const ACQUIRE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('ZCARD', KEYS[1])
`;

/** How long a stream slot in Redis lives without renewal (its instance died). */
const SLOT_LEASE_MS = 30_000;
/** How often the live token count is handed to the limiter while a generation runs. */
const TOKEN_FLUSH_MS = 250;
/** The live estimate before the generation's usage is known: about four characters a token. */
const CHARACTERS_PER_TOKEN = 4;

const PREFIX = 'sluice:limit:';

/** Adds output tokens to a window; a failed charge (Redis down, no stand-in) must not break a stream. */
function charge(limiter: RateLimiterAbstract, subject: string, tokens: number): void {
  void limiter.penalty(subject, tokens).catch(() => {});
}

export interface LimitsOptions {
  /** Shares the limits through this Redis; without it they hold in this process. */
  redis?: Redis | undefined;
}

export class Limits {
  private readonly redis: Redis | undefined;
  private readonly windows = new Map<string, RateLimiterAbstract>();
  private readonly policyWindows = new WeakMap<LimitPolicy, PolicyWindows>();
  /** The live counts of running generations: one timer sweeps them all. */
  private readonly meters = new Set<() => void>();
  private meterTimer: NodeJS.Timeout | undefined;
  /** Tokens counted and not yet handed to their window, per window and subject: one charge a sweep. */
  private readonly uncharged = new Map<RateLimiterAbstract, Map<string, number>>();
  /** Stream slots held here: counts (memory) or lease members (Redis). */
  private readonly localStreams = new Map<string, number>();
  private readonly leases = new Map<string, { key: string; member: string }>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private nextSlot = 0;
  private readonly instance = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  constructor(options: LimitsOptions = {}) {
    this.redis = options.redis;
  }

  /** A fixed window of `points` per `seconds`, made once per distinct budget (and looked up once per policy). */
  private window(kind: 'requests' | 'tokens', points: number, seconds: number): RateLimiterAbstract {
    const name = `${kind}:${points}/${seconds}`;
    let limiter = this.windows.get(name);
    if (limiter === undefined) {
      const options = { points, duration: seconds, keyPrefix: `${PREFIX}${name}` };
      limiter =
        this.redis === undefined
          ? new RateLimiterMemory(options)
          : new RateLimiterRedis({
              ...options,
              storeClient: this.redis,
              // While Redis fails, limits still hold, per instance.
              insuranceLimiter: new RateLimiterMemory(options),
            });
      this.windows.set(name, limiter);
    }
    return limiter;
  }

  /**
   * Whether `subject` may start a generation now. Checks tokens (read only), then takes a
   * stream slot, then counts the request: a refusal by one limit spends nothing of the others.
   * The headers describe the window (requests or tokens) closest to running out.
   */
  async admit(subject: string, policy: LimitPolicy): Promise<Admission> {
    const standings: Standing[] = [];
    const windows = this.windowsOf(policy);
    if (policy.tokensPerMin !== undefined && windows.tokens !== undefined) {
      const limit = policy.tokensPerMin;
      const state = await windows.tokens.get(subject);
      const used = (state?.consumedPoints ?? 0) + (this.uncharged.get(windows.tokens)?.get(subject) ?? 0);
      const standing = {
        limit,
        remaining: limit - used,
        resetSeconds: state === null ? 60 : Math.ceil(state.msBeforeNext / 1000),
      };
      if (used >= limit) {
        return refusal(standing, `this key used its ${limit} output tokens per minute; try again later`);
      }
      standings.push(standing);
    }
    let slot: StreamSlot | undefined;
    let streamStanding: Standing | undefined;
    if (policy.maxStreams !== undefined) {
      const taken = await this.acquireStream(subject, policy.maxStreams);
      const standing = { limit: policy.maxStreams, remaining: 0, resetSeconds: 1 };
      if (taken === undefined) {
        return refusal(
          standing,
          `this key runs its ${policy.maxStreams} generations at once; try again when one ends`,
        );
      }
      slot = taken.slot;
      streamStanding = { ...standing, remaining: policy.maxStreams - taken.held };
      standings.push(streamStanding);
    }
    if (policy.rate !== undefined && windows.requests !== undefined) {
      const rate = policy.rate;
      const limiter = windows.requests;
      let state: RateLimiterRes;
      let refused = false;
      try {
        state = await limiter.consume(subject, 1);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) {
          slot?.release();
          throw error;
        }
        state = error;
        refused = true;
      }
      const standing = {
        limit: rate.points,
        remaining: state.remainingPoints,
        resetSeconds: Math.ceil(state.msBeforeNext / 1000),
      };
      if (refused) {
        slot?.release();
        return refusal(standing, `this key made its ${rate.text} requests; try again later`);
      }
      standings.push(standing);
    }
    // Windows (requests, tokens) are what a client can plan around; the count of running
    // generations speaks only when no window is set.
    const planned = standings.filter((standing) => standing !== streamStanding);
    const closest = (planned.length > 0 ? planned : standings).reduce<Standing | undefined>(
      (best, standing) =>
        best === undefined || standing.remaining / standing.limit < best.remaining / best.limit
          ? standing
          : best,
      undefined,
    );
    return { admitted: true, headers: closest === undefined ? {} : headersOf(closest), slot };
  }

  /** The windows of a policy, found once per policy object (policies are kept per key). */
  private windowsOf(policy: LimitPolicy): PolicyWindows {
    let windows = this.policyWindows.get(policy);
    if (windows === undefined) {
      windows = {
        requests:
          policy.rate === undefined
            ? undefined
            : this.window('requests', policy.rate.points, policy.rate.seconds),
        tokens:
          policy.tokensPerMin === undefined ? undefined : this.window('tokens', policy.tokensPerMin, 60),
      };
      this.policyWindows.set(policy, windows);
    }
    return windows;
  }

  private async acquireStream(
    subject: string,
    max: number,
  ): Promise<{ slot: StreamSlot; held: number } | undefined> {
    const redis = this.redis;
    if (redis === undefined) {
      const held = this.localStreams.get(subject) ?? 0;
      if (held >= max) return undefined;
      this.localStreams.set(subject, held + 1);
      let released = false;
      const slot = {
        release: (): undefined => {
          if (released) return;
          released = true;
          const now = (this.localStreams.get(subject) ?? 1) - 1;
          if (now > 0) this.localStreams.set(subject, now);
          else this.localStreams.delete(subject);
        },
      };
      return { slot, held: held + 1 };
    }
    const key = `${PREFIX}streams:${subject}`;
    const member = `${this.instance}:${++this.nextSlot}`;
    const now = Date.now();
    const held = Number(
      await redis.eval(ACQUIRE_SCRIPT, 1, key, now, now + SLOT_LEASE_MS, member, max, SLOT_LEASE_MS * 2),
    );
    if (held < 0) return undefined;
    this.leases.set(member, { key, member });
    this.renewLeases();
    let released = false;
    const slot = {
      release: (): Promise<void> | undefined => {
        if (released) return undefined;
        released = true;
        this.leases.delete(member);
        return redis.zrem(key, member).then(
          () => {},
          () => {},
        );
      },
    };
    return { slot, held };
  }

  /** Keeps the leases of the slots held here alive while their generations run. */
  private renewLeases(): void {
    if (this.leaseTimer !== undefined || this.redis === undefined) return;
    const redis = this.redis;
    this.leaseTimer = setInterval(() => {
      if (this.leases.size === 0) {
        clearInterval(this.leaseTimer);
        this.leaseTimer = undefined;
        return;
      }
      const until = Date.now() + SLOT_LEASE_MS;
      const batch = redis.pipeline();
      for (const lease of this.leases.values()) {
        batch.zadd(lease.key, 'XX', until, lease.member).pexpire(lease.key, SLOT_LEASE_MS * 2);
      }
      void batch.exec().catch(() => {});
    }, SLOT_LEASE_MS / 3);
    this.leaseTimer.unref();
  }

  /**
   * Counts one generation's output tokens against its key's `tokensPerMin`: every quarter second
   * one timer asks each running generation for the characters it produced since (four to a
   * token); nothing runs per frame. At the end the count is settled to the usage the generation
   * ended with, when that is higher.
   *
   * The counts of a subject's generations are summed and handed to the limiter once a sweep, not
   * once per generation; admissions here add what is not handed over yet. Through Redis a
   * generation's final count goes at once, so other instances see it without waiting for a sweep.
   */
  tokenMeter(subject: string, policy: LimitPolicy, produced: CharacterSource): TokenMeter | undefined {
    const limiter = this.windowsOf(policy).tokens;
    if (limiter === undefined) return undefined;
    let characters = 0;
    let counted = 0;
    const sweep = (): void => {
      characters += produced();
      const tokens = Math.floor(characters / CHARACTERS_PER_TOKEN) - counted;
      if (tokens <= 0) return;
      counted += tokens;
      this.addUncharged(limiter, subject, tokens);
    };
    this.meters.add(sweep);
    this.startSweeps();
    return {
      settle: (outputTokens) => {
        // The usage counts everything: no last sweep over the frames is needed.
        if (!this.meters.delete(sweep)) return;
        const tokens = Math.max(outputTokens, Math.floor(characters / CHARACTERS_PER_TOKEN)) - counted;
        if (tokens <= 0) return;
        counted += tokens;
        if (this.redis === undefined) this.addUncharged(limiter, subject, tokens);
        else charge(limiter, subject, tokens);
      },
    };
  }

  private addUncharged(limiter: RateLimiterAbstract, subject: string, tokens: number): void {
    let subjects = this.uncharged.get(limiter);
    if (subjects === undefined) {
      subjects = new Map();
      this.uncharged.set(limiter, subjects);
    }
    subjects.set(subject, (subjects.get(subject) ?? 0) + tokens);
  }

  /** Hands every count waiting to its window, one charge per window and subject. */
  private chargeUncharged(): void {
    for (const [limiter, subjects] of this.uncharged) {
      for (const [subject, tokens] of subjects) charge(limiter, subject, tokens);
    }
    this.uncharged.clear();
  }

  /** One interval for every running generation's live count and the charges waiting, while any are. */
  private startSweeps(): void {
    if (this.meterTimer !== undefined) return;
    this.meterTimer = setInterval(() => {
      for (const sweep of this.meters) sweep();
      this.chargeUncharged();
      if (this.meters.size === 0) {
        clearInterval(this.meterTimer);
        this.meterTimer = undefined;
      }
    }, TOKEN_FLUSH_MS);
    this.meterTimer.unref();
  }

  close(): void {
    clearInterval(this.meterTimer);
    this.meterTimer = undefined;
    this.meters.clear();
    this.chargeUncharged();
    clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    const redis = this.redis;
    if (redis !== undefined) {
      for (const lease of this.leases.values()) void redis.zrem(lease.key, lease.member).catch(() => {});
    }
    this.leases.clear();
  }
}
