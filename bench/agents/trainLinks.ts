/**
 * The links of the benchmark's two systems, trained with train/'s inner and outer loops over the
 * trained (frozen) networks:
 *
 * 1. every link starts from its closed-form ridge fit (operators/links/ridgeInit.ts);
 * 2. inner loop: each network's inner link on all its role texts (teacher-forced
 *    1 − cos(R_in(h_t), Emb(y_{t+1})), the official objective); a network that plays a role in both
 *    patterns uses the same inner link in both;
 * 3. outer loop: the system unrolled for n rounds through the runtime's plan, cross-entropy on the
 *    decoder's gold text, only the outer links train.
 *
 * Written to models/presets/weights/links/<pattern>/ (runtime `saveLinks` layout), with a run
 * report in bench/agents/runs/links-<pattern>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { TopologyIR } from '../../dsl/ir.ts';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import type { RecursiveLink } from '../../operators/links/recursiveLink.ts';
import { createLinks, disposeLinks, type LinkSet, saveLinks } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { innerLoopTrainer } from '../../train/inner.ts';
import { evaluateOuter, outerLoopTrainer } from '../../train/outer.ts';
import type { TaskRecord, TaskSplits } from '../tasks/index.ts';
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

/** Inner loop settings (official lr 5e-4, cosine, 10 warmup steps; fewer steps: tiny links). */
export const INNER_TRAINING = { steps: 300, batchSize: 16, lr: 1e-3, warmupSteps: 10, seed: 21 };
/** Outer loop settings (official optimiser; rounds = the topology's 3). */
export const OUTER_TRAINING = { steps: 150, batchSize: 8, lr: 2e-3, warmupSteps: 10, seed: 22 };

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
  options: { log: (line: string) => void; weightsRoot?: string; outDir?: string },
): Promise<void> {
  const { log } = options;
  const networks = await loadNetworks(options.weightsRoot);
  const seqIR = sequentialBenchIR();
  const mixIR = mixtureBenchIR();
  const seqLinks = createLinks(seqIR, {
    seed: 1,
    agents: agentsOf(seqIR, networks),
    ridgeTexts: splits.train.slice(0, 400).flatMap((t) => Object.values(t.roles?.sequential ?? {})),
  });
  const mixLinks = createLinks(mixIR, {
    seed: 2,
    agents: agentsOf(mixIR, networks),
    ridgeTexts: splits.train.slice(0, 400).flatMap((t) => Object.values(t.roles?.mixture ?? {})),
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
        lossHistory: trainer.history.map((l) => Number(l.toFixed(4))),
      };
    }
    for (const [pattern, ir, links] of [
      ['sequential', seqIR, seqLinks],
      ['mixture', mixIR, mixLinks],
    ] as const) {
      const agents = agentsOf(ir, networks);
      const examples = decoderExamples(splits.train, pattern);
      const validation = decoderExamples(splits.validation, pattern).slice(0, 48);
      const plan = buildPlan(ir, { agents, links, mode: 'latent' });
      const before = evaluateOuter(plan, validation);
      log(`${pattern}: before outer loop ${JSON.stringify(before)}`);
      const start = performance.now();
      const trainer = outerLoopTrainer({
        ir,
        agents,
        links,
        examples,
        config: OUTER_TRAINING,
        progress: false,
      });
      trainer.run(OUTER_TRAINING.steps, (r) => {
        if (r.step % 10 === 0 || r.step <= 2) {
          log(`${pattern} outer step ${r.step} loss ${r.loss.toFixed(4)} (${Math.round(r.ms)} ms)`);
        }
      });
      trainer.dispose();
      const after = evaluateOuter(plan, validation);
      log(`${pattern}: after outer loop ${JSON.stringify(after)}`);
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
            inner: INNER_TRAINING,
            outer: OUTER_TRAINING,
            minutes: Number(((performance.now() - start) / 60000).toFixed(1)),
            validationTeacherForced: { before, after },
            innerRuns: report,
            outerLossHistory: trainer.history.map((l) => Number(l.toFixed(4))),
          },
          null,
          1,
        )}\n`,
      );
    }
  } finally {
    disposeLinks(seqLinks as LinkSet);
    disposeLinks(mixLinks as LinkSet);
    for (const agent of networks.values()) agent.model.dispose();
  }
}
