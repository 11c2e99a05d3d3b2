/**
 * The links of the benchmark's two systems, trained with train/'s inner and outer loops over the
 * trained (frozen) networks:
 *
 * 1. every link starts from its closed-form ridge fit (operators/links/ridgeInit.ts);
 * 2. inner loop: each network's inner link on all its role texts (teacher-forced
 *    1 − cos(R_in(h_t), Emb(y_{t+1})), the official objective); a network that plays a role in both
 *    patterns uses the same inner link in both;
 * 3. outer loop, teacher-forced receivers (outerTeacherForced.ts): each agent that reads latents
 *    takes the cross-entropy of its gold text given the latents inference gives it (the senders'
 *    KV-cached rollouts through the current links, off the tape); only the outer links train;
 * 4. outer loop through the exact inference path (train/outer.ts: the runtime's differentiable
 *    rollouts, the decoder's cross-entropy), a few steps of one request (what the wasm heap holds).
 *
 * Written to models/presets/weights/links/<pattern>/ (runtime `saveLinks` layout), with a run
 * report in bench/agents/runs/links-<pattern>.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { TopologyIR } from '../../dsl/ir.ts';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import type { RecursiveLink } from '../../operators/links/recursiveLink.ts';
import { fitOuterLinkToTranslation } from '../../operators/links/translationInit.ts';
import { compile } from '../../runtime/compile.ts';
import { createLinks, disposeLinks, type LinkSet, saveLinks } from '../../runtime/links.ts';
import { innerLoopTrainer } from '../../train/inner.ts';
import { rolloutInnerLoopTrainer } from '../../train/innerRollout.ts';
import { outerLoopTrainer } from '../../train/outer.ts';
import type { TaskRecord, TaskSplits } from '../tasks/index.ts';
import { isCorrect } from '../tasks/index.ts';
import { teacherForcedTrainer } from './outerTeacherForced.ts';
import { networkTexts } from './roleTexts.ts';
import {
  mixtureBenchIR,
  NETWORKS,
  type NetworkName,
  ROLE_NETWORK,
  sequentialBenchIR,
} from './topologies.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const LINKS_DIR = path.join(HERE, '../../models/presets/weights/links');
const RUNS_DIR = path.join(HERE, 'runs');

/** Inner loop settings (official: lr 5e-4, 20000 steps; tiny links plateau after a few hundred). */
export const INNER_TRAINING = { steps: 800, batchSize: 16, lr: 2e-3, warmupSteps: 10, seed: 21 };
/**
 * Inner loop through each network's own rollouts (train/innerRollout.ts), after the teacher-forced
 * one: the planner's rollouts matched its text on 75 of 90 validation questions before, 87 after
 * 200 steps. Batches are what the wasm heap holds with the rollout on the tape (the critic's texts
 * run to 27 steps); the solver's rollouts already match its text, so it skips this phase.
 */
export const INNER_ROLLOUT_TRAINING: Record<NetworkName, { steps: number; batchSize: number }> = {
  planner: { steps: 200, batchSize: 8 },
  critic: { steps: 150, batchSize: 3 },
  solver: { steps: 0, batchSize: 1 },
};
const INNER_ROLLOUT_OPTIMIZER = { lr: 5e-4, warmupSteps: 10, seed: 24 };

/**
 * Outer loop, teacher-forced form (outerTeacherForced.ts): 2 rounds, so the feedback links are on
 * the path; the official optimiser settings apart from the learning rate.
 */
export const OUTER_TEACHER_FORCED: Record<
  'sequential' | 'mixture',
  {
    /** Cosine schedules run one after the other (a warm restart each). */
    phases: Array<{ steps: number; lr: number; seed: number }>;
    batchSize: number;
    warmupSteps: number;
    rounds: number;
  }
> = {
  sequential: {
    phases: [
      { steps: 300, lr: 2e-3, seed: 22 },
      { steps: 300, lr: 1e-3, seed: 31 },
    ],
    batchSize: 8,
    warmupSteps: 10,
    rounds: 2,
  },
  // The summarizer reads two latent slots (44 positions): fewer steps.
  mixture: {
    phases: [{ steps: 150, lr: 2e-3, seed: 22 }],
    batchSize: 8,
    warmupSteps: 10,
    rounds: 2,
  },
};
/**
 * Outer loop through the exact inference path (train/outer.ts: differentiable rollouts unrolled
 * by the runtime, the decoder's cross-entropy only), after the teacher-forced stage. Its memory
 * grows with batch × m × rounds; one request per step is what fits the wasm heap at m = 24.
 */
/** Full-batch Adam steps of each outer link's token-translation fit (translationInit.ts). */
export const TRANSLATION_FIT_STEPS = 600;

export const OUTER_SYSTEM = {
  steps: 20,
  batchSize: 1,
  lr: 5e-4,
  warmupSteps: 2,
  seed: 23,
  rounds: 1,
};

/**
 * Sample text for the outer links' ridge fits: the role texts, plus every word that both preset
 * tokenizers hold as one token (a few hundred), so the word-level least squares is well posed
 * even though the tasks use only about a hundred distinct words.
 */
export function ridgeTexts(roleTexts: readonly string[]): string[] {
  const words = (file: string, marker: string) => {
    const vocab = (
      JSON.parse(readFileSync(file, 'utf8')) as { model: { vocab: Record<string, number> } }
    ).model.vocab;
    return new Set(
      Object.keys(vocab)
        .filter((k) => k.startsWith(marker) && /^[a-z]{3,}$/.test(k.slice(marker.length)))
        .map((k) => k.slice(marker.length)),
    );
  };
  const tokenizers = path.join(HERE, '../../models/presets/tokenizers');
  const spbpe = words(path.join(tokenizers, 'spbpe-2k/tokenizer.json'), '\u2581');
  const shared = [...words(path.join(tokenizers, 'bytebpe-2k/tokenizer.json'), '\u0120')].filter(
    (w) => spbpe.has(w),
  );
  return [...roleTexts, shared.join(' '), '0 1 2 3 4 5 6 7 8 9 + - * = ; ( ) ?'];
}

/** The trained networks, as agents named after their seat. */
export async function loadNetworks(weightsRoot?: string): Promise<Map<NetworkName, Agent>> {
  const out = new Map<NetworkName, Agent>();
  for (const [network, { preset }] of Object.entries(NETWORKS) as [
    NetworkName,
    { preset: string },
  ][]) {
    out.set(
      network,
      await createPresetAgent(
        preset,
        weightsRoot ? { weightsDir: path.join(weightsRoot, preset) } : {},
      ),
    );
  }
  return out;
}

/** The IR's agents mapped to the networks that play them. */
export function agentsOf(
  ir: TopologyIR,
  networks: ReadonlyMap<NetworkName, Agent>,
): Map<string, Agent> {
  return new Map(ir.agents.map((a) => [a.name, networks.get(ROLE_NETWORK[a.name]!)!]));
}

/** Exact answers of the compiled system in latent mode (greedy), as a fraction. */
async function answerAccuracy(
  ir: TopologyIR,
  agents: ReadonlyMap<string, Agent>,
  links: LinkSet,
  tasks: readonly TaskRecord[],
): Promise<number> {
  const answers = await lastValueFrom(
    from(tasks.map((t, i) => ({ requestId: `${i}`, input: t.question }))).pipe(
      compile(ir, {
        mode: 'latent',
        agents: Object.fromEntries(agents),
        links,
        batching: { maxBatchSize: 8, lingerMs: 0 },
        queue: { capacity: tasks.length, policy: 'reject' },
      }),
      toArray(),
    ),
  );
  const correct = answers.filter(
    (a) => a.error === undefined && isCorrect(a.text, tasks[Number(a.requestId)]!.answer),
  ).length;
  return correct / Math.max(tasks.length, 1);
}

function snapshotOuterLinks(links: LinkSet): Map<tf.Variable, tf.Tensor> {
  const out = new Map<tf.Variable, tf.Tensor>();
  for (const [id, link] of links) {
    if (id.startsWith('outer:')) for (const v of link.variables) out.set(v, v.clone());
  }
  return out;
}

function restoreOuterLinks(snapshot: ReadonlyMap<tf.Variable, tf.Tensor>): void {
  for (const [v, value] of snapshot) v.assign(value);
}

function copyLink(from: RecursiveLink, to: RecursiveLink): void {
  const source = from.namedParameters();
  for (const [name, v] of to.namedParameters()) v.assign(source.get(name)!);
}

/** The decoder's gold text for each task that has role texts for the pattern. */
function decoderExamples(tasks: readonly TaskRecord[], pattern: 'sequential' | 'mixture') {
  const role = pattern === 'sequential' ? 'solver' : 'summarizer';
  return tasks.flatMap((t) => {
    const answer = t.roles?.[pattern]?.[role];
    return answer === undefined ? [] : [{ question: t.question, answer }];
  });
}

/** Trains and saves the links of both patterns. */
export async function trainLinksStage(
  splits: TaskSplits,
  options: {
    log: (line: string) => void;
    weightsRoot?: string;
    outDir?: string;
    /** Default both; each pattern can train in its own process. */
    patterns?: ReadonlyArray<'sequential' | 'mixture'>;
  },
): Promise<void> {
  const { log } = options;
  const networks = await loadNetworks(options.weightsRoot);
  const seqIR = sequentialBenchIR();
  const mixIR = mixtureBenchIR();
  const seqLinks = createLinks(seqIR, {
    seed: 1,
    agents: agentsOf(seqIR, networks),
    ridgeTexts: ridgeTexts(
      splits.train.slice(0, 400).flatMap((t) => Object.values(t.roles?.sequential ?? {})),
    ),
  });
  const mixLinks = createLinks(mixIR, {
    seed: 2,
    agents: agentsOf(mixIR, networks),
    ridgeTexts: ridgeTexts(
      splits.train.slice(0, 400).flatMap((t) => Object.values(t.roles?.mixture ?? {})),
    ),
  });
  try {
    const report: Record<string, unknown> = {};
    // Inner loop, once per network; the mixture seat of the same network gets a copy.
    for (const network of Object.keys(NETWORKS) as NetworkName[]) {
      const agent = networks.get(network)!;
      const link = seqLinks.get(`inner:${network}`)!;
      const texts = networkTexts(network, splits.train, []);
      const start = performance.now();
      const trainer = innerLoopTrainer(agent, link, texts, {
        config: INNER_TRAINING,
        progress: false,
      });
      trainer.run(INNER_TRAINING.steps, (r) => {
        if (r.step % 50 === 0 || r.step <= 2)
          log(`inner:${network} step ${r.step} loss ${r.loss.toFixed(4)}`);
      });
      trainer.dispose();
      const { steps: rolloutSteps, batchSize: rolloutBatch } = INNER_ROLLOUT_TRAINING[network];
      const rolloutHistory: number[] = [];
      if (rolloutSteps > 0) {
        const rollout = rolloutInnerLoopTrainer(
          agent,
          link,
          texts.filter((t) => t.role !== 'knowledge'),
          {
            config: { ...INNER_ROLLOUT_OPTIMIZER, steps: rolloutSteps, batchSize: rolloutBatch },
            progress: false,
          },
        );
        rollout.run(rolloutSteps, (r) => {
          if (r.step % 25 === 0 || r.step <= 2)
            log(`inner:${network} (rollout) step ${r.step} loss ${r.loss.toFixed(4)}`);
        });
        rollout.dispose();
        rolloutHistory.push(...rollout.history);
      }
      const mixSeat = mixIR.agents.find((a) => ROLE_NETWORK[a.name] === network)!.name;
      copyLink(link, mixLinks.get(`inner:${mixSeat}`)!);
      report[`inner:${network}`] = {
        minutes: Number(((performance.now() - start) / 60000).toFixed(1)),
        lossHistory: trainer.history.map((l) => l.toFixed(4)).join(' '),
        rollout: {
          ...INNER_ROLLOUT_TRAINING[network],
          ...INNER_ROLLOUT_OPTIMIZER,
          lossHistory: rolloutHistory.map((l) => l.toFixed(4)).join(' '),
        },
      };
    }
    const patterns = options.patterns ?? ['sequential', 'mixture'];
    for (const [pattern, ir, links] of [
      ['sequential', seqIR, seqLinks],
      ['mixture', mixIR, mixLinks],
    ] as const) {
      if (!patterns.includes(pattern)) continue;
      const agents = agentsOf(ir, networks);
      const withTexts = splits.train.filter((t) => t.roles?.[pattern] !== undefined);
      // Outer links start from the token translation between the agents' vocabularies.
      const sampleTexts = withTexts.flatMap((t) => [
        t.question,
        ...Object.values(t.roles![pattern]!),
      ]);
      const translation: Record<string, { loss: number; pairs: number }> = {};
      for (const edge of ir.edges) {
        const id = `outer:${edge.from}->${edge.to}`;
        translation[id] = fitOuterLinkToTranslation(links.get(id)!, {
          source: agents.get(edge.from)!,
          target: agents.get(edge.to)!,
          texts: sampleTexts,
          steps: TRANSLATION_FIT_STEPS,
        });
        log(`${pattern} ${id}: translation fit ${JSON.stringify(translation[id])}`);
      }
      const chain = withTexts.flatMap((t) =>
        Array.from({ length: t.family === 'search' ? 8 : 1 }, () => ({
          question: t.question,
          texts: t.roles![pattern]!,
        })),
      );
      // Model selection: the outer links of the stage that answers the most validation questions.
      const validation = ['arith', 'code', 'search'].flatMap((family) =>
        splits.validation.filter((t) => t.family === family && t.roles?.[pattern]).slice(0, 16),
      );
      const stages: Array<{
        stage: string;
        accuracy: number;
        weights: Map<tf.Variable, tf.Tensor>;
      }> = [];
      const checkpoint = async (stage: string) => {
        const accuracy = await answerAccuracy(ir, agents, links, validation);
        stages.push({ stage, accuracy, weights: snapshotOuterLinks(links) });
        log(
          `${pattern}: after ${stage}, ${validation.length} validation questions, accuracy ${accuracy.toFixed(3)}`,
        );
      };
      await checkpoint('the translation fit');
      let start = performance.now();
      const settings = OUTER_TEACHER_FORCED[pattern];
      const teacherForcedHistory: number[] = [];
      for (const [i, phase] of settings.phases.entries()) {
        const teacherForced = teacherForcedTrainer(
          ir,
          agents,
          links,
          chain,
          { rounds: settings.rounds, senders: 'rollout' },
          { ...phase, batchSize: settings.batchSize, warmupSteps: settings.warmupSteps },
        );
        teacherForced.run(phase.steps, (r) => {
          if (r.step % 20 === 0 || r.step <= 2) {
            log(
              `${pattern} outer (teacher-forced) phase ${i + 1} step ${r.step} loss ${r.loss.toFixed(4)} (${Math.round(r.ms)} ms)`,
            );
          }
        });
        teacherForced.dispose();
        teacherForcedHistory.push(...teacherForced.history);
      }
      const teacherForcedMinutes = (performance.now() - start) / 60000;
      await checkpoint('the teacher-forced outer loop');
      start = performance.now();
      const system = outerLoopTrainer({
        ir,
        agents,
        links,
        examples: decoderExamples(splits.train, pattern),
        rounds: OUTER_SYSTEM.rounds,
        config: OUTER_SYSTEM,
        progress: false,
      });
      system.run(OUTER_SYSTEM.steps, (r) => {
        log(
          `${pattern} outer (system) step ${r.step} loss ${r.loss.toFixed(4)} (${Math.round(r.ms)} ms)`,
        );
      });
      system.dispose();
      const systemMinutes = (performance.now() - start) / 60000;
      await checkpoint('the system outer loop');
      const kept = stages.reduce((best, s) => (s.accuracy > best.accuracy ? s : best));
      restoreOuterLinks(kept.weights);
      for (const s of stages) tf.dispose([...s.weights.values()]);
      log(`${pattern}: keeping the outer links after ${kept.stage}`);
      const dir = path.join(options.outDir ?? LINKS_DIR, pattern);
      await saveLinks(links, dir);
      log(`${pattern}: saved ${dir}`);
      mkdirSync(RUNS_DIR, { recursive: true });
      writeFileSync(
        path.join(RUNS_DIR, `links-${pattern}.json`),
        `${JSON.stringify(
          {
            pattern,
            backend: tf.getBackend(),
            latentSteps: Object.fromEntries(ir.agents.map((a) => [a.name, a.latentSteps])),
            inner: INNER_TRAINING,
            outerTeacherForced: {
              ...OUTER_TEACHER_FORCED[pattern],
              minutes: Number(teacherForcedMinutes.toFixed(1)),
              lossHistory: teacherForcedHistory.map((l) => l.toFixed(4)).join(' '),
            },
            outerSystem: {
              ...OUTER_SYSTEM,
              minutes: Number(systemMinutes.toFixed(1)),
              lossHistory: system.history.map((l) => l.toFixed(4)).join(' '),
            },
            // Exact answers of the compiled system (latent mode, greedy) on validation questions.
            validation: {
              questions: validation.length,
              accuracy: Object.fromEntries(stages.map((s) => [s.stage, s.accuracy])),
              kept: kept.stage,
            },
            translationFit: { steps: TRANSLATION_FIT_STEPS, ...translation },
            innerRuns: report,
          },
          null,
          2,
        )}\n`,
      );
    }
  } finally {
    disposeLinks(seqLinks as LinkSet);
    disposeLinks(mixLinks as LinkSet);
    for (const agent of networks.values()) agent.model.dispose();
  }
}
