/**
 * The README is a short front door and the detail lives in docs/: the two only work together while
 * their links do. Every relative link in README.md and docs/ must name a file inside the
 * repository, and every #anchor a heading of that file (slugged as GitHub does), so moving or
 * renaming a heading fails here, naming the link, instead of on a reader. External links are not
 * fetched: tests do not use the network.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Fenced blocks and code spans blanked out (newlines kept, so line numbers stay right). */
function proseOnly(markdown: string): string {
  const blank = (text: string) => text.replace(/[^\n]/g, ' ');
  return markdown
    .replace(/^ {0,3}(```+|~~~+)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, blank)
    .replace(/(`+)[\s\S]*?\1/g, blank);
}

/** Inline links and images `[text](target "title")`, and reference definitions `[id]: target`. */
function linksIn(file: string, markdown: string): Link[] {
  const prose = proseOnly(markdown);
  const links: Link[] = [];
  const lineOf = (index: number) => prose.slice(0, index).split('\n').length;
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    links.push({ file, line: lineOf(m.index), target: m[1]! });
  }
  for (const m of prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) {
    links.push({ file, line: lineOf(m.index), target: m[1]! });
  }
  return links;
}

/** GitHub's heading id: lower case, punctuation dropped, spaces to hyphens (as github-slugger). */
function slug(headingText: string): string {
  const text = headingText
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading contributes its text
    .replace(/<[^>]+>/g, '')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers: its ATX headings (duplicates numbered) and HTML ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^ {0,3}(```+|~~~+)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');
  for (const m of withoutFences.matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/gm)) {
    const base = slug(m[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** What is wrong with one link, or undefined when it resolves. */
function problemWith(link: Link, root: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined; // https:, mailto:, ...: external
  const hashAt = link.target.indexOf('#');
  const pathPart = hashAt === -1 ? link.target : link.target.slice(0, hashAt);
  const anchor = hashAt === -1 ? undefined : decodeURIComponent(link.target.slice(hashAt + 1));
  const target = pathPart === '' ? link.file : resolve(dirname(link.file), decodeURIComponent(pathPart));
  if (target !== root && !target.startsWith(root + sep)) return 'points outside the repository';
  if (!existsSync(target)) return `${relative(root, target)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!target.endsWith('.md')) {
    return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `#${anchor}: only .md files have headings`;
  }
  if (anchorsOf(readFileSync(target, 'utf8')).has(anchor)) return undefined;
  return `#${anchor}: no such heading in ${relative(root, target)}`;
}

/** Every broken link of the given markdown files, as "file:line: target: why". */
function brokenLinks(files: string[], root: string): { checked: number; broken: string[] } {
  const links = files.flatMap((file) => linksIn(file, readFileSync(file, 'utf8')));
  const broken: string[] = [];
  for (const link of links) {
    const problem = problemWith(link, root);
    if (problem) broken.push(`${relative(root, link.file)}:${link.line}: ${link.target}: ${problem}`);
  }
  return { checked: links.length, broken };
}

function markdownFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(dir, name));
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/ resolves to a file and heading in the repository', () => {
    const files = [join(ROOT, 'README.md'), ...markdownFilesUnder(join(ROOT, 'docs'))];
    const { checked, broken } = brokenLinks(files, ROOT);
    assert.deepEqual(broken, []);
    // The README's index alone links every docs page: a parser that found nothing would pass above.
    assert.ok(checked >= 9, `only ${checked} links found`);
  });

  it('finds a missing file, a missing heading and a path out of the repository', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docs-links-'));
    try {
      writeFileSync(join(dir, 'other.md'), '# Other page\n\n## Setup: step 1\n');
      writeFileSync(
        join(dir, 'page.md'),
        [
          '# Page',
          '[fine](other.md#setup-step-1) and [self](#page)',
          '[gone](missing.md)',
          '[no heading](other.md#nope)',
          '[outside](../elsewhere.md)',
          '```',
          '[in a code block](ignored.md)',
          '```',
          'and `[in a code span](ignored.md)` and [external](https://example.com/x)',
        ].join('\n'),
      );
      const { broken } = brokenLinks([join(dir, 'page.md')], dir);
      assert.deepEqual(broken, [
        'page.md:3: missing.md: missing.md does not exist',
        'page.md:4: other.md#nope: #nope: no such heading in other.md',
        'page.md:5: ../elsewhere.md: points outside the repository',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('slugs headings as GitHub does, numbering repeats', () => {
    assert.equal(slug('Routing and failover'), 'routing-and-failover');
    assert.equal(
      slug('Google: Gemini API and Vertex AI (one content model)'),
      'google-gemini-api-and-vertex-ai-one-content-model',
    );
    assert.equal(slug('Simulated clouds (`src/sim/`)'), 'simulated-clouds-srcsim');
    assert.equal(slug("Where a request's time goes"), 'where-a-requests-time-goes');
    assert.deepEqual(
      [...anchorsOf('# A\n## Notes\n### Notes\n```\n# not a heading\n```\n')],
      ['a', 'notes', 'notes-1'],
    );
  });
});
