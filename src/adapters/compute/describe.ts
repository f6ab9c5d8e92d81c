/**
 * `loupe status`: hardware, and what the back-off policy would decide right now from one short
 * contention sample (two readings half a second apart, so CPU load can be measured).
 */
import { DEFAULT_SCHEDULER_CONFIG, reasonsFor, wantedMode, type ComputeUnitKind } from '../../core/compute/scheduler.js';
import type { HardwareInfo } from '../../core/compute/hardware.js';
import type { ContentionSample } from '../../core/compute/signals.js';
import { aneUnavailableReason, defaultAnePaths } from './ane-client.js';
import { detectHardware, llamaGpuBackend } from './hardware.js';
import { ContentionSampler } from './sampler.js';
import { packageRoot } from '../open-engine.js';

export interface ComputeDescription {
  json: { hardware: HardwareInfo; compute: { unit: ComputeUnitKind; now: string; mode: string; sample: ContentionSample; ane: string } };
  lines: string[];
}

export async function describeCompute(opts: { gpu?: 'auto' | false } = {}): Promise<ComputeDescription> {
  const backend = opts.gpu === false ? false : await llamaGpuBackend();
  const hardware = await detectHardware({ gpuBackend: backend ?? 'skip' });
  const sampler = new ContentionSampler();
  await sampler.sample();
  await new Promise((r) => setTimeout(r, 500));
  const sample = await sampler.sample();
  const unit: ComputeUnitKind = backend ? 'gpu' : 'cpu';
  const mode = wantedMode(unit, sample, DEFAULT_SCHEDULER_CONFIG);
  const reasons = reasonsFor(unit, sample);
  const now =
    mode === 'full' ? `would index at full speed (${reasons.join(', ') || 'machine free'})` : `would back off (${reasons.join(', ')})`;
  let ane: string;
  try {
    const p = defaultAnePaths(packageRoot());
    ane = hardware.hasAne
      ? (aneUnavailableReason(p.helper, p.models) ?? 'helper and Core ML model present (parity gate runs on first use)')
      : 'none';
  } catch {
    ane = hardware.hasAne ? 'helper not found' : 'none';
  }
  const lines = [
    `  hardware: ${hardware.summary}`,
    ...hardware.notes.map((n) => `  note:     ${n}`),
    `  compute:  embedding on ${unit.toUpperCase()}; now ${now}`,
    ...sampler.details.agentProcesses.slice(0, 5).map((a) => `  agent:    ${a.agent} (${a.detail})`),
    ...sample.agents.filter((a) => a.via === 'env').map((a) => `  agent:    ${a.agent} (${a.detail})`),
    ...sample.llmServers.map(
      (l) =>
        `  local LLM: ${l.server} at ${l.endpoint}${l.busy === null ? '' : l.busy ? ' (busy)' : ' (idle)'}${l.models?.length ? `: ${l.models.slice(0, 3).join(', ')}` : ''}`,
    ),
    ...(hardware.hasAne ? [`  ANE:      ${ane}`] : []),
  ];
  return { json: { hardware, compute: { unit, now, mode, sample, ane } }, lines };
}
