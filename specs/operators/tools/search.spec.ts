import { describe, expect, it } from 'vitest';
import { SearchIndex, searchTerms, searchTool, ToolError } from '../../../operators/tools/index.ts';

const docs = [
  { id: 'd1', text: 'the cat sat' },
  { id: 'd2', text: 'the dog sat on the mat' },
  { id: 'd3', text: 'cats and dogs' },
];

// BM25 by hand for the corpus above: N = 3, lengths 3, 6, 3, avgdl = 4, k1 = 1.2, b = 0.75.
const k1 = 1.2;
const tfPart = (tf: number, norm: number) => (tf * (k1 + 1)) / (tf + k1 * norm);
const norm3 = 0.25 + 0.75 * (3 / 4); // 0.8125
const norm6 = 0.25 + 0.75 * (6 / 4); // 1.375
const idfCat = Math.log(1 + 2.5 / 1.5); // n(cat) = 1
const idfSat = Math.log(1 + 1.5 / 2.5); // n(sat) = 2
const idfThe = idfSat; // n(the) = 2

describe('searchTerms', () => {
  it('lowercases runs of letters and digits, unicode included', () => {
    expect(searchTerms('Café-au-lait, 2×3! ÉTÉ')).toEqual(['café', 'au', 'lait', '2', '3', 'été']);
    expect(searchTerms('  ...  ')).toEqual([]);
  });
});

describe('SearchIndex (BM25)', () => {
  it('scores a query as computed by hand', () => {
    const hits = new SearchIndex(docs).search('cat sat', 5);
    expect(hits.map((h) => h.id)).toEqual(['d1', 'd2']);
    expect(hits[0]?.score).toBeCloseTo((idfCat + idfSat) * tfPart(1, norm3), 12);
    expect(hits[1]?.score).toBeCloseTo(idfSat * tfPart(1, norm6), 12);
  });

  it('saturates term frequency and normalises length as computed by hand', () => {
    const hits = new SearchIndex(docs).search('THE the', 5);
    expect(hits.map((h) => [h.id, h.score])).toEqual([
      ['d2', expect.closeTo(idfThe * tfPart(2, norm6), 12)],
      ['d1', expect.closeTo(idfThe * tfPart(1, norm3), 12)],
    ]);
  });

  it('honours k1 and b', () => {
    // b = 0: no length normalisation; k1 = 0: term frequency does not count.
    const flat = new SearchIndex(docs, { k1: 0, b: 0 }).search('the', 5);
    expect(flat.map((h) => [h.id, h.score])).toEqual([
      ['d1', expect.closeTo(idfThe, 12)],
      ['d2', expect.closeTo(idfThe, 12)],
    ]);
  });

  it('keeps the top k, ties in document order, and searches titles', () => {
    const index = new SearchIndex([
      { id: 'a', text: 'alpha' },
      { id: 'b', text: 'alpha' },
      { id: 'c', title: 'Alpha', text: 'beta' },
    ]);
    expect(index.search('alpha', 2).map((h) => h.id)).toEqual(['a', 'b']);
    expect(index.search('alpha', 3).map((h) => h.id)).toEqual(['a', 'b', 'c']);
    expect(index.search('alpha', 3)[2]).toMatchObject({ id: 'c', title: 'Alpha', text: 'beta' });
    expect(index.search('gamma')).toEqual([]);
    expect(new SearchIndex([]).search('anything')).toEqual([]);
  });

  it('rejects bad documents and options with typed errors', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof ToolError
          ? [error.code, error.message]
          : ['not a ToolError', String(error)];
      }
      return ['no error', ''];
    };
    expect(codeOf(() => new SearchIndex([docs[0]!, docs[0]!]))).toEqual([
      'TOOL_INVALID_INPUT',
      'search: document id "d1" appears twice',
    ]);
    expect(codeOf(() => new SearchIndex(docs, { b: 1.5 }))).toEqual([
      'TOOL_INVALID_INPUT',
      'search: option b must be in [0, 1], got 1.5',
    ]);
    expect(codeOf(() => new SearchIndex(docs).search('cat', 0))[0]).toBe('TOOL_INVALID_INPUT');
    expect(codeOf(() => new SearchIndex([{ id: 'x' } as never]))[0]).toBe('TOOL_INVALID_INPUT');
  });
});

describe('searchTool', () => {
  it('shows the best passages, truncated, for a <search> call', async () => {
    const tool = searchTool(
      [
        {
          id: 'paris',
          title: 'Paris',
          text: 'Paris is the capital of France and its largest city.',
        },
        { id: 'lyon', text: 'Lyon is a city in France.' },
      ],
      { topK: 1, maxCharsPerHit: 20 },
    );
    expect(tool.name).toBe('search');
    expect(await tool.run('capital of France')).toBe('[1] Paris (paris)\nParis is the capital…');
    expect(await tool.run('Tokyo')).toBe('No document matches the query.');
  });
});
