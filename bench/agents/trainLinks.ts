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
import type { TopologyIR } from '../../dsl/ir.ts';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import type { RecursiveLink } from '../../operators/links/recursiveLink.ts';
import { fitOuterLinkToTranslation } from '../../operators/links/translationInit.ts';
import { createLinks, disposeLinks, type LinkSet, saveLinks } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { innerLoopTrainer } from '../../train/inner.ts';
import { evaluateOuter, outerLoopTrainer } from '../../train/outer.ts';
import type { TaskRecord, TaskSplits } from '../tasks/index.ts';
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
      { steps: 600, lr: 2e-3, seed: 31 },
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
      const mixSeat = mixIR.agents.find((a) => ROLE_NETWORK[a.name] === network)!.name;
      copyLink(link, mixLinks.get(`inner:${mixSeat}`)!);
      report[`inner:${network}`] = {
        minutes: Number(((performance.now() - start) / 60000).toFixed(1)),
        lossHistory: trainer.history.map((l) => l.toFixed(4)).join(' '),
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
      const validation = decoderExamples(splits.validation, pattern).slice(0, 48);
      const plan = buildPlan(ir, { agents, links, mode: 'latent' });
      const before = evaluateOuter(plan, validation);
      log(`${pattern}: before the outer loop ${JSON.stringify(before)}`);
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
      const middle = evaluateOuter(plan, validation);
      log(`${pattern}: after the teacher-forced outer loop ${JSON.stringify(middle)}`);
      start = performance.now();
      const beforeSystem = snapshotOuterLinks(links);
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
      const afterSystem = evaluateOuter(plan, validation);
      log(`${pattern}: after the system outer loop ${JSON.stringify(afterSystem)}`);
      // Model selection on the validation split: keep the system stage only if it helped.
      const keptSystem = afterSystem.accuracy >= middle.accuracy;
      if (!keptSystem) restoreOuterLinks(beforeSystem);
      tf.dispose([...beforeSystem.values()]);
      const after = keptSystem ? afterSystem : middle;
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
            // Teacher-forced answer cross-entropy and exact match of the decoder's gold text on
            // 48 validation questions, with the KV-cached rollouts of inference.
            validation: { before, afterTeacherForced: middle, afterSystem, keptSystem, after },
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
