/**
 * Reads a V8 .cpuprofile (written by `node --cpu-prof`) and lists where the time went: self time
 * per function, and inclusive time per project function (src/ or dist/ frames), so hot spots can
 * be reported with evidence.
 */

import { readFileSync } from 'node:fs';

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

export interface HotSpot {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not spent idle. */
  busyMs: number;
  selfByFunction: HotSpot[];
  selfByFile: HotSpot[];
  /** Inclusive time of functions in the project's own code (dist/ or src/). */
  inclusiveProject: HotSpot[];
}

function shortUrl(url: string, root: string): string {
  if (!url) return '(native)';
  const plain = url.startsWith('file://') ? url.slice('file://'.length) : url;
  return plain.startsWith(`${root}/`) ? plain.slice(root.length + 1) : plain;
}

function top(map: Map<string, number>, busyMs: number, n: number): HotSpot[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

export function summarizeProfile(file: string, root: string, n = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const label = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = shortUrl(url, root);
    return url
      ? `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`
      : functionName || '(anonymous)';
  };
  const isProject = (node: ProfileNode) => {
    const where = shortUrl(node.callFrame.url, root);
    return where.startsWith('dist/') || where.startsWith('src/');
  };

  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const name = label(node);
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + ms);
    const file = node.callFrame.url ? shortUrl(node.callFrame.url, root) : node.callFrame.functionName;
    selfByFile.set(file, (selfByFile.get(file) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!;
      if (!isProject(frame)) continue;
      const frameName = label(frame);
      if (seen.has(frameName)) continue;
      seen.add(frameName);
      inclusive.set(frameName, (inclusive.get(frameName) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  return {
    totalMs,
    busyMs,
    selfByFunction: top(selfByFunction, busyMs, n),
    selfByFile: top(selfByFile, busyMs, n),
    inclusiveProject: top(inclusive, busyMs, n),
  };
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

export interface AllocationSummary {
  totalBytes: number;
  selfByFunction: HotSpot[];
  /** Bytes allocated under each of the project's own functions (dist/ or src/), callees included. */
  inclusiveProject: HotSpot[];
}

/**
 * Reads a sampling heap profile (`HeapProfiler.stopSampling`'s `profile`, as bench/lib/alloc-sampler.ts
 * writes it). `ms` in the answer's hot spots holds bytes; `share` is of all sampled bytes.
 */
export function summarizeAllocations(file: string, root: string, n = 20): AllocationSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const label = (frame: HeapNode['callFrame']) => {
    const where = shortUrl(frame.url, root);
    return frame.url
      ? `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`
      : frame.functionName || '(anonymous)';
  };
  const isProject = (frame: HeapNode['callFrame']) => {
    const where = shortUrl(frame.url, root);
    return where.startsWith('dist/') || where.startsWith('src/');
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalBytes = 0;
  // Inclusive bytes per node first (post-order), then credited once per distinct project function
  // on the path, so recursion is not counted twice.
  const visit = (node: HeapNode, projectPath: Set<string>): number => {
    const name = label(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + node.selfSize);
    totalBytes += node.selfSize;
    const mine = isProject(node.callFrame) && !projectPath.has(name);
    if (mine) projectPath.add(name);
    let bytes = node.selfSize;
    for (const child of node.children) bytes += visit(child, projectPath);
    if (mine) {
      projectPath.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + bytes);
    }
    return bytes;
  };
  visit(profile.head, new Set());
  return {
    totalBytes,
    selfByFunction: top(self, totalBytes, n),
    inclusiveProject: top(inclusive, totalBytes, n),
  };
}
