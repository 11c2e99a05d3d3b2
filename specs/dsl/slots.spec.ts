import { describe, expect, it } from 'vitest';
import { hasMalformedSlot, isKnownSlot, promptSegments, promptSlots } from '../../dsl/slots.ts';

describe('prompt slots', () => {
  it('splits a prompt into text and slots, in order', () => {
    expect(promptSegments('Q: {{question}}\nPlan: {{latent:planner}}.')).toEqual([
      { text: 'Q: ' },
      { slot: 'question' },
      { text: '\nPlan: ' },
      { slot: 'latent:planner' },
      { text: '.' },
    ]);
  });

  it('handles prompts that start or end with a slot, adjacent slots, and no slots', () => {
    expect(promptSegments('{{feedback}}{{question}}')).toEqual([
      { slot: 'feedback' },
      { slot: 'question' },
    ]);
    expect(promptSegments('plain')).toEqual([{ text: 'plain' }]);
    expect(promptSegments('')).toEqual([]);
  });

  it('lists each slot once, in order of first appearance', () => {
    expect(promptSlots('{{question}} {{feedback}} {{question}} {{latent:a-b_1}}')).toEqual([
      'question',
      'feedback',
      'latent:a-b_1',
    ]);
  });

  it('knows the grammar', () => {
    expect(['question', 'feedback', 'latent:x', 'latent:_a-1'].map(isKnownSlot)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['answer', 'latent:', 'latent:1x', 'latent:a b', 'Question'].map(isKnownSlot)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('finds braces that open or close no slot', () => {
    expect(hasMalformedSlot('{{question}} and {{latent:a')).toBe(true);
    expect(hasMalformedSlot('a }} b')).toBe(true);
    expect(hasMalformedSlot('{{question}} {single}')).toBe(false);
  });
});
