import { CATALOG, CHAT_CATALOG, chatDownloadUrl, ModelManager } from '../core/models/manager.js';
import { LoupeError } from '../core/types.js';
import { parseCommandArgs, type CliIo } from './common.js';

const USAGE = `Usage:
  loupe models list [--json]                 recommended embedding and answer (chat) models, and which are installed
  loupe models install <id> [--dir <folder>] download (or resume) one; verified by sha256
  loupe models install <id> --from <file.gguf> [--allow-unknown]
                                             install a file built offline (native/convert/build-*.sh);
                                             a known build is recognised by its sha256
  loupe models remove <id> [--dir <folder>]
  loupe models path <id>                     where an installed model is (for --model)

Answer models (for loupe ask and the Ask view) are installed from a file you downloaded:
  loupe models install qwen2.5-coder-1.5b-instruct --from <file.gguf>

Models go to $LOUPE_MODELS_DIR or the user cache folder (loupe/models); the hub is
$HF_ENDPOINT or https://huggingface.co, with $HF_TOKEN for gated repositories.
Offline, install fails with a clear message and nothing changes.`;

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}

/** `loupe models …`; returns the exit code. */
export async function runModelsCli(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        from: { type: 'string' },
        'allow-unknown': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE,
    io,
    'loupe models',
  );
  if (!parsed) return 2;
  const {
    values: v,
    positionals: [sub, id],
  } = parsed;
  if (v.help || !sub) {
    io.out(USAGE);
    return sub || v.help ? 0 : 2;
  }
  const mm = new ModelManager({ dir: v.dir });
  try {
    switch (sub) {
      case 'list': {
        const installed = new Map([...mm.installed(), ...mm.installedChat()].map((m) => [m.id, m]));
        if (v.json) {
          io.out(
            JSON.stringify([
              ...CATALOG.map((c) => ({ ...c, kind: 'embedding', file: String(c.file), installed: installed.get(c.id) ?? null })),
              ...CHAT_CATALOG.map((c) => ({ ...c, kind: 'chat', url: chatDownloadUrl(c), installed: installed.get(c.id) ?? null })),
            ]),
          );
          return 0;
        }
        io.out('Embedding models (loupe index --model <id>; downloaded and verified by sha256):');
        for (const c of CATALOG) {
          const inst = installed.get(c.id);
          io.out(
            `${inst ? '*' : ' '} ${c.id.padEnd(30)} ~${String(c.approxMB).padStart(4)} MB  ${c.dimensions} dims, ${c.pooling} pooling, ${c.profile.maxTokens} tokens  ${c.licence}`,
          );
          io.out(`    ${c.notes}${inst ? `\n    installed: ${inst.path}` : ''}`);
        }
        io.out('\nAnswer models (chat; loupe ask, the Ask view; download the file, then install it with --from):');
        for (const c of CHAT_CATALOG) {
          const inst = installed.get(c.id);
          io.out(`${inst ? '*' : ' '} ${c.id.padEnd(30)} ~${String(c.approxMB).padStart(4)} MB  Q4_K_M GGUF  ${c.licence}`);
          io.out(`    ${c.notes}`);
          io.out(
            inst
              ? `    installed: ${inst.path}`
              : `    get it: ${chatDownloadUrl(c)}\n    then:   loupe models install ${c.id} --from <file.gguf>`,
          );
        }
        io.out('  Or any OpenAI-compatible server (Ollama, LM Studio, llama-server): loupe ask --llm openai --llm-url <url>');
        io.out(`\nfolder: ${mm.dir}`);
        return 0;
      }
      case 'install': {
        if (!id) throw new LoupeError('loupe models install: which model? (see `loupe models list`)', 'usage');
        if (v.from) {
          const rec = await mm.installFromFile(id, v.from, { allowUnknown: v['allow-unknown'] });
          io.out(
            `${rec.name} installed: ${rec.path} (${mib(rec.size)} MiB, sha256 ${rec.sha256.slice(0, 16)}…)${rec.source ? `\n  source: ${rec.source}` : ''}`,
          );
          io.out(
            rec.kind === 'chat'
              ? `loupe ask answers with it now (or name it: loupe ask <dir> "<question>" --llm-model ${rec.id})`
              : `use it with: loupe index <dir> --rebuild --model ${rec.id}`,
          );
          return 0;
        }
        const ac = new AbortController();
        const onSigint = (): void => ac.abort();
        process.once('SIGINT', onSigint);
        try {
          const rec = await mm.install(id, {
            signal: ac.signal,
            onProgress: (p) => {
              if (!io.isTTY) return;
              const pct = p.total ? ` (${Math.floor((100 * p.received) / p.total)}%)` : '';
              process.stderr.write(
                `\r\x1b[K${mib(p.received)}${p.total ? `/${mib(p.total)}` : ''} MiB${pct} · ${mib(p.bytesPerSecond)} MiB/s${p.resumedFrom ? ` · resumed at ${mib(p.resumedFrom)} MiB` : ''}`,
              );
            },
          });
          if (io.isTTY) process.stderr.write('\r\x1b[K');
          io.out(`${rec.name} installed: ${rec.path} (${mib(rec.size)} MiB, sha256 ${rec.sha256.slice(0, 16)}…)`);
          io.out(`use it with: loupe index <dir> --rebuild --model "${rec.path}"`);
          return 0;
        } finally {
          process.off('SIGINT', onSigint);
        }
      }
      case 'remove': {
        if (!id) throw new LoupeError('loupe models remove: which model?', 'usage');
        io.out(mm.remove(id) ? `${id} removed` : `${id} is not installed`);
        return 0;
      }
      case 'path': {
        const rec = [...mm.installed(), ...mm.installedChat()].find((m) => m.id.toLowerCase() === (id ?? '').toLowerCase());
        if (!rec) throw new LoupeError(`${id} is not installed (loupe models install ${id})`, 'not-installed');
        io.out(rec.path);
        return 0;
      }
      default:
        io.err(`loupe models: unknown command '${sub}'; the commands are list, install, remove, path`);
        return 2;
    }
  } catch (e) {
    if (e instanceof LoupeError) {
      io.err(e.code === 'usage' ? e.message : `loupe: ${e.message}`);
      return e.code === 'download-cancelled' ? 130 : e.code === 'usage' ? 2 : 1;
    }
    throw e;
  }
}
