/** What every `loupe` command shares: its output streams, argument parsing, logging. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LoupeError, type Logger } from '../core/types.js';

/** Where a command writes: lines to stdout and stderr (tests capture them). */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  isTTY?: boolean;
}

/**
 * Parses a command's arguments; on a parse error prints the message and the command's usage and
 * returns null (the command then exits with 2).
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, usage: string, io: CliIo): ReturnType<typeof parseArgs<T>> | null {
  try {
    return parseArgs(config);
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${usage}`);
    return null;
  }
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
