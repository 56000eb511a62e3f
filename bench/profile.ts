import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A summary of V8 `.cpuprofile` files: self and inclusive time per function and per area. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const BENCH_BUILD = '/dist-bench/src/';

function shortUrl(url: string): string {
  if (url === '') return '';
  // The benchmark runs the gateway from its own build (dist-bench/src/...); it is labelled as the
  // package's dist/ so that profiles read the same whichever build they come from.
  const benchBuild = url.lastIndexOf(BENCH_BUILD);
  if (benchBuild !== -1) return `dist/${url.slice(benchBuild + BENCH_BUILD.length)}`;
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

function area(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const short = shortUrl(url);
  if (short.startsWith('dist/')) return `sluice ${short.split('/').slice(1, 2).join('/')}/`;
  return short.split('/')[0] ?? short;
}

function keyOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

export function summarizeProfiles(directory: string, top = 30): string {
  if (!existsSync(directory)) return `no profile in ${directory}`;
  const files = readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) return `no .cpuprofile in ${directory}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(directory, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfUs = new Map<number, number>();
    profile.samples.forEach((id, index) => {
      selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
    });
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    for (const [id, micros] of selfUs) {
      const node = byId.get(id);
      if (node === undefined) continue;
      const key = keyOf(node);
      if (node.callFrame.functionName === '(idle)') {
        idle += micros;
        continue;
      }
      total += micros;
      self.set(key, (self.get(key) ?? 0) + micros);
      const region = area(node.callFrame.url, node.callFrame.functionName);
      areas.set(region, (areas.get(region) ?? 0) + micros);
      // Inclusive: credit every distinct function on the stack once.
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at);
        if (frame === undefined) break;
        const frameKey = keyOf(frame);
        if (seen.has(frameKey)) continue;
        seen.add(frameKey);
        inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + micros);
      }
    }
  }
  const share = (micros: number): string => `${((micros / total) * 100).toFixed(1)}%`;
  const lines: string[] = [];
  lines.push(
    `${files.length} profile(s); busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms.`,
    '',
    '| area | self | share |',
    '| --- | --- | --- |',
  );
  for (const [name, micros] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    lines.push(`| ${name} | ${(micros / 1000).toFixed(0)} ms | ${share(micros)} |`);
  }
  lines.push('', '| function (self time) | self | share |', '| --- | --- | --- |');
  for (const [name, micros] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`| \`${name}\` | ${(micros / 1000).toFixed(0)} ms | ${share(micros)} |`);
  }
  lines.push('', '| Sluice function (inclusive time) | inclusive | share |', '| --- | --- | --- |');
  const ours = [...inclusive].filter(([name]) => name.includes(' dist/'));
  for (const [name, micros] of ours.sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`| \`${name}\` | ${(micros / 1000).toFixed(0)} ms | ${share(micros)} |`);
  }
  return lines.join('\n');
}
