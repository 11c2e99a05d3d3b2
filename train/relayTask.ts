/**
 * A small task that only a working latent hand-off can solve, learnable in seconds on CPU with the
 * tiny preset agents: the question holds a one-digit code, the `reader` agent sees the question,
 * the `answerer` agent does not, and the answerer must say the code. The only way the code reaches
 * the answerer is R_out(R_in(H_reader)) spliced into its prompt, so untrained links answer at
 * chance (about 0 on a 2k vocabulary) and trained outer links answer correctly.
 *
 *   reader   (tiny-planner-96, llama):  "{{question}}{{feedback}}"     question: "Ann: 7 7 7 7"
 *   answerer (tiny-critic-128, qwen3):  "Code: {{latent:reader}}"      answer:   "7"
 *   reader -> answerer (forward), answerer -> reader (feedback); the answerer decodes.
 *
 * The digit is repeated so that it dominates the random reader's states (measured: 82% of their
 * variance is between digits, against 29% for "Ann's code is 7."). Held-out examples pair names
 * and digits never seen together in training.
 */
import { topology } from '../dsl/builder.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import { toIR } from '../dsl/topology.ts';

/** A question and its gold answer text. */
export interface QAExample {
  question: string;
  answer: string;
}

export interface RelayTaskOptions {
  /** Recursion rounds n. Default 2 (so the feedback link answerer -> reader is on the path). */
  rounds?: number;
  /** Latent steps m of every agent. Default 4. */
  latentSteps?: number;
  /** The codes; default the digits 1..6. */
  codes?: readonly string[];
}

export interface RelayTask {
  topology: TopologyIR;
  train: QAExample[];
  heldOut: QAExample[];
}

const NAMES = ['Ann', 'Bob', 'Cat', 'Dan', 'Eve', 'Fred', 'Gus', 'Hal', 'Ida', 'Jo', 'Kim', 'Lou'];

/**
 * @example
 * const { topology, train, heldOut } = relayTask();
 * train[0]; // { question: 'Ann: 1 1 1 1', answer: '1' }
 */
export function relayTask(options: RelayTaskOptions = {}): RelayTask {
  const codes = options.codes ?? ['1', '2', '3', '4', '5', '6'];
  const ir = toIR(
    topology('relay')
      .agent('reader', {
        model: 'tiny-planner-96',
        hiddenSize: 96,
        prompt: '{{question}}{{feedback}}',
      })
      .agent('answerer', {
        model: 'tiny-critic-128',
        hiddenSize: 128,
        prompt: 'Code: {{latent:reader}}',
      })
      .edge('reader', 'answerer')
      .feedback('answerer', 'reader')
      .rounds({ max: options.rounds ?? 2, latentSteps: options.latentSteps ?? 4 })
      .decode('answerer', { maxNewTokens: 1, temperature: 0 })
      .build(),
  );
  const train: QAExample[] = [];
  const heldOut: QAExample[] = [];
  NAMES.forEach((name, i) => {
    codes.forEach((code, j) => {
      const example = { question: `${name}: ${code} ${code} ${code} ${code}`, answer: code };
      // One pair in four is held out; every code stays in training with other names.
      ((i + j) % 4 === 0 ? heldOut : train).push(example);
    });
  });
  return { topology: ir, train, heldOut };
}
