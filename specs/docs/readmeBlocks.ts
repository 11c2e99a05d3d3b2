/**
 * The README's code blocks, as the doc test reads them. The conventions (for whoever edits the
 * README) are in readme.spec.ts.
 */

export interface CodeBlock {
  /** `sh` or `ts` (other languages are not collected). */
  lang: 'sh' | 'ts';
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** The `quick="…"` of a `<!-- doc-test: … -->` comment on the line before a ```sh fence. */
  quick?: string;
  /**
   * `<!-- doc-test: background -->` before a ```ts fence: a program that serves until SIGTERM (a
   * worker). The doc test starts it and goes on; it must still run after the last block, and
   * stop with exit code 0 on SIGTERM.
   */
  background?: true;
}

const FENCE = /^```\s*([\w-]*)\s*$/;
const DIRECTIVE = /^<!--\s*doc-test:\s*(.*?)\s*-->$/;
const QUICK = /^quick="((?:[^"\\]|\\.)*)"$/;
const BACKGROUND = 'background';

type Directive = { quick: string } | { background: true };

/** Commands the doc test does not run: installing (the copy has node_modules) and the suite itself. */
export const NOT_RUN = ['npm ci', 'npm test'] as const;

/**
 * The ```sh and ```ts blocks of a markdown text, in order, with their doc-test directives.
 * Throws on a directive it does not understand, or one that is not followed by its kind of block
 * (`quick` by a ```sh block, `background` by a ```ts block).
 * @example extractBlocks('<!-- doc-test: quick="npm start -- --limit 2" -->\n```sh\nnpm start\n```\n')
 * // [{ lang: 'sh', line: 2, code: 'npm start\n', quick: 'npm start -- --limit 2' }]
 */
export function extractBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let pending: { directive: Directive; line: number } | undefined;
  const misplaced = (at: { directive: Directive; line: number }) =>
    new Error(
      'quick' in at.directive
        ? `README:${at.line}: a doc-test quick directive must come right before a \`\`\`sh block`
        : `README:${at.line}: a doc-test background directive must come right before a \`\`\`ts block`,
    );
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const directive = DIRECTIVE.exec(text.trim());
    if (directive) {
      const quick = QUICK.exec(directive[1]!);
      if (quick) pending = { directive: { quick: quick[1]!.replaceAll('\\"', '"') }, line: i + 1 };
      else if (directive[1] === BACKGROUND)
        pending = { directive: { background: true }, line: i + 1 };
      else throw new Error(`README:${i + 1}: unknown doc-test directive: ${directive[1]}`);
      continue;
    }
    const fence = FENCE.exec(text);
    if (!fence) {
      if (pending && text.trim() !== '') throw misplaced(pending);
      continue;
    }
    const lang = fence[1]!;
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`README:${start}: code block never closed`);
    if (pending && lang !== ('quick' in pending.directive ? 'sh' : 'ts')) throw misplaced(pending);
    if (lang === 'sh' || lang === 'ts') {
      blocks.push({
        lang,
        line: start,
        code: `${body.join('\n')}\n`,
        ...(pending?.directive ?? {}),
      });
    }
    pending = undefined;
  }
  return blocks;
}

/** The commands of a shell block: lines (minus comments), split on `&&`, trimmed. */
export function commandsOf(script: string): string[] {
  return script
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '')
    .flatMap((line) => line.split('&&').map((part) => part.trim()))
    .filter((part) => part !== '');
}

/**
 * A shell block as the doc test runs it: without the `npm ci` / `npm test` commands (whole lines,
 * or steps of an `&&` chain). Heredocs and multi-line commands pass through untouched.
 * @example runnableScript('npm ci && npx rmas run -q "2 + 2?"\nnpm test\n') // 'npx rmas run -q "2 + 2?"\n'
 */
export function runnableScript(script: string): { script: string; skipped: string[] } {
  const skipped: string[] = [];
  const kept = script.split('\n').flatMap((line) => {
    const [command, ...comment] = line.split(/(?<=\s)#/);
    const steps = command!.split('&&');
    const runnable = steps.filter((step) => {
      const skip = (NOT_RUN as readonly string[]).includes(step.trim());
      if (skip) skipped.push(step.trim());
      return !skip;
    });
    if (runnable.length === steps.length) return [line];
    if (runnable.length === 0) return [];
    return [
      runnable.map((s) => s.trim()).join(' && ') +
        (comment.length > 0 ? ` #${comment.join('#')}` : ''),
    ];
  });
  return { script: kept.join('\n'), skipped };
}

/** First `n` words of a command, for matching a quick form against the documented one. */
export function head(command: string, n: number): string {
  return command.split(/\s+/).slice(0, n).join(' ');
}
