/**
 * Search over a local document set (the deliberation pattern's search tool; the paper calls a web
 * search API, we never leave the machine). Okapi BM25 with Lucene's non-negative IDF:
 *   score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
 *   idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
 * Terms are lowercased runs of letters and digits (NFKC); each distinct query term counts once.
 */
import type { Tool } from './tool.ts';
import { checkOption } from './tool.ts';
import { ToolError } from './toolError.ts';

export interface SearchDocument {
  id: string;
  text: string;
  title?: string;
}

export interface SearchHit {
  id: string;
  score: number;
  title?: string;
  text: string;
}

export interface Bm25Options {
  /** Term-frequency saturation. Default 1.2. */
  k1?: number;
  /** Length normalisation, in [0, 1]. Default 0.75. */
  b?: number;
}

/**
 * Splits text into search terms.
 * @example searchTerms('Café-au-lait, 2×3!') // ['café', 'au', 'lait', '2', '3']
 */
export function searchTerms(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

interface Posting {
  doc: number;
  tf: number;
}

/** A BM25 index over a fixed set of documents (titles are searched with the text). */
export class SearchIndex {
  readonly #documents: readonly SearchDocument[];
  readonly #postings = new Map<string, Posting[]>();
  readonly #lengths: number[];
  readonly #averageLength: number;
  readonly #k1: number;
  readonly #b: number;

  /**
   * @example
   * const index = new SearchIndex([{ id: 'paris', text: 'Paris is the capital of France.' }]);
   * index.search('capital of France', 3); // [{ id: 'paris', score: …, text: … }]
   */
  constructor(documents: readonly SearchDocument[], options: Bm25Options = {}) {
    this.#k1 = options.k1 ?? 1.2;
    this.#b = options.b ?? 0.75;
    checkOption('search', 'k1', this.#k1, 0);
    checkOption('search', 'b', this.#b, 0, 1);
    const ids = new Set<string>();
    documents.forEach((doc, i) => {
      if (typeof doc?.id !== 'string' || typeof doc.text !== 'string') {
        throw new ToolError(
          'TOOL_INVALID_INPUT',
          `search: document ${i} needs a string id and text`,
        );
      }
      if (ids.has(doc.id))
        throw new ToolError('TOOL_INVALID_INPUT', `search: document id "${doc.id}" appears twice`);
      ids.add(doc.id);
    });
    this.#documents = documents.map((doc) => ({ ...doc }));
    this.#lengths = this.#documents.map((doc, i) => {
      const terms = searchTerms(doc.title === undefined ? doc.text : `${doc.title} ${doc.text}`);
      const counts = new Map<string, number>();
      for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
      for (const [term, tf] of counts) {
        const list = this.#postings.get(term) ?? [];
        list.push({ doc: i, tf });
        this.#postings.set(term, list);
      }
      return terms.length;
    });
    const total = this.#lengths.reduce((sum, length) => sum + length, 0);
    this.#averageLength = this.#documents.length === 0 ? 0 : total / this.#documents.length;
  }

  get size(): number {
    return this.#documents.length;
  }

  /** The `topK` best documents for a query, best first; ties keep document order; no zero scores. */
  search(query: string, topK = 5): SearchHit[] {
    if (typeof query !== 'string')
      throw new ToolError('TOOL_INVALID_INPUT', 'search: the query must be a string');
    if (!(Number.isInteger(topK) && topK >= 1)) {
      throw new ToolError(
        'TOOL_INVALID_INPUT',
        `search: topK must be an integer >= 1, got ${topK}`,
      );
    }
    const n = this.#documents.length;
    const scores = new Map<number, number>();
    for (const term of new Set(searchTerms(query))) {
      const postings = this.#postings.get(term);
      if (postings === undefined) continue;
      const idf = Math.log(1 + (n - postings.length + 0.5) / (postings.length + 0.5));
      for (const { doc, tf } of postings) {
        const norm = 1 - this.#b + (this.#b * this.#lengths[doc]!) / this.#averageLength;
        scores.set(
          doc,
          (scores.get(doc) ?? 0) + (idf * tf * (this.#k1 + 1)) / (tf + this.#k1 * norm),
        );
      }
    }
    return [...scores]
      .filter(([, score]) => score > 0)
      .sort(([docA, a], [docB, b]) => b - a || docA - docB)
      .slice(0, topK)
      .map(([doc, score]) => {
        const { id, title, text } = this.#documents[doc]!;
        return title === undefined ? { id, score, text } : { id, score, title, text };
      });
  }
}

export interface SearchToolOptions extends Bm25Options {
  /** Hits shown per call. Default 3. */
  topK?: number;
  /** Characters of each hit's text shown. Default 500. */
  maxCharsPerHit?: number;
}

/**
 * The search as a tool: the model writes `<search>query</search>` and reads the best passages.
 * @example
 * const search = searchTool([{ id: 'a', title: 'Paris', text: 'Paris is the capital of France.' }]);
 * await search.run('capital of France'); // '[1] Paris (a)\nParis is the capital of France.'
 */
export function searchTool(
  documents: readonly SearchDocument[],
  options: SearchToolOptions = {},
): Tool {
  const index = new SearchIndex(documents, options);
  const topK = options.topK ?? 3;
  const maxChars = options.maxCharsPerHit ?? 500;
  checkOption('search', 'topK', topK, 1);
  checkOption('search', 'maxCharsPerHit', maxChars, 1);
  return {
    name: 'search',
    description: `<search>query</search> searches ${index.size} local documents and shows the best ${topK}`,
    async run(input: string): Promise<string> {
      const hits = index.search(input, topK);
      if (hits.length === 0) return 'No document matches the query.';
      return hits
        .map((hit, i) => {
          const text = hit.text.length > maxChars ? `${hit.text.slice(0, maxChars)}…` : hit.text;
          return `[${i + 1}] ${hit.title ?? hit.id} (${hit.id})\n${text}`;
        })
        .join('\n\n');
    },
  };
}
