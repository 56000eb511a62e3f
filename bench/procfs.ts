import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (almost always 100). */
export const CLOCK_TICKS: number = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

/** What /proc/<pid>/stat says a process (all its threads) has used: CPU in µs (tick resolution), minor faults. */
export interface ProcessTimes {
  userUs: number;
  systemUs: number;
  minorFaults: number;
}

export function processTimes(pid: number): ProcessTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 10, 14 and 15 of stat(5) are minflt, utime and stime; after the ')' field 3 is at index 0.
  return {
    minorFaults: Number(fields[7]),
    userUs: (Number(fields[11]) * 1_000_000) / CLOCK_TICKS,
    systemUs: (Number(fields[12]) * 1_000_000) / CLOCK_TICKS,
  };
}

/** utime + stime of a process (all its threads), in microseconds; tick resolution. */
export function cpuMicros(pid: number): number {
  const times = processTimes(pid);
  return times.userUs + times.systemUs;
}

export interface MemoryReading {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size (VmHWM) since start or since the last reset, bytes. */
  peak: number;
}

function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

export function memory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: statusField(status, 'VmRSS'), peak: statusField(status, 'VmHWM') };
}

/**
 * Resets VmHWM to the current RSS (proc(5): writing 5 to clear_refs), so each case reports its
 * own peak. Returns false where the kernel refuses it; peaks are then cumulative.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time the whole machine spent busy (every CPU, steal included), in microseconds. */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const busy = fields
    .slice(0, 8)
    .reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  return (busy * 1_000_000) / CLOCK_TICKS;
}

/** Open file descriptors of a process, and how many of them are sockets (`/proc/<pid>/fd`). */
export function descriptors(pid: number): { open: number; sockets: number } {
  let open = 0;
  let sockets = 0;
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    open++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`).startsWith('socket:')) sockets++;
    } catch {
      // closed between the listing and the read
    }
  }
  return { open, sockets };
}
