/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json + chat template), run by
 * `@huggingface/tokenizers` and `@huggingface/jinja`, behind the Tokenizer contract.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer as HFTokenizerJs } from '@huggingface/tokenizers';
import { ModelError } from './errors.ts';
import type { ChatMessage, Tokenizer } from './types.ts';

/** The parsed files a tokenizer is built from (kept so the tokenizer can be saved again). */
export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json (may be empty). */
  tokenizerConfig: Record<string, unknown>;
  /** chat_template.jinja, or `chat_template` from tokenizer_config.json. */
  chatTemplate?: string;
}

/** Special-token fields of tokenizer_config.json that chat templates may use. */
const SPECIAL_TOKEN_FIELDS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;

export class HFTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenIds: number[];
  readonly padTokenId: number;
  readonly bosTokenId: number | undefined;
  private readonly tokenizer: HFTokenizerJs;
  private readonly specialTokens: Record<string, string> = {};
  private template: Template | undefined;

  /**
   * @param extra.eosTokenIds more stop ids (from config.json / generation_config.json), added after
   *   the tokenizer's own `eos_token`.
   *
   * @example
   * const tokenizer = new HFTokenizer({ tokenizerJson, tokenizerConfig, chatTemplate });
   * tokenizer.encode('Hello world'); // [9707, 1879]
   */
  constructor(
    readonly files: TokenizerFiles,
    extra: { eosTokenIds?: number[]; padTokenId?: number; file?: string } = {},
  ) {
    const file = extra.file ?? 'tokenizer.json';
    // Older tokenizer_config.json files store special tokens as objects; the library wants strings.
    const config: Record<string, unknown> = { ...files.tokenizerConfig };
    for (const field of SPECIAL_TOKEN_FIELDS) {
      const token = specialTokenContent(config[field]);
      if (token === undefined) delete config[field];
      else config[field] = token;
    }
    try {
      this.tokenizer = new HFTokenizerJs(files.tokenizerJson, config);
    } catch (cause) {
      throw new ModelError(
        'INVALID_CONFIG',
        `cannot build the tokenizer: ${(cause as Error).message}`,
        {
          file,
          cause,
        },
      );
    }
    for (const field of SPECIAL_TOKEN_FIELDS) {
      const token = specialTokenContent(files.tokenizerConfig[field]);
      if (token !== undefined) this.specialTokens[field] = token;
    }
    this.vocabSize = this.tokenizer.get_vocab(true).size;
    const idOf = (field: (typeof SPECIAL_TOKEN_FIELDS)[number]) => {
      const token = this.specialTokens[field];
      return token === undefined ? undefined : this.tokenizer.token_to_id(token);
    };
    const eos = idOf('eos_token');
    this.eosTokenIds = [
      ...new Set([...(eos === undefined ? [] : [eos]), ...(extra.eosTokenIds ?? [])]),
    ];
    this.bosTokenId = idOf('bos_token');
    this.padTokenId = idOf('pad_token') ?? extra.padTokenId ?? this.eosTokenIds[0] ?? 0;
  }

  /**
   * Token ids of `text`; special tokens (such as a leading `<s>`) are added unless
   * `addSpecialTokens` is false, as in transformers.
   */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true })
      .ids;
  }

  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** The id of a token string (special or not), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /**
   * Renders the chat template with the variables transformers passes: `messages`,
   * `add_generation_prompt` and the special tokens (`bos_token`, `eos_token`, ...).
   *
   * @example
   * tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }]); // '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'
   */
  applyChatTemplate(
    messages: ChatMessage[],
    options: { addGenerationPrompt?: boolean } = {},
  ): string {
    if (this.files.chatTemplate === undefined) {
      throw new ModelError('MISSING_FILE', 'this tokenizer has no chat template', {
        file: 'chat_template.jinja',
        field: 'chat_template',
      });
    }
    this.template ??= new Template(this.files.chatTemplate);
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
      ...this.specialTokens,
    });
  }
}

/** tokenizer_config.json stores special tokens as a string or as `{ content: string, ... }`. */
function specialTokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}
