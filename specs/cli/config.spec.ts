import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../cli/config.ts';
import { CliError } from '../../cli/errors.ts';
import { mixture, sequential, toIR } from '../../dsl/index.ts';

const planner = { model: 'tiny-planner-96', hiddenSize: 96, latentSteps: 8 };
const critic = { model: 'tiny-critic-128', hiddenSize: 128, latentSteps: 8 };
const solver = { model: 'tiny-solver-192', hiddenSize: 192, latentSteps: 8 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rmas-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function configError(path: string): Promise<CliError> {
  const error = await loadConfig(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('loadConfig', () => {
  it('reads the YAML example as the IR the sequential pattern builds', async () => {
    const { ir, run } = await loadConfig('cli/examples/sequential.yaml');
    const built = sequential({
      planner,
      critic,
      solver,
      rounds: { max: 3 },
      decode: { maxNewTokens: 24 },
    });
    expect(ir).toEqual(toIR(built));
    expect(run).toEqual({});
  });

  it('reads the JSON example as the IR the mixture pattern builds', async () => {
    const { ir } = await loadConfig('cli/examples/mixture.json');
    const built = mixture({
      specialists: { math: planner, code: critic },
      summarizer: solver,
      rounds: { max: 2 },
      decode: { maxNewTokens: 24 },
    });
    expect(ir).toEqual(toIR(built));
  });

  it('unwraps { topology, run }, with the topology in another file', async () => {
    const wrapped = await loadConfig('cli/examples/text-baseline.yaml');
    const bare = await loadConfig('cli/examples/sequential.yaml');
    expect(wrapped.ir).toEqual(bare.ir);
    expect(wrapped.run).toEqual({ mode: 'text', seed: 1, maxBatchSize: 4 });
  });

  it('resolves model folders and links from the config file, not the working directory', async () => {
    const path = await file(
      'local.json',
      JSON.stringify({
        topology: {
          version: 1,
          agents: [
            { name: 'a', model: { path: './models/a' }, hiddenSize: 8, prompt: '{{question}}' },
            { name: 'b', model: { path: '/abs/b' }, hiddenSize: 8, prompt: '{{latent:a}}' },
          ],
          edges: [{ from: 'a', to: 'b' }],
          decode: { agent: 'b' },
        },
        run: { links: 'trained' },
      }),
    );
    const config = await loadConfig(path);
    expect(config.ir.agents.map((a) => a.model)).toEqual([
      { path: './models/a' },
      { path: '/abs/b' },
    ]);
    expect(config.resolvedIR.agents.map((a) => a.model)).toEqual([
      { path: join(dir, 'models/a') },
      { path: '/abs/b' },
    ]);
    expect(config.run.links).toBe(join(dir, 'trained'));
  });

  it('names the file when it does not exist', async () => {
    const error = await configError(join(dir, 'missing.yaml'));
    expect(error.code).toBe('CONFIG');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('missing.yaml');
  });

  it('gives the line of a YAML syntax error', async () => {
    const path = await file('broken.yaml', 'version: 1\nagents:\n  - name: a\n   model: x\n');
    const error = await configError(path);
    expect(error.message).toMatch(/broken\.yaml:\d+:\d+: not valid YAML/);
  });

  it('says which JSON file is not JSON', async () => {
    const path = await file('broken.json', '{"version": 1,');
    const error = await configError(path);
    expect(error.message).toContain('broken.json: not valid JSON');
  });

  it('lists every issue with its field path, prefixed by topology. in a wrapped file', async () => {
    const path = await file(
      'invalid.yaml',
      [
        'topology:',
        '  version: 1',
        '  agents:',
        '    - { name: a, model: { preset: p }, hiddenSize: 0, prompt: "{{question}}" }',
        '  decode: { agent: z }',
      ].join('\n'),
    );
    const error = await configError(path);
    expect(error.message).toContain('topology.agents[0].hiddenSize');
    expect(error.message).toContain('topology.decode.agent');
    expect(error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          code: 'invalid-hidden-size',
          path: ['topology', 'agents', 0, 'hiddenSize'],
        }),
      ]),
    );
  });

  it('rejects an unknown run setting by name', async () => {
    const path = await file(
      'unknown-run.yaml',
      'topology: ./does-not-matter.json\nrun:\n  mdoe: text\n',
    );
    const error = await configError(path);
    expect(error.message).toContain('unknown-run.yaml: run');
    expect(error.message).toContain('mdoe');
  });
});
