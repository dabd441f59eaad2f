/**
 * Maps a path inside the parsed document (`['providers', 1, 'type']`) back to a line of the YAML
 * source, so every problem can say where to look.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './interpolate.ts';

/**
 * The line of the deepest node along `path` that exists: the key's line for a mapping entry (so
 * `providers[1].type` points at `type:`), the item's line for a list entry. A path to something
 * missing (a required key) lands on its parent, which is where the key should be added.
 */
export function positionOfPath(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PathSegment[],
): { line: number; col: number } | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset);
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as Node).range;
  return range ? range[0] : undefined;
}
