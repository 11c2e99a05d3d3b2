import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../cli/errors.ts';
import { parseQuestions, readQuestions } from '../../cli/questions.ts';

function stdin(text: string, isTTY = false): NodeJS.ReadableStream & { isTTY?: boolean } {
  return Object.assign(Readable.from([Buffer.from(text)]), { isTTY });
}

describe('questions', () => {
  it('reads JSONL objects and plain lines, numbering those without an id', () => {
    const text = [
      '{"id": "a", "question": "What is 12 * 7?", "answer": 84}',
      '',
      'Trace: x = 3; print(x)',
      '{"input": "2 + 2?", "requestId": 7}',
    ].join('\n');
    expect(parseQuestions(text, 'q.jsonl')).toEqual([
      { id: 'a', text: 'What is 12 * 7?', answer: '84' },
      { id: 'q2', text: 'Trace: x = 3; print(x)' },
      { id: '7', text: '2 + 2?' },
    ]);
  });

  it('names the file and line of a bad record', () => {
    expect(() => parseQuestions('ok\n{"question": 3}\n', 'data.jsonl')).toThrow(
      'data.jsonl:2: "question" must be a non-empty string',
    );
    expect(() => parseQuestions('{"question": "x",}\n', 'data.jsonl')).toThrow(
      /data\.jsonl:1: not valid JSON/,
    );
  });

  it('takes --question values first, and stdin only when nothing else is given', async () => {
    expect(await readQuestions({ questions: ['one', 'two'], stdin: stdin('ignored') })).toEqual([
      { id: 'q1', text: 'one' },
      { id: 'q2', text: 'two' },
    ]);
    expect(await readQuestions({ stdin: stdin('first\nsecond\n') })).toEqual([
      { id: 'q1', text: 'first' },
      { id: 'q2', text: 'second' },
    ]);
  });

  it('asks for questions instead of waiting on a terminal', async () => {
    const error = await readQuestions({ stdin: stdin('', true) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('USAGE');
    expect((error as CliError).hint).toContain('--question');
  });

  it('refuses an id used twice', async () => {
    const text = '{"id": "x", "question": "a"}\n{"id": "x", "question": "b"}\n';
    await expect(readQuestions({ input: '-', stdin: stdin(text) })).rejects.toThrow(
      'the id "x" is used twice',
    );
  });

  it('names a missing file', async () => {
    await expect(readQuestions({ input: 'no/such/questions.jsonl' })).rejects.toThrow(
      'questions file not found: no/such/questions.jsonl',
    );
  });
});
