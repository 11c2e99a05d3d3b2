/**
 * operators/tools/: the tools the deliberation pattern's tool-caller may call while it decodes —
 * a sandboxed JavaScript evaluator and a BM25 search over local documents — and the small
 * protocol around them (`<name>input</name>` calls, `<result>…</result>` observations).
 */
export type { JavaScriptOptions, JavaScriptResult } from './javascript.ts';
export { evaluateJavaScript, javascriptTool } from './javascript.ts';
export type { Bm25Options, SearchDocument, SearchHit, SearchToolOptions } from './search.ts';
export { SearchIndex, searchTerms, searchTool } from './search.ts';
export type { Tool, ToolCall } from './tool.ts';
export { findToolCall, formatToolResult } from './tool.ts';
export type { ToolErrorCode } from './toolError.ts';
export { ToolError } from './toolError.ts';
