/**
 * Loupe for agents inside VS Code: a language-model tool (`loupe_search`, for Copilot agent mode
 * and other chat participants) that searches the workspace's index through the extension's own
 * engine sessions, and an MCP server definition (`loupe mcp` on each folder's shared engine) so
 * VS Code lists Loupe's MCP server. Nothing is offered in Restricted Mode, and hosts whose
 * `vscode.lm` lacks these APIs get neither (no error).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { fitHits, hitsText } from '../core/agent-format.js';
import { mergeResults } from './passages.js';
import type { Loupe } from './loupe.js';
import { readFileSync } from 'node:fs';

/** The tool's name (package.json `contributes.languageModelTools`). */
export const SEARCH_TOOL = 'loupe_search';
/** The MCP server definition provider's id (package.json `contributes.mcpServerDefinitionProviders`). */
export const MCP_PROVIDER = 'loupe.mcpServers';

interface SearchInput {
  query: string;
  k?: number;
  max_tokens?: number;
}

/** Which of these APIs this host has (older VS Code, code-server builds without chat). */
export function agentApis(): { tool: boolean; mcp: boolean } {
  const lm = (vscode as Partial<typeof vscode>).lm as Partial<typeof vscode.lm> | undefined;
  return {
    tool: typeof lm?.registerTool === 'function',
    mcp: typeof lm?.registerMcpServerDefinitionProvider === 'function' && typeof vscode.McpStdioServerDefinition === 'function',
  };
}

/** Registers the tool and the MCP provider where the host supports them; call only in a trusted workspace. */
export function registerAgentTools(loupe: Loupe): vscode.Disposable[] {
  const apis = agentApis();
  const out: vscode.Disposable[] = [];
  if (apis.tool) out.push(vscode.lm.registerTool<SearchInput>(SEARCH_TOOL, new SearchTool(loupe)));
  else loupe.log.info('this VS Code has no language-model tool API: the Loupe search tool is not offered to chat');
  if (apis.mcp) {
    const changed = new vscode.EventEmitter<void>();
    out.push(
      changed,
      vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER, {
        onDidChangeMcpServerDefinitions: changed.event,
        provideMcpServerDefinitions: () => mcpDefinitions(loupe),
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => changed.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('loupe')) changed.fire();
      }),
    );
  } else
    loupe.log.info(
      "this VS Code has no MCP server definition API: Loupe's MCP server is not listed (docs/agents.md shows .vscode/mcp.json)",
    );
  // One line the e2e suite (and a user reading the log) can check.
  loupe.log.info(
    `offered to agents: ${[apis.tool && `language-model tool ${SEARCH_TOOL}`, apis.mcp && `MCP server definitions (${MCP_PROVIDER})`].filter(Boolean).join(', ') || 'nothing (no vscode.lm API here)'}`,
  );
  return out;
}

/**
 * One `loupe mcp` per workspace folder, on the same index (and so the same shared engine) as this
 * window: the bundled CLI run by VS Code's own Node (Electron as Node).
 */
export function mcpDefinitions(loupe: Loupe): vscode.McpStdioServerDefinition[] {
  if (!vscode.workspace.isTrusted) return [];
  const cli = path.join(loupe.context.extensionPath, 'dist', 'cli.mjs');
  const version = String(loupe.context.extension.packageJSON.version ?? '');
  return (vscode.workspace.workspaceFolders ?? []).map((f) => {
    const root = f.uri.fsPath;
    const args = [cli, 'mcp', root];
    const store = loupe.storeDirFor(root);
    if (store) args.push('--store', store);
    if (loupe.settings.embeddingModel) args.push('--model', loupe.settings.embeddingModel);
    if (loupe.settings.embeddingBackend !== 'auto') args.push('--backend', loupe.settings.embeddingBackend);
    if (loupe.settings.computeDevice === 'cpu') args.push('--cpu');
    const label = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `Loupe: ${f.name}` : 'Loupe';
    return new vscode.McpStdioServerDefinition(label, process.execPath, args, { ELECTRON_RUN_AS_NODE: '1' }, version);
  });
}

/** `loupe_search`: semantic search on the workspace's index, results with code, within a token budget. */
class SearchTool implements vscode.LanguageModelTool<SearchInput> {
  constructor(private readonly loupe: Loupe) {}

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<SearchInput>): vscode.PreparedToolInvocation {
    return { invocationMessage: `Searching the code for “${options.input.query}”` };
  }

  async invoke(
    options: vscode.LanguageModelToolInvocationOptions<SearchInput>,
    token: vscode.CancellationToken,
  ): Promise<vscode.LanguageModelToolResult> {
    const why = this.loupe.blockedReason();
    if (why) throw new Error(why);
    const query = String(options.input?.query ?? '').trim();
    if (!query) throw new Error('loupe_search needs a query: what the code does, in plain words.');
    const k = clampInt(options.input.k, 1, 50, 8);
    const maxTokens = clampInt(
      options.input.max_tokens,
      50,
      50_000,
      options.tokenizationOptions?.tokenBudget ? Math.min(4000, options.tokenizationOptions.tokenBudget) : 2000,
    );
    const sessions = [...this.loupe.sessions.values()].filter((s) => !s.openError);
    if (!sessions.length) throw new Error('The Loupe engine is not running for this workspace; see Loupe: Show logs.');
    // Marks an agent as active for the engine's compute scheduler (it backs indexing off).
    const lists = await Promise.all(
      sessions.map((s) =>
        s.search(query, k, 'vscode-chat').catch((e) => {
          this.loupe.log.warn(`[${s.name}] tool search failed: ${(e as Error).message}`);
          return [];
        }),
      ),
    );
    if (token.isCancellationRequested) throw new vscode.CancellationError();
    const hits = mergeResults(lists, k);
    const multi = sessions.length > 1;
    const byPath = new Map(hits.map((h) => [multi ? `${h.rootName}/${h.path}` : h.path, h]));
    const results = hits.map((h) => ({ ...h, path: multi ? `${h.rootName}/${h.path}` : h.path }));
    const fit = fitHits(
      results,
      (p) => {
        const h = byPath.get(p);
        if (!h) return null;
        try {
          return readFileSync(path.join(h.root, ...h.path.split('/')), 'utf8').split(/\r?\n/);
        } catch {
          return null;
        }
      },
      maxTokens,
    );
    const coverage = this.loupe.coverage();
    const text = fit.hits.length
      ? `${hitsText(fit.hits)}${fit.dropped ? `\n(${fit.dropped} more left out to stay within ${maxTokens} tokens)` : ''}${coverage ? `\n\n${coverage}` : ''}`
      : `No matches.${coverage ? ` ${coverage}` : ''}`;
    return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
  }
}

function clampInt(v: unknown, min: number, max: number, dflt: number): number {
  const n = typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : dflt;
  return Math.min(max, Math.max(min, n));
}
