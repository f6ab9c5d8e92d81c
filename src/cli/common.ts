/** What every `loupe` command shares: its output streams, argument parsing, logging. */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveModelArg } from '../core/models/manager.js';
import type { OpenParams } from '../core/protocol.js';
import { LoupeError, type Logger } from '../core/types.js';

/** Where a command writes: lines to stdout and stderr (tests capture them). */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  isTTY?: boolean;
}

/**
 * Parses a command's arguments; on a parse error prints one line (what is wrong, where the help is)
 * and returns null (the command then exits with 2). `name` is the command as the user typed it
 * (`loupe search`); without it the first command in `usage` is used.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(
  config: T,
  usage: string,
  io: CliIo,
  name?: string,
): ReturnType<typeof parseArgs<T>> | null {
  const cmd = name ?? /loupe(?: [a-z]+)?/.exec(usage)?.[0] ?? 'loupe';
  try {
    return parseArgs({ ...config, args: config.args && joinNegativeValues(config.args, config.options ?? {}) } as T);
  } catch (e) {
    io.err(`${cmd}: ${parseErrorLine(e as Error & { code?: string })}; \`${cmd} --help\` lists the options`);
    return null;
  }
}

/**
 * `-k -3` reads to Node's parser as two options ("argument is ambiguous"); a string option followed
 * by something shaped like a negative number takes it as its value, so the option's own check can
 * say what is wrong with it ("-k must be a positive integer, got -3").
 */
function joinNegativeValues(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const stringOpts = new Set<string>();
  for (const [long, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    stringOpts.add(`--${long}`);
    if (o.short) stringOpts.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    if (stringOpts.has(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Node's parseArgs messages, reworded to one line. */
function parseErrorLine(e: Error & { code?: string }): string {
  const opt = /Option '([^' ]+)/.exec(e.message)?.[1] ?? /option '([^' ]+)/i.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt ?? e.message.split('.')[0]}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (opt && /argument missing|ambiguous/.test(e.message)) return `${opt} needs a value`;
      if (opt && /does not take an argument/.test(e.message)) return `${opt} takes no value`;
      return e.message.split('\n')[0];
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument${/'([^']+)'/.exec(e.message)?.[1] ? ` ${/'([^']+)'/.exec(e.message)![1]}` : ''}`;
    default:
      return e.message.split('\n')[0];
  }
}

/** The options of every command that opens an engine (`loupe index|search|status|serve`, `loupe mcp`). */
export const ENGINE_OPTIONS = {
  model: { type: 'string' },
  dims: { type: 'string' },
  backend: { type: 'string' },
  store: { type: 'string' },
  cpu: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** What ENGINE_OPTIONS parse to. */
export interface EngineOptionValues {
  model?: string;
  dims?: string;
  backend?: string;
  store?: string;
  cpu?: boolean;
}

/** The one-line error for a bad `--backend`, or null. */
export function backendError(v: EngineOptionValues, cmd: string): string | null {
  return v.backend !== undefined && !['auto', 'onnx', 'llama'].includes(v.backend) ? `${cmd}: --backend must be auto, onnx or llama` : null;
}

/** The engine settings ENGINE_OPTIONS give (throws a `bad-args` error for a bad `--dims` or `--model`). */
export function engineSettings(v: EngineOptionValues): Pick<OpenParams, 'storeDir' | 'modelPath' | 'dimensions' | 'backend' | 'gpu'> {
  return {
    storeDir: v.store ? path.resolve(v.store) : undefined,
    modelPath: v.model ? resolveModelArg(v.model) : undefined,
    dimensions: v.dims ? posInt(v.dims, '--dims') : undefined,
    backend: v.backend === 'onnx' || v.backend === 'llama' ? v.backend : 'auto',
    gpu: v.cpu ? false : 'auto',
  };
}

/** A usage mistake (exit code 2): a missing or malformed argument, an unknown command or option. */
export function usageError(message: string): LoupeError {
  return new LoupeError(message, 'usage');
}

/** The exit code for an error a command reports: 2 for usage mistakes, 1 for everything else. */
export function exitCodeOf(e: unknown): number {
  return e instanceof LoupeError && (e.code === 'usage' || e.code === 'bad-args') ? 2 : 1;
}

/**
 * The project folder a command works on, resolved; a missing path or a file is a usage error that
 * names what was given (checked before anything opens or creates an index).
 */
export function projectFolder(dir: string, cmd: string): string {
  const abs = path.resolve(dir);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw usageError(`${cmd}: no such folder: ${abs}`);
  }
  if (!st.isDirectory()) throw usageError(`${cmd}: ${abs} is a file; give the project folder (e.g. ${path.dirname(abs)})`);
  return abs;
}

/** Whether an index exists in `storeDir` (a manifest was written); checked without creating anything. */
export function hasIndex(storeDir: string): boolean {
  return existsSync(path.join(storeDir, 'manifest.json'));
}

/** A positive integer option, or undefined when absent; anything else is a `bad-args` error. */
export function posInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new LoupeError(`${name} must be a positive integer, got ${v}`, 'bad-args');
  return n;
}

/** Logs to stderr with a level prefix; info and debug only when verbose. */
export function stderrLogger(verbose: boolean, io: CliIo): Logger {
  return {
    info: (m) => verbose && io.err(`[info] ${m}`),
    debug: (m) => verbose && io.err(`[debug] ${m}`),
    warn: (m) => io.err(`[warn] ${m}`),
    error: (m) => io.err(`[error] ${m}`),
  };
}
