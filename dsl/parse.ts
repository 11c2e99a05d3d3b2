import type { TopologyIR } from './ir.ts';
import type { Issue } from './issues.ts';
import { checkShape, validate } from './validate.ts';

export type ParseResult = { ok: true; ir: TopologyIR; issues: [] } | { ok: false; issues: Issue[] };

/**
 * Reads a topology IR from JSON text or a parsed JSON value: the version, then the shape (zod;
 * left-out optional fields get their defaults), then everything `validate` checks. Never throws.
 * @example
 * const result = parseIR(readFileSync('topology.json', 'utf8'));
 * if (!result.ok) for (const i of result.issues) console.error(i.code, i.path, i.message);
 */
export function parseIR(json: unknown): ParseResult {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (error) {
      const message = `not JSON: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, issues: [{ code: 'invalid-shape', path: [], message }] };
    }
  }
  const shape = checkShape(value);
  if (!shape.ok) return { ok: false, issues: shape.issues };
  const issues = validate(shape.ir);
  return issues.length === 0 ? { ok: true, ir: shape.ir, issues: [] } : { ok: false, issues };
}
