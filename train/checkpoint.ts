/**
 * Training checkpoints: one safetensors file with the trained weights and the optimizer moments,
 * and one JSON file with everything else a run needs to continue the same loss curve (step,
 * config, schedule, data position, RNG state, loss history).
 *
 * On disk, for `saveCheckpoint('runs/outer/step-50', ...)`:
 *   runs/outer/step-50/checkpoint.safetensors   param/<name>, adamw.m/<name>, adamw.v/<name>
 *   runs/outer/step-50/checkpoint.json          { "format": "rmas.train-checkpoint", "step": 50, ... }
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { safetensorsFromTensorsSync, tensorsFromSafetensors } from '../models/safetensors.ts';
import { TrainError } from './errors.ts';

export const CHECKPOINT_FORMAT = 'rmas.train-checkpoint';
const WEIGHTS_FILE = 'checkpoint.safetensors';
const STATE_FILE = 'checkpoint.json';

/** The JSON half of a checkpoint. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  /** Optimizer steps done. */
  step: number;
  /** The run's configuration (what must match to resume). */
  config: Record<string, unknown>;
  schedule: { kind: 'cosine-warmup'; baseLr: number; warmupSteps: number; totalSteps: number };
  optimizer: {
    kind: 'adamw';
    step: number;
    betas: [number, number];
    eps: number;
    weightDecay: number;
  };
  /** Where the data order is: epoch and index into that epoch's shuffled order. */
  data: { seed: number; size: number; epoch: number; index: number };
  /** State of the run's SeededRandom. */
  rng: { state: number };
  /** Loss of every optimizer step so far. */
  lossHistory: number[];
  /** Names of the trained parameters, in order. */
  params: string[];
  /** Free-form (what the caller wants to keep with the run). */
  extra?: Record<string, unknown>;
}

/** What `loadCheckpoint` returns; the caller owns the tensors. */
export interface LoadedCheckpoint {
  state: CheckpointState;
  params: Map<string, tf.Tensor>;
  m: Map<string, tf.Tensor>;
  v: Map<string, tf.Tensor>;
}

/**
 * Writes a checkpoint folder. Tensors are read, not disposed.
 *
 * @example
 * await saveCheckpoint('runs/a/step-10', state, { params, m, v });
 */
export async function saveCheckpoint(
  dir: string,
  state: CheckpointState,
  tensors: {
    params: ReadonlyMap<string, tf.Tensor>;
    m: ReadonlyMap<string, tf.Tensor>;
    v: ReadonlyMap<string, tf.Tensor>;
  },
): Promise<void> {
  const all = new Map<string, tf.Tensor>();
  for (const [name, t] of tensors.params) all.set(`param/${name}`, t);
  for (const [name, t] of tensors.m) all.set(`adamw.m/${name}`, t);
  for (const [name, t] of tensors.v) all.set(`adamw.v/${name}`, t);
  const bytes = safetensorsFromTensorsSync(all, {
    metadata: { format: 'pt', rmas: CHECKPOINT_FORMAT, step: String(state.step) },
  });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, WEIGHTS_FILE), bytes);
  await writeFile(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Reads a checkpoint folder written by `saveCheckpoint`, checking that the JSON and the weights
 * agree (every listed parameter has its weight and both moments).
 *
 * @example
 * const { state, params, m, v } = await loadCheckpoint('runs/a/step-10');
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const stateFile = join(dir, STATE_FILE);
  let state: CheckpointState;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as CheckpointState;
  } catch (cause) {
    throw new TrainError('CHECKPOINT_INVALID', `${stateFile}: cannot read the checkpoint state`, {
      cause,
    });
  }
  if (state?.format !== CHECKPOINT_FORMAT || state.version !== 1) {
    throw new TrainError(
      'CHECKPOINT_INVALID',
      `${stateFile}: format must be '${CHECKPOINT_FORMAT}' version 1, got '${state?.format}' version ${state?.version}`,
    );
  }
  const weightsFile = join(dir, WEIGHTS_FILE);
  let all: Map<string, tf.Tensor>;
  try {
    all = tensorsFromSafetensors(await readFile(weightsFile), { file: weightsFile });
  } catch (cause) {
    throw new TrainError('CHECKPOINT_INVALID', `${weightsFile}: cannot read the weights`, {
      cause,
    });
  }
  const params = new Map<string, tf.Tensor>();
  const m = new Map<string, tf.Tensor>();
  const v = new Map<string, tf.Tensor>();
  for (const [key, t] of all) {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash);
    const name = key.slice(slash + 1);
    (kind === 'param' ? params : kind === 'adamw.m' ? m : v).set(name, t);
  }
  const missing = state.params.filter((n) => !params.has(n) || !m.has(n) || !v.has(n));
  if (missing.length > 0) {
    for (const t of all.values()) t.dispose();
    throw new TrainError(
      'CHECKPOINT_INVALID',
      `${weightsFile}: missing weights or optimizer moments for ${missing.join(', ')}`,
    );
  }
  return { state, params, m, v };
}
