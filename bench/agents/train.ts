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
 * the networks from DIR/<preset>/), --links-out DIR (write the links there), --from-phase K
 * --init DIR (start a network at its phase K from the weights the previous phase saved in DIR),
 * --patterns sequential|mixture (links stage: only these).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** One cosine schedule; a network trains through its phases in order, each from the last's weights. */
export interface TrainingPhase {
  steps: number;
  lr: number;
  warmupSteps: number;
}

/** Settings of each network's training (from scratch, every weight). */
export const NETWORK_TRAINING: Record<
  NetworkName,
  { phases: TrainingPhase[]; batchSize: number; weightDecay: number; seed: number }
> = {
  planner: {
    // Phase 2 adds little: it is where the latent-mode round-1 prompt (roleTexts.ts) was learned.
    phases: [
      { steps: 2500, lr: 2e-3, warmupSteps: 100 },
      { steps: 400, lr: 5e-4, warmupSteps: 20 },
    ],
    batchSize: 16,
    weightDecay: 0.01,
    seed: 11,
  },
  // The critic copies the plan's result and works out its own part: it needs a second schedule
  // (a warm restart at half the learning rate) to get the values right, not just the format.
  critic: {
    phases: [
      { steps: 2000, lr: 2e-3, warmupSteps: 100 },
      { steps: 2000, lr: 1e-3, warmupSteps: 50 },
      { steps: 1000, lr: 1e-3, warmupSteps: 50 },
    ],
    batchSize: 16,
    weightDecay: 0.01,
    seed: 12,
  },
  // The solver's mod-10 tables take longest to learn (its own recall texts hold every entry).
  solver: {
    phases: [
      { steps: 1000, lr: 2e-3, warmupSteps: 100 },
      { steps: 2000, lr: 1e-3, warmupSteps: 50 },
      { steps: 1500, lr: 1e-3, warmupSteps: 50 },
    ],
    batchSize: 16,
    weightDecay: 0.01,
    seed: 13,
  },
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

/**
 * Trains one network from scratch through its phases and saves it where `createPresetAgent`
 * finds it. `fromPhase` > 0 starts at that phase from weights saved by the previous one (in
 * `initRoot/<preset>/`), e.g. to add a phase to a finished run.
 */
export async function trainNetworkStage(
  network: NetworkName,
  splits: TaskSplits,
  overrides: {
    steps?: number;
    checkpointDir?: string;
    weightsRoot?: string;
    fromPhase?: number;
    initRoot?: string;
  } = {},
): Promise<void> {
  const preset = NETWORKS[network].preset;
  const settings = NETWORK_TRAINING[network];
  const phases = settings.phases.map((p) =>
    overrides.steps ? { ...p, steps: overrides.steps } : p,
  );
  const fromPhase = overrides.fromPhase ?? 0;
  let agent =
    fromPhase > 0 && overrides.initRoot
      ? await createPresetAgent(preset, { weightsDir: path.join(overrides.initRoot, preset) })
      : await createPresetAgent(preset, { seed: settings.seed, random: true });
  const texts = trainingTexts(network, splits);
  // Loss histories are space-separated strings: the file stays as JSON.stringify writes it (and as
  // the formatter leaves it).
  const runs: Array<TrainingPhase & { phase: number; minutes: number; lossHistory: string }> = [];
  const dir = overrides.weightsRoot
    ? path.join(overrides.weightsRoot, preset)
    : presetWeightsDir(preset);
  for (let phase = fromPhase; phase < phases.length; phase++) {
    const p = phases[phase]!;
    log(
      `${network} (${preset}) phase ${phase + 1}: ${texts.length} texts, ${p.steps} steps of ${settings.batchSize}, lr ${p.lr}`,
    );
    const start = performance.now();
    const { model, full, history } = await trainNetwork(agent, texts, {
      ...p,
      batchSize: settings.batchSize,
      weightDecay: settings.weightDecay,
      seed: settings.seed + phase,
      progress: false,
      ...(overrides.checkpointDir
        ? { checkpointDir: path.join(overrides.checkpointDir, `phase-${phase + 1}`) }
        : {}),
      onStep: (r) => {
        if (r.step % 50 === 0)
          log(
            `${network} phase ${phase + 1} step ${r.step} loss ${r.loss.toFixed(4)} (${Math.round(r.ms)} ms)`,
          );
      },
    });
    const minutes = (performance.now() - start) / 60000;
    // Save, then continue from the saved (F16) weights: what ships is what the next phase starts from.
    saveAgent({ ...agent, model }, dir, { dtype: 'F16' });
    log(`${network}: phase ${phase + 1} saved ${dir} after ${minutes.toFixed(1)} min`);
    runs.push({
      phase: phase + 1,
      ...p,
      minutes: Number(minutes.toFixed(1)),
      lossHistory: history.map((l) => l.toFixed(4)).join(' '),
    });
    full.dispose();
    agent.model.dispose();
    agent = await createPresetAgent(preset, { weightsDir: dir });
  }
  const sample = (records: TaskSplits['validation']) =>
    networkTexts(network, records, []).filter((_, i) => i % 2 === 0);
  const accuracy = {
    validation: roleAccuracy(agent, agent.model, sample(splits.validation)),
    test: roleAccuracy(agent, agent.model, sample(splits.test)),
  };
  log(`${network} role accuracy ${JSON.stringify(accuracy)}`);
  mkdirSync(RUNS_DIR, { recursive: true });
  const runFile = path.join(RUNS_DIR, `${network}.json`);
  // A run that starts at a later phase keeps the earlier phases' records.
  const earlier =
    fromPhase > 0 && existsSync(runFile)
      ? (
          (JSON.parse(readFileSync(runFile, 'utf8')) as { phases?: typeof runs }).phases ?? []
        ).filter((r) => r.phase <= fromPhase)
      : [];
  const allPhases = [...earlier, ...runs];
  writeFileSync(
    runFile,
    `${JSON.stringify(
      {
        network,
        preset,
        batchSize: settings.batchSize,
        weightDecay: settings.weightDecay,
        seed: settings.seed,
        texts: texts.length,
        backend: tf.getBackend(),
        minutes: Number(allPhases.reduce((m, r) => m + r.minutes, 0).toFixed(1)),
        roleAccuracy: accuracy,
        phases: allPhases,
      },
      null,
      2,
    )}\n`,
  );
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
        ...(argument('from-phase') ? { fromPhase: Number(argument('from-phase')) - 1 } : {}),
        ...(argument('init') ? { initRoot: argument('init')! } : {}),
      });
    }
  }
  if (stage === 'links' || stage === 'all') {
    const { trainLinksStage } = await import('./trainLinks.ts');
    await trainLinksStage(splits, {
      log,
      ...(argument('weights') ? { weightsRoot: argument('weights')! } : {}),
      ...(argument('links-out') ? { outDir: argument('links-out')! } : {}),
      ...(argument('patterns')
        ? { patterns: argument('patterns')!.split(',') as Array<'sequential' | 'mixture'> }
        : {}),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
