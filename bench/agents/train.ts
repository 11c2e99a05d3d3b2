/**
 * Trains the benchmark's agents from scratch, then their links, with the project's own code, and
 * writes what the repository ships:
 *
 *   models/presets/weights/<preset>/            the three networks (F16 safetensors + tokenizer)
 *   models/presets/weights/links/<pattern>/     inner and outer links of each pattern
 *   bench/agents/runs/<name>.json               loss history, settings, role accuracy, duration
 *
 * One command (about an hour on 2 shared cores; see bench/agents/README.md):
 *
 *   npx tsx bench/agents/train.ts                      # networks, then links
 *   npx tsx bench/agents/train.ts --stage networks --networks planner,critic
 *   npx tsx bench/agents/train.ts --stage links
 *
 * Options: --steps N (every network), --out DIR (write weights under DIR/<preset>/ instead),
 * --checkpoints DIR (save every 250 steps and resume from there), --weights DIR (links stage: read
 * the networks from DIR/<preset>/), --links-out DIR (write the links there).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createPresetAgent, presetWeightsDir, saveAgent } from '../../models/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { buildTaskSplits, type TaskSplits } from '../tasks/index.ts';
import { roleAccuracy } from './roleAccuracy.ts';
import { networkTexts, type TaggedRoleText } from './roleTexts.ts';
import { NETWORKS, type NetworkName } from './topologies.ts';
import { trainNetwork } from './trainNetwork.ts';

export const RUNS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runs');

/** Settings of each network's training (from scratch, every weight). */
export const NETWORK_TRAINING: Record<
  NetworkName,
  {
    steps: number;
    batchSize: number;
    lr: number;
    warmupSteps: number;
    weightDecay: number;
    seed: number;
  }
> = {
  planner: { steps: 2500, batchSize: 16, lr: 2e-3, warmupSteps: 100, weightDecay: 0.01, seed: 11 },
  critic: { steps: 2000, batchSize: 16, lr: 2e-3, warmupSteps: 100, weightDecay: 0.01, seed: 12 },
  solver: { steps: 1000, batchSize: 16, lr: 2e-3, warmupSteps: 100, weightDecay: 0.01, seed: 13 },
};

/** Search questions and knowledge texts are few; they are repeated this many times per epoch. */
const OVERSAMPLE: Record<string, number> = { search: 8, knowledge: 4 };

/** A network's training texts (train split, oversampled). */
export function trainingTexts(network: NetworkName, splits: TaskSplits): TaggedRoleText[] {
  return networkTexts(network, splits.train, splits.knowledge).flatMap((t) =>
    Array.from({ length: OVERSAMPLE[t.family] ?? 1 }, () => t),
  );
}

function log(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Trains one network from scratch and saves it where `createPresetAgent` finds it. */
export async function trainNetworkStage(
  network: NetworkName,
  splits: TaskSplits,
  overrides: { steps?: number; checkpointDir?: string; weightsRoot?: string } = {},
): Promise<void> {
  const preset = NETWORKS[network].preset;
  const settings = {
    ...NETWORK_TRAINING[network],
    ...(overrides.steps ? { steps: overrides.steps } : {}),
  };
  const agent = await createPresetAgent(preset, { seed: settings.seed, random: true });
  const texts = trainingTexts(network, splits);
  log(
    `${network} (${preset}): ${texts.length} texts, ${settings.steps} steps of ${settings.batchSize}`,
  );
  const start = performance.now();
  const { model, full, history } = await trainNetwork(agent, texts, {
    ...settings,
    progress: false,
    ...(overrides.checkpointDir ? { checkpointDir: overrides.checkpointDir } : {}),
    onStep: (r) => {
      if (r.step % 50 === 0)
        log(`${network} step ${r.step} loss ${r.loss.toFixed(4)} (${Math.round(r.ms)} ms)`);
    },
  });
  const minutes = (performance.now() - start) / 60000;
  const dir = overrides.weightsRoot
    ? path.join(overrides.weightsRoot, preset)
    : presetWeightsDir(preset);
  saveAgent({ ...agent, model }, dir, { dtype: 'F16' });
  log(`${network}: saved ${dir} after ${minutes.toFixed(1)} min`);
  const sample = (records: TaskSplits['validation']) =>
    networkTexts(network, records, []).filter((_, i) => i % 2 === 0);
  const accuracy = {
    validation: roleAccuracy(agent, model, sample(splits.validation)),
    test: roleAccuracy(agent, model, sample(splits.test)),
  };
  log(`${network} role accuracy ${JSON.stringify(accuracy)}`);
  mkdirSync(RUNS_DIR, { recursive: true });
  writeFileSync(
    path.join(RUNS_DIR, `${network}.json`),
    `${JSON.stringify(
      {
        network,
        preset,
        settings,
        texts: texts.length,
        backend: tf.getBackend(),
        minutes: Number(minutes.toFixed(1)),
        roleAccuracy: accuracy,
        lossHistory: history.map((l) => Number(l.toFixed(4))),
      },
      null,
      1,
    )}\n`,
  );
  full.dispose();
  agent.model.dispose();
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  await initBackend();
  const stage = argument('stage') ?? 'all';
  const splits = buildTaskSplits();
  const networks = (argument('networks') ?? 'planner,critic,solver').split(',') as NetworkName[];
  const steps = argument('steps') ? Number(argument('steps')) : undefined;
  if (stage === 'networks' || stage === 'all') {
    for (const network of networks) {
      const checkpointDir = argument('checkpoints')
        ? path.join(argument('checkpoints')!, network)
        : undefined;
      await trainNetworkStage(network, splits, {
        ...(steps ? { steps } : {}),
        ...(checkpointDir ? { checkpointDir } : {}),
        ...(argument('out') ? { weightsRoot: argument('out')! } : {}),
      });
    }
  }
  if (stage === 'links' || stage === 'all') {
    const { trainLinksStage } = await import('./trainLinks.ts');
    await trainLinksStage(splits, {
      log,
      ...(argument('weights') ? { weightsRoot: argument('weights')! } : {}),
      ...(argument('links-out') ? { outDir: argument('links-out')! } : {}),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
