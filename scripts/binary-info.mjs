// Reads what a native binary is without running it, from its headers: object format (ELF / Mach-O /
// PE), CPU architecture, the symbols it exports and the shared libraries it links. Used to verify
// platform VSIXs built on another platform (scripts/verify-vsix.mjs): no platform tools needed.
//
//   node scripts/binary-info.mjs <file>    # prints the JSON summary
import { readFileSync } from 'node:fs';

/**
 * @typedef {{ format: 'elf' | 'macho' | 'pe', arch: string, bits: 32 | 64, kind: string,
 *   exports: string[], libraries: string[], rpaths: string[], codeSignature?: boolean }} BinaryInfo
 */

const cstr = (buf, off, max = buf.length - off) => {
  let end = off;
  while (end < off + max && end < buf.length && buf[end] !== 0) end++;
  return buf.toString('latin1', off, end);
};

// ---------------------------------------------------------------- ELF
const ELF_MACHINES = { 3: 'x86', 0x3e: 'x64', 0x28: 'arm', 0xb7: 'arm64', 0xf3: 'riscv' };

/** @returns {BinaryInfo} */
function elf(buf) {
  const bits = buf[4] === 2 ? 64 : 32;
  if (buf[5] !== 1) throw new Error('big-endian ELF is not supported');
  const u16 = (o) => buf.readUInt16LE(o);
  const u32 = (o) => buf.readUInt32LE(o);
  const addr = (o) => (bits === 64 ? Number(buf.readBigUInt64LE(o)) : u32(o));
  const type = u16(16);
  const machine = u16(18);
  const shoff = bits === 64 ? addr(0x28) : u32(0x20);
  const shentsize = u16(bits === 64 ? 0x3a : 0x2e);
  const shnum = u16(bits === 64 ? 0x3c : 0x30);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: u32(o + 4),
      offset: bits === 64 ? addr(o + 0x18) : u32(o + 0x10),
      size: bits === 64 ? addr(o + 0x20) : u32(o + 0x14),
      link: u32(o + (bits === 64 ? 0x28 : 0x18)),
      entsize: bits === 64 ? addr(o + 0x38) : u32(o + 0x24),
    });
  }
  const exports = [];
  const libraries = [];
  const rpaths = [];
  for (const s of sections) {
    if (s.type === 11 /* SHT_DYNSYM */) {
      const strtab = sections[s.link];
      const n = s.entsize ? s.size / s.entsize : 0;
      for (let i = 1; i < n; i++) {
        const o = s.offset + i * s.entsize;
        const name = u32(o);
        const shndx = bits === 64 ? u16(o + 6) : u16(o + 14);
        const info = bits === 64 ? buf[o + 4] : buf[o + 12];
        const bind = info >> 4;
        if (shndx !== 0 && (bind === 1 || bind === 2)) exports.push(cstr(buf, strtab.offset + name));
      }
    }
    if (s.type === 6 /* SHT_DYNAMIC */) {
      const strtab = sections[s.link];
      const es = bits === 64 ? 16 : 8;
      for (let o = s.offset; o < s.offset + s.size; o += es) {
        const tag = bits === 64 ? Number(buf.readBigInt64LE(o)) : buf.readInt32LE(o);
        const val = bits === 64 ? addr(o + 8) : u32(o + 4);
        if (tag === 0) break;
        if (tag === 1 /* DT_NEEDED */) libraries.push(cstr(buf, strtab.offset + val));
        if (tag === 15 || tag === 29 /* DT_RPATH, DT_RUNPATH */) rpaths.push(cstr(buf, strtab.offset + val));
      }
    }
  }
  return {
    format: 'elf',
    arch: ELF_MACHINES[machine] ?? `machine-${machine}`,
    bits,
    kind: type === 3 ? 'shared' : type === 2 ? 'executable' : `type-${type}`,
    exports,
    libraries,
    rpaths,
  };
}

// ---------------------------------------------------------------- Mach-O
const MACHO_CPU = { 7: 'x86', 0x01000007: 'x64', 12: 'arm', 0x0100000c: 'arm64' };

/** Walks a Mach-O export trie, collecting symbol names. */
function exportTrie(buf, start, size) {
  const out = [];
  const uleb = (state) => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[state.p++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return result;
    }
  };
  const visit = (off, prefix, depth) => {
    if (depth > 256 || off >= size) return;
    const state = { p: start + off };
    const terminal = uleb(state);
    if (terminal > 0) out.push(prefix);
    state.p += terminal;
    const children = buf[state.p++];
    for (let i = 0; i < children; i++) {
      const label = cstr(buf, state.p);
      state.p += Buffer.byteLength(label, 'latin1') + 1;
      const child = uleb(state);
      visit(child, prefix + label, depth + 1);
    }
  };
  visit(0, '', 0);
  return out;
}

/** @returns {BinaryInfo} */
function macho(buf, base = 0) {
  const magic = buf.readUInt32LE(base);
  const bits = magic === 0xfeedfacf ? 64 : 32;
  const cpu = buf.readInt32LE(base + 4);
  const filetype = buf.readUInt32LE(base + 12);
  const ncmds = buf.readUInt32LE(base + 16);
  let p = base + (bits === 64 ? 32 : 28);
  const libraries = [];
  const rpaths = [];
  let exports = [];
  let symtab;
  let codeSignature = false;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(p);
    const size = buf.readUInt32LE(p + 4);
    const lc = cmd & ~0x80000000;
    if (lc === 0xc || lc === 0x18 || lc === 0x1f || lc === 0x23) libraries.push(cstr(buf, p + buf.readUInt32LE(p + 8), size)); // LOAD_DYLIB, WEAK, REEXPORT, LOAD_UPWARD
    if (lc === 0x1c) rpaths.push(cstr(buf, p + buf.readUInt32LE(p + 8), size)); // RPATH
    if (lc === 0x22 /* DYLD_INFO(_ONLY) */ && buf.readUInt32LE(p + 44))
      exports = exportTrie(buf, base + buf.readUInt32LE(p + 40), buf.readUInt32LE(p + 44));
    if (lc === 0x33 /* DYLD_EXPORTS_TRIE */) exports = exportTrie(buf, base + buf.readUInt32LE(p + 8), buf.readUInt32LE(p + 12));
    if (lc === 0x1d /* CODE_SIGNATURE */) codeSignature = true;
    if (lc === 0x2 /* SYMTAB */)
      symtab = { symoff: buf.readUInt32LE(p + 8), nsyms: buf.readUInt32LE(p + 12), stroff: buf.readUInt32LE(p + 16) };
    p += size;
  }
  if (!exports.length && symtab) {
    // No export trie: external defined symbols from the symbol table.
    const es = bits === 64 ? 16 : 12;
    for (let i = 0; i < symtab.nsyms; i++) {
      const o = base + symtab.symoff + i * es;
      const type = buf[o + 4];
      if (type & 0x01 && (type & 0x0e) === 0x0e) exports.push(cstr(buf, base + symtab.stroff + buf.readUInt32LE(o)));
    }
  }
  const kinds = { 1: 'object', 2: 'executable', 6: 'dylib', 8: 'bundle' };
  // Apple Silicon runs no unsigned code: an arm64 binary needs at least an ad-hoc signature.
  return {
    format: 'macho',
    arch: MACHO_CPU[cpu] ?? `cpu-${cpu}`,
    bits,
    kind: kinds[filetype] ?? `filetype-${filetype}`,
    exports,
    libraries,
    rpaths,
    codeSignature,
  };
}

// ---------------------------------------------------------------- PE
const PE_MACHINES = { 0x14c: 'x86', 0x8664: 'x64', 0xaa64: 'arm64' };

/** @returns {BinaryInfo} */
function pe(buf) {
  const peOff = buf.readUInt32LE(0x3c);
  if (buf.toString('latin1', peOff, peOff + 4) !== 'PE\0\0') throw new Error('not a PE file');
  const machine = buf.readUInt16LE(peOff + 4);
  const nsec = buf.readUInt16LE(peOff + 6);
  const optSize = buf.readUInt16LE(peOff + 20);
  const characteristics = buf.readUInt16LE(peOff + 22);
  const opt = peOff + 24;
  const bits = buf.readUInt16LE(opt) === 0x20b ? 64 : 32;
  const dirs = opt + (bits === 64 ? 112 : 96);
  const sections = [];
  for (let i = 0; i < nsec; i++) {
    const o = opt + optSize + i * 40;
    sections.push({
      va: buf.readUInt32LE(o + 12),
      vsize: buf.readUInt32LE(o + 8),
      raw: buf.readUInt32LE(o + 20),
      rawSize: buf.readUInt32LE(o + 16),
    });
  }
  const rva = (r) => {
    for (const s of sections) if (r >= s.va && r < s.va + Math.max(s.vsize, s.rawSize)) return r - s.va + s.raw;
    throw new Error(`RVA ${r} outside every section`);
  };
  const exports = [];
  const expRva = buf.readUInt32LE(dirs);
  if (expRva) {
    const e = rva(expRva);
    const n = buf.readUInt32LE(e + 24);
    const names = rva(buf.readUInt32LE(e + 32));
    for (let i = 0; i < n; i++) exports.push(cstr(buf, rva(buf.readUInt32LE(names + i * 4))));
  }
  const libraries = [];
  const impRva = buf.readUInt32LE(dirs + 8);
  if (impRva) {
    for (let d = rva(impRva); ; d += 20) {
      const nameRva = buf.readUInt32LE(d + 12);
      if (!nameRva) break;
      libraries.push(cstr(buf, rva(nameRva)));
    }
  }
  const delayRva = buf.readUInt32LE(dirs + 13 * 8);
  if (delayRva) {
    for (let d = rva(delayRva); ; d += 32) {
      const nameRva = buf.readUInt32LE(d + 4);
      if (!nameRva) break;
      libraries.push(cstr(buf, rva(nameRva)));
    }
  }
  return {
    format: 'pe',
    arch: PE_MACHINES[machine] ?? `machine-${machine}`,
    bits,
    kind: characteristics & 0x2000 ? 'dll' : 'executable',
    exports,
    libraries,
    rpaths: [],
  };
}

/**
 * Describes a native binary from its bytes. Fat (universal) Mach-O files describe their first slice
 * and list every slice's architecture in `slices`.
 * @param {Buffer} buf
 * @returns {BinaryInfo & { slices?: string[] }}
 */
export function binaryInfo(buf) {
  if (buf.length < 64) throw new Error('too short to be a binary');
  if (buf.readUInt32BE(0) === 0x7f454c46) return elf(buf);
  const m = buf.readUInt32LE(0);
  if (m === 0xfeedfacf || m === 0xfeedface) return macho(buf);
  if (buf.readUInt32BE(0) === 0xcafebabe) {
    const n = buf.readUInt32BE(4);
    const slices = [];
    for (let i = 0; i < n; i++) slices.push(buf.readUInt32BE(8 + i * 20 + 8));
    const first = macho(buf, slices[0]);
    return { ...first, slices: Array.from({ length: n }, (_, i) => MACHO_CPU[buf.readInt32BE(8 + i * 20)] ?? 'unknown') };
  }
  if (buf.toString('latin1', 0, 2) === 'MZ') return pe(buf);
  throw new Error('not an ELF, Mach-O or PE file');
}

/** Absolute build-machine paths a portable binary must not contain (home folders, temp and work trees). */
export function buildPathsIn(buf, roots) {
  const text = buf.toString('latin1');
  return roots.filter((r) => r && text.includes(r));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const info = binaryInfo(readFileSync(process.argv[2]));
  console.log(
    JSON.stringify(
      { ...info, exports: info.exports.length > 20 ? [...info.exports.slice(0, 20), `… ${info.exports.length} in all`] : info.exports },
      null,
      2,
    ),
  );
}
