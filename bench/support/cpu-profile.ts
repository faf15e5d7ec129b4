/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) over a time window: self time per function,
 * and time per part of a request, each sample charged to its nearest caller in user land (lib/ or a
 * package): JSON.stringify or a socket write called by Express counts as Express, a Map lookup called
 * by the memory store as the store read.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The JSON of a `.cpuprofile`. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds, on the process's monotonic clock. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One line of a summary. */
export interface Share {
  name: string;
  /** Microseconds of CPU in the window. */
  micros: number;
  /** Of the busy (non-idle) time. */
  percent: number;
}

/** What a profile says about a window. */
export interface ProfileSummary {
  /** Busy microseconds in the window (idle samples left out). */
  busyMicros: number;
  /** Idle share of the window. */
  idlePercent: number;
  topSelf: Share[];
  parts: Share[];
  /** The same time by the file of the nearest user-land caller. */
  files: Share[];
}

/** The part of the request a file belongs to, for the HTTP hit path; undefined outside user land. */
export type Classify = (url: string) => string | undefined;

const IDLE = '(idle)';

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const lib = url.indexOf('/lib/');
  if (lib >= 0 && !url.startsWith('node:')) return url.slice(lib + 1);
  return url;
}

function shares(totals: Map<string, number>, busy: number, limit: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, micros]) => ({ name, micros, percent: (micros / busy) * 100 }));
}

/** Summarises the samples of `profile` taken between `from` and `to` (microseconds, its clock). */
export function summarise(profile: CpuProfile, classify: Classify, from: number, to: number, top = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = new Map<number, ProfileNode | undefined>();
  /** The nearest user-land frame from `id` up, if any. */
  const owner = (id: number): ProfileNode | undefined => {
    if (ownerOf.has(id)) return ownerOf.get(id);
    const node = byId.get(id)!;
    const up = parent.get(id);
    const found = classify(node.callFrame.url) !== undefined ? node : up === undefined ? undefined : owner(up);
    ownerOf.set(id, found);
    return found;
  };

  const self = new Map<string, number>();
  const parts = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i]!)!;
    const f = node.callFrame;
    if (f.functionName === IDLE) {
      idle += dt;
      continue;
    }
    busy += dt;
    const name = `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(native)'}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    const o = owner(node.id);
    const p = o ? classify(o.callFrame.url)! : rootPart(f.functionName);
    parts.set(p, (parts.get(p) ?? 0) + dt);
    const file = o ? shortUrl(o.callFrame.url) : p;
    files.set(file, (files.get(file) ?? 0) + dt);
  }
  return {
    busyMicros: busy,
    idlePercent: (idle / Math.max(1, busy + idle)) * 100,
    topSelf: shares(self, busy, top),
    parts: shares(parts, busy, 100),
    files: shares(files, busy, top),
  };
}

/** Samples with no user-land caller at all. */
function rootPart(functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native, no JS frame ((program))';
  return 'Node core: sockets, HTTP parser, timers (no user-land caller)';
}
