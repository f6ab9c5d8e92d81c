import { EngineClient } from '../../src/adapters/engine-client.js';

/**
 * Stops the shared engine of `root` whose socket is in `runDir` (what its idle timeout would do
 * minutes later); nothing when none runs. The run folder is read from the environment, so it is set
 * for the call and put back.
 */
export async function stopSharedEngine(root: string, runDir: string): Promise<void> {
  const saved = process.env.LOUPE_RUN_DIR;
  process.env.LOUPE_RUN_DIR = runDir;
  const c = new EngineClient({ shared: 'test', connectOnly: true, maxRestarts: 0, env: { LOUPE_RUN_DIR: runDir } });
  try {
    await c.attach({ root });
    await c.request('shutdown', {});
  } catch {
    // not running
  } finally {
    if (saved === undefined) delete process.env.LOUPE_RUN_DIR;
    else process.env.LOUPE_RUN_DIR = saved;
  }
}
