/**
 * The FLOPs model against hand-computed values, the shape read from the real GGUF files, the
 * weight bytes of the bundled Q8_0 model, and the roofline arithmetic.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  activationBytes,
  batchFlops,
  cpuPeakFlops,
  encoderFlops,
  encoderShapeFromMetadata,
  knownGpuPeak,
  ridgePoint,
  roofline,
  weightBytesPerPass,
  type EncoderShape,
} from '../src/core/bench/flops.js';
import { readModelFacts } from '../src/adapters/bench/model-info.js';
import { REPO, tinyBertPath } from './support/helpers.js';

/** all-MiniLM-L6-v2: 6 layers, hidden 384, feed-forward 1536, 12 heads. */
const MINILM: EncoderShape = { architecture: 'bert', layers: 6, hidden: 384, feedForward: 1536, heads: 12, contextLength: 512 };

describe('encoder FLOPs', () => {
  test('MiniLM-L6 at 128 tokens equals the hand-computed value', () => {
    // n = 128, d = 384, f = 1536, L = 6; one multiply-add = 2 FLOPs.
    // QKV:        6·n·d²  = 6 · 128 · 147,456          = 113,246,208 per layer
    // scores:     2·n²·d  = 2 · 16,384 · 384           =  12,582,912 per layer
    // × values:   2·n²·d                               =  12,582,912 per layer
    // out proj:   2·n·d²  = 2 · 128 · 147,456          =  37,748,736 per layer
    // FFN:        4·n·d·f = 4 · 128 · 384 · 1536       = 301,989,888 per layer
    // per layer: 478,150,656; × 6 layers = 2,868,903,936 FLOPs (≈ 2.87 GFLOP per 128-token chunk)
    const f = encoderFlops(MINILM, 128);
    assert.equal(f.qkv, 6 * 113_246_208);
    assert.equal(f.attentionScores, 6 * 12_582_912);
    assert.equal(f.attentionValues, 6 * 12_582_912);
    assert.equal(f.outputProjection, 6 * 37_748_736);
    assert.equal(f.feedForward, 6 * 301_989_888);
    assert.equal(f.total, 2_868_903_936);
  });

  test('the tiny BERT at 10 tokens, and a batch is the sum of its sequences', () => {
    // L = 1, d = 256, f = 256, n = 10: 6·10·65,536 + 2·100·256 + 2·100·256 + 2·10·65,536 + 4·10·256·256
    // = 3,932,160 + 51,200 + 51,200 + 1,310,720 + 2,621,440 = 7,966,720
    const tiny: EncoderShape = { architecture: 'bert', layers: 1, hidden: 256, feedForward: 256, heads: 4, contextLength: 512 };
    assert.equal(encoderFlops(tiny, 10).total, 7_966_720);
    assert.equal(batchFlops(tiny, [10, 10, 128]), 2 * 7_966_720 + encoderFlops(tiny, 128).total);
  });

  test('attention grows quadratically, the rest linearly', () => {
    const a = encoderFlops(MINILM, 256);
    const b = encoderFlops(MINILM, 512);
    assert.equal(b.attentionScores, 4 * a.attentionScores);
    assert.equal(b.qkv, 2 * a.qkv);
    assert.equal(b.feedForward, 2 * a.feedForward);
  });

  test('shape from metadata; missing keys are named', () => {
    const meta = {
      general: { architecture: 'nomic-bert' },
      'nomic-bert': {
        block_count: 12,
        embedding_length: 768,
        feed_forward_length: 3072,
        context_length: 2048,
        attention: { head_count: 12 },
      },
    };
    assert.deepEqual(encoderShapeFromMetadata(meta), {
      architecture: 'nomic-bert',
      layers: 12,
      hidden: 768,
      feedForward: 3072,
      heads: 12,
      contextLength: 2048,
    });
    const bad = encoderShapeFromMetadata({ general: { architecture: 'bert' }, bert: { block_count: 6, embedding_length: 384 } });
    assert.deepEqual(bad, { architecture: 'bert', missing: ['bert.feed_forward_length', 'bert.attention.head_count'] });
  });
});

describe('GGUF facts from the real files (node-llama-cpp readGgufFileInfo)', () => {
  test('tiny BERT: shape and F16/F32 weight bytes', async () => {
    const f = await readModelFacts(tinyBertPath());
    assert.deepEqual(f.shape, { architecture: 'bert', layers: 1, hidden: 256, feedForward: 256, heads: 4, contextLength: 512 });
    // One layer: Q, K, V, O (256×256) and FFN up/down (256×256 each) as F16 = 6 · 65,536 · 2 bytes = 786,432,
    // plus F32 biases and norms (a few KiB); the token/position tables are not read per pass.
    assert.ok(f.weightBytesPerPass >= 786_432 && f.weightBytesPerPass < 786_432 + 32_768, String(f.weightBytesPerPass));
    assert.deepEqual(f.unknownTensorTypes, []);
  });

  test(
    'MiniLM-L6 Q8_0: the documented shape, ~10.6 M layer weights at 34/32 bytes',
    { skip: !existsSync(path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf')) && 'bundled MiniLM not present' },
    async () => {
      const f = await readModelFacts(path.join(REPO, 'models/all-MiniLM-L6-v2.Q8_0.gguf'));
      assert.deepEqual(f.shape, MINILM);
      // per layer 4·384² + 2·384·1536 = 1,769,472 weights; × 6 = 10,616,832; Q8_0 = 11,280,384 bytes (+ F32 biases/norms)
      assert.ok(f.weightBytesPerPass >= 11_280_384 && f.weightBytesPerPass < 11_280_384 + 200_000, String(f.weightBytesPerPass));
    },
  );

  test('weightBytesPerPass skips the embedding tables and flags unknown types', () => {
    const r = weightBytesPerPass([
      { name: 'token_embd.weight', dimensions: [384, 30522], ggmlType: 8 },
      { name: 'blk.0.attn_q.weight', dimensions: [384, 384], ggmlType: 1 },
      { name: 'blk.0.x', dimensions: [10], ggmlType: 99 },
    ]);
    assert.equal(r.bytes, 384 * 384 * 2 + 10);
    assert.deepEqual(r.unknownTypes, [99]);
  });
});

describe('roofline', () => {
  const peak = { label: 'test', flops: 100e9, bytesPerSec: 10e9, source: 'test' };

  test('ridge, intensity and bound', () => {
    assert.equal(ridgePoint(peak), 10);
    const mem = roofline(16, 1e9, 2e8, 0.1, peak); // 5 FLOP/B < 10
    assert.equal(mem.bound, 'memory');
    assert.equal(mem.achievedFlops, 1e10);
    assert.equal(mem.fractionOfPeakFlops, 0.1);
    assert.equal(mem.fractionOfPeakBandwidth, 0.2);
    assert.equal(roofline(512, 1e10, 1e8, 0.5, peak).bound, 'compute'); // 100 FLOP/B
  });

  test('activation bytes grow with n² through the attention matrix', () => {
    const a = activationBytes(MINILM, 128);
    // 6 layers · 4 bytes · (128·384·6 + 128·1536·2 + 2·12·128²)
    assert.equal(a, 6 * 4 * (128 * 384 * 6 + 128 * 1536 * 2 + 2 * 12 * 128 * 128));
  });

  test('CPU peak from flags; known GPUs by name', () => {
    assert.equal(cpuPeakFlops({ threads: 2, ghz: 3, flags: ['avx', 'avx2', 'fma'], arch: 'x64' }).flops, 2 * 3e9 * 32);
    assert.equal(cpuPeakFlops({ threads: 1, ghz: 2, flags: ['avx512f', 'avx2', 'fma'], arch: 'x64' }).perCycle, 64);
    // Zen 4 (family 25): AVX-512 on two 256-bit pipes, the same peak as AVX2 (issue 17: it reported 1.8× too high).
    const zen4 = cpuPeakFlops({ threads: 2, ghz: 2.6, flags: ['avx512f', 'avx2', 'fma'], arch: 'x64', vendor: 'AuthenticAMD', family: 25 });
    assert.equal(zen4.perCycle, 32);
    assert.match(zen4.isa, /Zen 4/);
    assert.equal(
      cpuPeakFlops({ threads: 1, ghz: 2, flags: ['avx512f', 'avx2', 'fma'], arch: 'x64', vendor: 'AuthenticAMD', family: 26 }).perCycle,
      64,
    );
    assert.equal(
      cpuPeakFlops({ threads: 1, ghz: 2, flags: ['avx512f', 'avx2', 'fma'], arch: 'x64', vendor: 'GenuineIntel', family: 6 }).perCycle,
      64,
    );
    assert.equal(cpuPeakFlops({ threads: 1, ghz: 3.2, flags: [], arch: 'arm64' }).perCycle, 32);
    assert.equal(knownGpuPeak('Apple M1 Pro')?.match, 'M1 Pro');
    assert.equal(knownGpuPeak('Apple M1')?.match, 'M1');
    assert.equal(knownGpuPeak('Apple M3 Max')?.match, 'M3 Max');
    assert.equal(knownGpuPeak('NVIDIA H100 80GB HBM3')?.match, 'H100');
    assert.equal(knownGpuPeak('Intel UHD Graphics 630'), null);
  });
});

describe('roofline verdict', () => {
  test('names the bound at each length, including a switch in either direction', async () => {
    const { rooflineVerdict } = await import('../src/adapters/bench/run-bench.js');
    const peak = { label: 'test CPU', flops: 100e9, bytesPerSec: 10e9, source: 'test' };
    const pts = [roofline(8, 1e8, 2e7, 0.01, peak), roofline(64, 1e9, 2e7, 0.05, peak), roofline(256, 4e9, 2.5e7, 0.2, peak)];
    assert.deepEqual(
      pts.map((p) => p.bound),
      ['memory', 'compute', 'compute'],
    );
    assert.match(
      rooflineVerdict(pts, peak),
      /^The encoder is memory-bound at 8 tokens .* compute-bound at 64, 256 tokens on test CPU: at 256 tokens it does 20\.00 GFLOP\/s, 20 % of the FP32 peak/,
    );
    assert.match(rooflineVerdict([pts[2], pts[0]], peak), /memory-bound at 8 tokens .*compute-bound at 256 tokens/);
    assert.match(rooflineVerdict(pts.slice(1), peak), /^At every measured length \(64–256 tokens\) the encoder is compute-bound/);
  });
});

describe('FLOPs of newer embedding models (grouped-query attention, head size, gated FFN)', () => {
  test('an EmbeddingGemma-like shape equals the hand-computed value', () => {
    // L = 1, d = 768, f = 1152, 3 heads of k = 256 (q width 768), 1 KV head (kv width 256), gated FFN; n = 100
    // Q: 2·100·768·768 = 117,964,800; K and V: 2 · 2·100·768·256 = 78,643,200 → qkv 196,608,000
    // scores: 2·100²·768 = 15,360,000; values: 15,360,000; out: 2·100·768·768 = 117,964,800
    // FFN: 6·100·768·1152 = 530,841,600; total 876,134,400
    const s: EncoderShape = {
      architecture: 'gemma-embedding',
      layers: 1,
      hidden: 768,
      feedForward: 1152,
      heads: 3,
      kvHeads: 1,
      headDim: 256,
      gatedFfn: true,
      contextLength: 2048,
    };
    const f = encoderFlops(s, 100);
    assert.equal(f.qkv, 196_608_000);
    assert.equal(f.attentionScores, 15_360_000);
    assert.equal(f.outputProjection, 117_964_800);
    assert.equal(f.feedForward, 530_841_600);
    assert.equal(f.total, 876_134_400);
  });

  test('metadata: head_count_kv and key_length are read; equal values change nothing', () => {
    const meta = {
      general: { architecture: 'qwen3' },
      qwen3: {
        block_count: 28,
        embedding_length: 1024,
        feed_forward_length: 3072,
        context_length: 32768,
        attention: { head_count: 16, head_count_kv: 8, key_length: 128 },
      },
    };
    assert.deepEqual(encoderShapeFromMetadata(meta), {
      architecture: 'qwen3',
      layers: 28,
      hidden: 1024,
      feedForward: 3072,
      heads: 16,
      contextLength: 32768,
      kvHeads: 8,
      headDim: 128,
    });
    const bert = {
      general: { architecture: 'bert' },
      bert: { block_count: 6, embedding_length: 384, feed_forward_length: 1536, attention: { head_count: 12, head_count_kv: 12 } },
    };
    assert.equal(encoderFlops(encoderShapeFromMetadata(bert) as EncoderShape, 128).total, 2_868_903_936);
  });
});
