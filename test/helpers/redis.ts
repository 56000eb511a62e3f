import { type RedisServer, startRedisServer } from '../../bench/redis-server.js';

export type { RedisServer };

/** A real, throwaway redis-server on a free loopback port (or `port`), without persistence. */
export function startRedis(port?: number): Promise<RedisServer> {
  return startRedisServer(port === undefined ? {} : { port });
}
