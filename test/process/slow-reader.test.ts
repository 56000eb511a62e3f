import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, parseSse } from '../helpers/sse.js';
import { type Child, rssBytes, spawnEmulator, spawnGateway } from './processes.js';

/** How long the reader reads nothing (the contract's scenario: 30 s; shorter when asked). */
const SOAK_MS = Number(process.env.SLUICE_SOAK_MS ?? 30_000);
const CHUNKS = 100_000;

let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
/** The paced streams' upstream, in its own process so the burst cannot slow it down. */
let pacedEmulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

beforeAll(async () => {
  emulator = await spawnEmulator();
  pacedEmulator = await spawnEmulator();
  gateway = await spawnGateway(emulator.url, {
    TOGETHER_API_KEY: 'test-key',
    TOGETHER_BASE_URL: `${pacedEmulator.url}/together/v1`,
    SLUICE_BUFFER_FRAMES: '64',
    SLUICE_STALL_TIMEOUT_MS: '1000',
    SLUICE_RESUME_GRACE_MS: String(SOAK_MS + 30_000),
  });
}, 20_000);
afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
  await pacedEmulator?.stop();
});

describe('a reader that reads nothing', () => {
  it(
    `stays bounded for ${SOAK_MS} ms while the upstream streams ${CHUNKS} chunks, and slows no one else`,
    async () => {
      await emulator.script('openai', { chunkDelayMs: 0, chunks: CHUNKS });
      const pid = gateway.process.pid ?? 0;
      const baselineRss = rssBytes(pid);

      // The stalled reader: a client with a small receive buffer (as on a slow phone) that sends
      // its request, reads the response head, then reads nothing. Python sets SO_RCVBUF, which
      // Node cannot; otherwise loopback autotuning would soak up tens of megabytes in the kernel.
      const { port } = new URL(gateway.url);
      const body = JSON.stringify(chatBody());
      const reader = spawn(
        'python3',
        [
          '-c',
          [
            'import socket, sys, time',
            's = socket.socket()',
            's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)',
            `s.connect(("127.0.0.1", ${port}))`,
            'body = sys.argv[1].encode()',
            's.sendall(b"POST /api/v1/chat/stream HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)',
            'head = s.recv(512)',
            'sys.stdout.write(head.decode("latin-1")); sys.stdout.flush()',
            `deadline = time.time() + ${SOAK_MS / 1000}`,
            'while time.time() < deadline: time.sleep(0.05)',
            // Then drain: a connection the gateway dropped ends (after what the kernel still held).
            's.settimeout(5)',
            'try:',
            '    while s.recv(1 << 20): pass',
            '    print("\\nCLOSED")',
            'except socket.timeout: print("\\nOPEN")',
            'except OSError: print("\\nCLOSED")',
          ].join('\n'),
          body,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let readerOutput = '';
      reader.stdout.on('data', (data: Buffer) => {
        readerOutput += data.toString();
      });
      const readerDone = new Promise((resolve) => reader.once('exit', resolve));
      // The stalled reader's request must be the one that gets the 100k-chunk script.
      const headDeadline = Date.now() + 10_000;
      while (!readerOutput.includes('\r\n\r\n') && Date.now() < headDeadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }

      // Meanwhile, paced streams from other clients.
      let peakRss = baselineRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssBytes(pid));
      }, 100);
      const started = Date.now();
      let largestGap = 0;
      let pacedStreams = 0;
      while (Date.now() - started < SOAK_MS) {
        await pacedEmulator.script('together', { chunkDelayMs: 20, chunks: 50 });
        const live = await openLive(`${gateway.url}/api/v1/chat/stream`, streamRequest(chatBody('together')));
        let previous = Date.now();
        let ended = false;
        void live.ended.then(() => {
          ended = true;
        });
        while (!ended) {
          await live.waitForFrames(live.frames.length + 1, 10_000);
          largestGap = Math.max(largestGap, Date.now() - previous);
          previous = Date.now();
        }
        await live.ended;
        expect(live.frames.at(-1)?.event).toBe('done');
        pacedStreams++;
      }
      clearInterval(sampler);
      await readerDone;

      expect(readerOutput).toContain('HTTP/1.1 200');
      // Past the stall bound the gateway dropped the stalled reader rather than queue for it.
      expect(readerOutput.slice(-200)).toMatch(/CLOSED\s*$/);
      console.info(
        `slow reader: ${SOAK_MS} ms, gateway RSS +${((peakRss - baselineRss) / 1048576).toFixed(1)} MB at peak, ` +
          `${pacedStreams} paced streams, largest gap between their chunks ${largestGap} ms`,
      );
      expect(pacedStreams).toBeGreaterThan(0);
      // A blocked paced stream would show a gap of seconds; its pace is one chunk per 20 ms.
      expect(largestGap).toBeLessThan(2000);
      // The generation's log holds all 100k frames (~13 MB of SSE text); nothing else may grow.
      expect(peakRss - baselineRss).toBeLessThan(160 * 1024 * 1024);

      // The dropped reader resumes and gets the rest, the whole generation intact.
      const id = /x-generation-id: (\S+)/i.exec(readerOutput)?.[1];
      expect(id).toBeDefined();
      const response = await fetch(`${gateway.url}/api/v1/chat/stream/${id}`, {
        headers: { 'last-event-id': '2' },
        signal: AbortSignal.timeout(30_000),
      });
      const frames = parseSse(await response.text()).frames;
      expect(frames[0]?.id).toBe(3);
      expect(frames.at(-1)?.event).toBe('done');
      expect(frames.filter((frame) => frame.event === 'chunk')).toHaveLength(CHUNKS);
    },
    SOAK_MS + 90_000,
  );
});
