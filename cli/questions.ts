/**
 * Questions for `rmas run`: from `--question` flags, a file, or stdin. A file holds one question
 * per line, either as plain text or as a JSON object (JSONL):
 *
 * ```jsonl
 * {"id": "q1", "question": "What is 12 * 7?", "answer": "84"}
 * {"question": "Trace: x = 3; x = x + 4; print(x)"}
 * ```
 *
 * `question` (or `input`) is required; `id` (or `requestId`) defaults to `q<line>`; `answer` is
 * kept for scoring. Empty lines are skipped.
 */
import { readFile } from 'node:fs/promises';
import { CliError } from './errors.ts';

export interface Question {
  id: string;
  text: string;
  /** The expected answer, when the file gives one. */
  answer?: string;
}

export interface QuestionSources {
  /** `--question` values. */
  questions?: readonly string[];
  /** `--input` file; `-` reads stdin. */
  input?: string;
  /** Read when neither is given and it is not a terminal. Default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/**
 * @example
 * const qs = await readQuestions({ questions: ['What is 2 + 2?'] }); // [{ id: 'q1', text: 'What is 2 + 2?' }]
 */
export async function readQuestions(sources: QuestionSources): Promise<Question[]> {
  const stdin = sources.stdin ?? process.stdin;
  const fromFlags = (sources.questions ?? []).map((text, i) => ({ id: `q${i + 1}`, text }));
  if (sources.input === undefined && fromFlags.length > 0) return fromFlags;
  let text: string;
  let shown: string;
  if (sources.input !== undefined && sources.input !== '-') {
    shown = sources.input;
    try {
      text = await readFile(sources.input, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new CliError(
        'INPUT',
        code === 'ENOENT'
          ? `questions file not found: ${sources.input}`
          : `cannot read ${sources.input}: ${(error as Error).message}`,
        {
          hint: 'pass a JSONL file (one {"id", "question"} per line) or plain text, one question per line',
        },
      );
    }
  } else {
    if (sources.input === undefined && stdin.isTTY === true) {
      throw new CliError('USAGE', 'no questions given', {
        hint: 'pass --question "…", --input questions.jsonl, or pipe questions on stdin (one per line)',
      });
    }
    shown = 'stdin';
    text = await readStream(stdin);
  }
  const questions = [...fromFlags, ...parseQuestions(text, shown, fromFlags.length)];
  if (questions.length === 0) {
    throw new CliError('INPUT', `${shown}: no questions (the input is empty)`, {
      hint: 'pass --question "…", --input questions.jsonl, or pipe questions on stdin: one per line, as text or as {"question": "…"}',
    });
  }
  const seen = new Set<string>();
  for (const q of questions) {
    if (seen.has(q.id)) {
      throw new CliError('INPUT', `${shown}: the id ${JSON.stringify(q.id)} is used twice`, {
        hint: 'give every question its own "id", or leave ids out to number them',
      });
    }
    seen.add(q.id);
  }
  return questions;
}

/**
 * Parses question lines (plain text or JSON objects); `shown` names the source in errors.
 * @example parseQuestions('{"question":"2+2?","answer":"4"}\n', 'data.jsonl') // [{ id: 'q1', text: '2+2?', answer: '4' }]
 */
export function parseQuestions(text: string, shown: string, offset = 0): Question[] {
  const questions: Question[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${shown}:${index + 1}`;
    const number = offset + questions.length + 1;
    if (!line.startsWith('{')) {
      questions.push({ id: `q${number}`, text: line });
      return;
    }
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new CliError('INPUT', `${where}: not valid JSON: ${(error as Error).message}`, {
        hint: 'each line is one JSON object, e.g. {"id": "q1", "question": "What is 12 * 7?"}',
      });
    }
    const question = value['question'] ?? value['input'];
    if (typeof question !== 'string' || question === '') {
      throw new CliError('INPUT', `${where}: "question" must be a non-empty string`, {
        hint: 'each line needs {"question": "…"}; "id" and "answer" are optional',
      });
    }
    const id = value['id'] ?? value['requestId'];
    if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') {
      throw new CliError('INPUT', `${where}: "id" must be a string or a number`);
    }
    const answer = value['answer'];
    questions.push({
      id: id === undefined ? `q${number}` : String(id),
      text: question,
      ...(answer !== undefined ? { answer: String(answer) } : {}),
    });
  });
  return questions;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
