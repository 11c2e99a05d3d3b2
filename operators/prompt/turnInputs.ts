/**
 * From turn requests to the per-request input embeddings of one agent: text slots filled with
 * their text (text baseline), latent slots spliced (RecursiveMAS); per-request failures are kept
 * apart so the rest of the batch goes on.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Agent } from '../../models/types.ts';
import { type ErrorRecord, errorRecord, type TurnRequest } from '../messages.ts';
import { fillTextSlots, spliceLatents, splitPromptAtSlots } from './splice.ts';

export interface PreparedTurn {
  request: TurnRequest;
  /** [t, d] prefix ⊕ latents ⊕ suffix. Owned by the caller of prepareTurns. */
  embeds: tf.Tensor2D;
  textTokens: number;
  latentInputs: number;
}

/**
 * @example const prepared = prepareTurns(critic, requests); // PreparedTurn | ErrorRecord per request
 */
export function prepareTurns(
  agent: Agent,
  requests: readonly TurnRequest[],
): Array<PreparedTurn | ErrorRecord> {
  return requests.map((request) => {
    try {
      const messages = fillTextSlots(request.messages, request.texts);
      const prompt = splitPromptAtSlots(agent.tokenizer, messages);
      const embeds = spliceLatents(agent.model, prompt, request.latents);
      return {
        request,
        embeds,
        textTokens: prompt.textTokens,
        latentInputs: embeds.shape[0] - prompt.textTokens,
      };
    } catch (error) {
      return errorRecord(request, agent.name, error);
    }
  });
}
