/** A fast 32-bit checksum (word-wise multiply-rotate, FNV-style tail) of a byte range. */
export function checksum32(b: Uint8Array): number {
  let h = 0x811c9dc5;
  const nw = b.length >>> 2;
  if ((b.byteOffset & 3) === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, nw);
    for (let i = 0; i < nw; i++) {
      h = Math.imul(h ^ w[i], 0x01000193);
      h = (h << 13) | (h >>> 19);
    }
  } else {
    for (let i = 0; i < nw; i++) {
      const x = b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24);
      h = Math.imul(h ^ x, 0x01000193);
      h = (h << 13) | (h >>> 19);
    }
  }
  for (let i = nw * 4; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** 32-bit FNV-1a of a string (the image cache's key over paths, sizes and times). */
export function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
