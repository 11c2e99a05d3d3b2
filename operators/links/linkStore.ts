/**
 * Saving and loading links: the weights as safetensors under the official state-dict names and
 * torch layout (linear weights [out, in]), and a JSON manifest that says what the weights are.
 *
 * On disk, for `saveLink(link, 'ckpt/outer_12')`:
 *   ckpt/outer_12.safetensors   proj1.weight, proj1.bias, ..., ln_target.bias
 *   ckpt/outer_12.json          { "format": "rmas.recursive-link", "kind": "outer",
 *                                 "variant": "outer_ln_res_adapter", "in_dim": 96, "out_dim": 192, ... }
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, safetensorsFromTensorsSync } from '../../models/safetensors.ts';
import { OperatorError } from '../errors.ts';
import {
  createRecursiveLink,
  type LinkKind,
  normalizeLinkVariant,
  type RecursiveLink,
} from './recursiveLink.ts';

export const LINK_MANIFEST_FORMAT = 'rmas.recursive-link';

export interface LinkManifest {
  format: typeof LINK_MANIFEST_FORMAT;
  version: 1;
  kind: LinkKind;
  /** The official training code's `adapter_type`. */
  variant: string;
  in_dim: number;
  out_dim: number;
  hidden_dim: number;
  layer_norm_eps: number;
  /** Always exact-erf GELU (torch nn.GELU default). */
  activation: 'gelu';
  /** The weights file, relative to the manifest. */
  weights: string;
}

/** Linear weights are held [in, out]; files hold torch's [out, in]. */
function isLinearWeight(name: string): boolean {
  return /^(proj1|proj2|residual_proj)\.weight$/.test(name);
}

/**
 * The manifest and safetensors bytes of a link (no files touched).
 *
 * @example const { manifest, weights } = serializeLink(inner, 'inner.safetensors');
 */
export function serializeLink(
  link: RecursiveLink,
  weightsFile = 'link.safetensors',
): { manifest: LinkManifest; weights: Uint8Array } {
  const manifest: LinkManifest = {
    format: LINK_MANIFEST_FORMAT,
    version: 1,
    kind: link.kind,
    variant: link.variant,
    in_dim: link.inDim,
    out_dim: link.outDim,
    hidden_dim: link.hiddenDim,
    layer_norm_eps: link.layerNormEps,
    activation: 'gelu',
    weights: weightsFile,
  };
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, v] of link.namedParameters()) {
    tensors.set(name, isLinearWeight(name) ? tf.transpose(v) : v);
  }
  try {
    const weights = safetensorsFromTensorsSync(tensors, {
      metadata: { format: 'pt', rmas_link: JSON.stringify({ ...manifest, weights: undefined }) },
    });
    return { manifest, weights };
  } finally {
    for (const [name, t] of tensors) if (isLinearWeight(name)) t.dispose();
  }
}

function checkManifest(value: unknown, where: string): LinkManifest {
  const m = value as Partial<LinkManifest> | null;
  const fail = (what: string): never => {
    throw new OperatorError('LINK_MANIFEST_INVALID', `${where}: ${what}`);
  };
  if (m === null || typeof m !== 'object') return fail('not a JSON object');
  if (m.format !== LINK_MANIFEST_FORMAT) fail(`format must be '${LINK_MANIFEST_FORMAT}'`);
  if (m.kind !== 'inner' && m.kind !== 'outer') fail(`kind must be 'inner' or 'outer'`);
  for (const field of ['in_dim', 'out_dim', 'hidden_dim'] as const) {
    const v = m[field];
    if (!Number.isInteger(v) || (v as number) <= 0) fail(`${field} must be a positive integer`);
  }
  if (typeof m.variant !== 'string') fail('variant must be a string');
  return m as LinkManifest;
}

/**
 * Builds a link from a manifest and safetensors bytes; every expected tensor must be present
 * with the expected shape, and nothing else.
 *
 * @example const link = deserializeLink(manifest, bytes);
 */
export function deserializeLink(
  manifestValue: unknown,
  weights: Uint8Array,
  options: { trainable?: boolean; where?: string } = {},
): RecursiveLink {
  const where = options.where ?? 'link';
  const manifest = checkManifest(manifestValue, where);
  const link = createRecursiveLink({
    kind: manifest.kind,
    variant: normalizeLinkVariant(manifest.kind, manifest.variant),
    inDim: manifest.in_dim,
    outDim: manifest.out_dim,
    hiddenDim: manifest.hidden_dim,
    layerNormEps: manifest.layer_norm_eps,
    init: 'zeros',
    trainable: options.trainable ?? true,
  });
  try {
    const { tensors } = readSafetensors(weights, { file: where });
    const expected = link.namedParameters();
    const extra = [...tensors.keys()].filter((k) => !expected.has(k));
    if (extra.length > 0) {
      throw new OperatorError(
        'LINK_WEIGHTS_INVALID',
        `${where}: unexpected tensors for ${link.variant}: ${extra.join(', ')}`,
      );
    }
    for (const [name, variable] of expected) {
      const stored = tensors.get(name);
      if (stored === undefined) {
        throw new OperatorError('LINK_WEIGHTS_INVALID', `${where}: missing tensor '${name}'`);
      }
      const shape = isLinearWeight(name) ? [...variable.shape].reverse() : variable.shape;
      if (stored.shape.join(',') !== shape.join(',')) {
        throw new OperatorError(
          'LINK_WEIGHTS_INVALID',
          `${where}: '${name}' has shape [${stored.shape}], expected [${shape}]`,
        );
      }
      tf.tidy(() => {
        const t = tf.tensor(stored.data, stored.shape, 'float32');
        variable.assign(isLinearWeight(name) ? tf.transpose(t) : t);
      });
    }
    return link;
  } catch (error) {
    link.dispose();
    throw error;
  }
}

/**
 * Writes `<path>.safetensors` and `<path>.json`.
 *
 * @example await saveLink(outer12, 'checkpoints/outer_12');
 */
export async function saveLink(link: RecursiveLink, path: string): Promise<void> {
  const name = basename(path);
  const { manifest, weights } = serializeLink(link, `${name}.safetensors`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.safetensors`, weights);
  await writeFile(`${path}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Reads `<path>.json` and the weights file it names.
 *
 * @example const outer12 = await loadLink('checkpoints/outer_12');
 */
export async function loadLink(
  path: string,
  options: { trainable?: boolean } = {},
): Promise<RecursiveLink> {
  const manifestPath = path.endsWith('.json') ? path : `${path}.json`;
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (cause) {
    throw new OperatorError('LINK_MANIFEST_INVALID', `${manifestPath}: cannot read JSON`, {
      cause,
    });
  }
  const checked = checkManifest(manifest, manifestPath);
  const weightsPath = `${dirname(manifestPath)}/${checked.weights}`;
  const weights = new Uint8Array(await readFile(weightsPath));
  return deserializeLink(checked, weights, { ...options, where: weightsPath });
}
