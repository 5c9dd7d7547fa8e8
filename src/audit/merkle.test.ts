import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  hashFromHex,
  hashToHex,
  leafHash,
  leafHashHex,
  MerkleFrontier,
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

// A naive reference, written straight from RFC 9162 §2.1 with its own hashing, over leaf hashes.

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

const refLeaf = (data: Uint8Array): Buffer => sha256(Buffer.of(0), data);
const refNode = (l: Uint8Array, r: Uint8Array): Buffer => sha256(Buffer.of(1), l, r);

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha256();
  if (d.length === 1) return d[0]!;
  const k = split(d.length);
  return refNode(mth(d.slice(0, k)), mth(d.slice(k)));
}

function path(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k))]
    : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}

function subproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

const proof = (m: number, d: readonly Buffer[]): Buffer[] => subproof(m, d, true);

const leaves = (n: number, seed = 0): Buffer[] =>
  Array.from({ length: n }, (_, i) => refLeaf(Buffer.from(`leaf ${seed}.${i}`)));

const hex = (hs: readonly Uint8Array[]): string[] => hs.map((h) => Buffer.from(h).toString('hex'));

// RFC 6962 reference data from certificate-transparency (cpp/merkletree/merkle_tree_test.cc), as
// reused by transparency-dev/merkle: the eight inputs and the roots of every prefix.
const CT_INPUTS = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
/** [leaf index (0-based), tree size, audit path]. */
const CT_PATHS: [number, number, string[]][] = [
  [0, 1, []],
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    1,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
/** [old size, new size, consistency proof]. */
const CT_PROOFS: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

describe('hashes', () => {
  test('leaf and node hashes are domain-separated SHA-256', () => {
    assert.deepEqual(leafHash(Buffer.from('abc')), refLeaf(Buffer.from('abc')));
    assert.deepEqual(leafHash('é€\u{1F600}'), refLeaf(Buffer.from('é€\u{1F600}')));
    const big = randomBytes(5000);
    assert.deepEqual(leafHash(big), refLeaf(big));
    assert.deepEqual(leafHash(new Uint8Array(1024)), refLeaf(new Uint8Array(1024)));
    const [a, b] = [leafHash('a'), leafHash('b')];
    assert.deepEqual(nodeHash(a, b), refNode(a, b));
    assert.throws(() => nodeHash(a, b.subarray(1)), TypeError);
  });

  test('leafHashHex is leafHash as hex, without a Buffer', () => {
    for (const s of ['', 'abc', 'é€\u{1F600}', '\uD800', 'x'.repeat(5000)]) {
      assert.equal(leafHashHex(s), leafHash(s).toString('hex'));
    }
  });

  test('the empty root is SHA-256 of nothing', () => {
    assert.equal(
      EMPTY_ROOT.toString('hex'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.deepEqual(new MerkleFrontier().root(), EMPTY_ROOT);
    assert.deepEqual(new MerkleTree().root(), EMPTY_ROOT);
  });

  test('hex helpers round-trip and reject anything but 64 lowercase hex characters', () => {
    assert.equal(hashToHex(hashFromHex(CT_ROOTS[0]!)), CT_ROOTS[0]);
    for (const bad of ['', 'ab', CT_ROOTS[0]!.toUpperCase(), `${CT_ROOTS[0]}00`, 'g'.repeat(64)]) {
      assert.throws(() => hashFromHex(bad), TypeError);
    }
    assert.throws(() => hashToHex(Buffer.alloc(31)), TypeError);
  });
});

describe('RFC 6962 reference vectors', () => {
  const hashes = CT_INPUTS.map((d) => leafHash(d));

  test('roots of every prefix, from the frontier, the tree and the reference', () => {
    const frontier = new MerkleFrontier();
    const tree = new MerkleTree(hashes);
    hashes.forEach((h, i) => {
      frontier.push(h);
      assert.equal(frontier.root().toString('hex'), CT_ROOTS[i]);
      assert.equal(tree.root(i + 1).toString('hex'), CT_ROOTS[i]);
      assert.equal(mth(hashes.slice(0, i + 1)).toString('hex'), CT_ROOTS[i]);
    });
  });

  test('audit paths', () => {
    const tree = new MerkleTree(hashes);
    for (const [index, size, want] of CT_PATHS) {
      assert.deepEqual(hex(tree.inclusionProof(index, size)), want);
      const root = hashFromHex(CT_ROOTS[size - 1]!);
      assert.ok(verifyInclusion(hashes[index]!, index, size, want.map(hashFromHex), root));
    }
  });

  test('consistency proofs', () => {
    const tree = new MerkleTree(hashes);
    for (const [m, n, want] of CT_PROOFS) {
      assert.deepEqual(hex(tree.consistencyProof(m, n)), want);
      const [r1, r2] = [hashFromHex(CT_ROOTS[m - 1]!), hashFromHex(CT_ROOTS[n - 1]!)];
      assert.ok(verifyConsistency(m, n, r1, r2, want.map(hashFromHex)));
    }
  });
});

describe('MerkleTree against the reference', () => {
  test('every size, index and old size up to 70 leaves', () => {
    const d = leaves(70);
    const tree = new MerkleTree(d);
    const frontier = new MerkleFrontier();
    for (let n = 1; n <= 70; n++) {
      frontier.push(d[n - 1]!);
      const prefix = d.slice(0, n);
      const root = mth(prefix);
      assert.deepEqual(tree.root(n), root, `root(${n})`);
      assert.deepEqual(frontier.root(), root, `frontier ${n}`);
      for (let i = 0; i < n; i++) {
        const p = tree.inclusionProof(i, n);
        assert.deepEqual(hex(p), hex(path(i, prefix)), `PATH(${i}, ${n})`);
        assert.ok(verifyInclusion(d[i]!, i, n, p, root), `verify PATH(${i}, ${n})`);
      }
      for (let m = 1; m <= n; m++) {
        const p = tree.consistencyProof(m, n);
        assert.deepEqual(hex(p), m === n ? [] : hex(proof(m, prefix)), `PROOF(${m}, ${n})`);
        assert.ok(verifyConsistency(m, n, tree.root(m), root, p), `verify PROOF(${m}, ${n})`);
      }
      assert.deepEqual(tree.consistencyProof(0, n), []);
      assert.ok(verifyConsistency(0, n, EMPTY_ROOT, root, []));
    }
  });

  test('random sizes of a larger tree built incrementally', () => {
    const d = leaves(3000, 1);
    const tree = new MerkleTree();
    for (const h of d) tree.push(h);
    assert.deepEqual(tree.root(), mth(d));
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(Math.random() * d.length);
      const i = Math.floor(Math.random() * n);
      const m = 1 + Math.floor(Math.random() * (n - 1));
      const prefix = d.slice(0, n);
      const root = mth(prefix);
      assert.deepEqual(tree.root(n), root);
      assert.deepEqual(hex(tree.inclusionProof(i, n)), hex(path(i, prefix)), `PATH(${i}, ${n})`);
      if (m < n) {
        const p = tree.consistencyProof(m, n);
        assert.deepEqual(hex(p), hex(proof(m, prefix)), `PROOF(${m}, ${n})`);
        assert.ok(verifyConsistency(m, n, mth(d.slice(0, m)), root, p));
      }
    }
  });

  test('built from an array, it equals one built leaf by leaf', () => {
    const d = leaves(1025, 2);
    const a = new MerkleTree(d);
    const b = new MerkleTree({ leaves: d });
    assert.equal(a.size, 1025);
    assert.deepEqual(a.root(), b.root());
    assert.deepEqual(a.frontier().toJSON(), b.frontier().toJSON());
  });

  test('rejects sizes, indices and leaves it cannot serve', () => {
    const tree = new MerkleTree(leaves(5));
    assert.throws(() => tree.root(6), RangeError);
    assert.throws(() => tree.root(-1), RangeError);
    assert.throws(() => tree.root(1.5), RangeError);
    assert.throws(() => tree.inclusionProof(5, 5), RangeError);
    assert.throws(() => tree.inclusionProof(0, 0), RangeError);
    assert.throws(() => tree.inclusionProof(0, 6), RangeError);
    assert.throws(() => tree.consistencyProof(4, 3), RangeError);
    assert.throws(() => tree.consistencyProof(1, 6), RangeError);
    assert.throws(() => tree.push(Buffer.alloc(31)), TypeError);
    assert.throws(() => tree.push('x' as unknown as Buffer), TypeError);
  });

  test('proofs are copies: changing one does not change the tree', () => {
    const tree = new MerkleTree(leaves(9));
    const before = tree.root();
    for (const h of tree.inclusionProof(8, 9)) h.fill(0);
    tree.root().fill(0);
    assert.deepEqual(tree.root(), before);
  });
});

describe('tampering', () => {
  const d = leaves(37, 3);
  const tree = new MerkleTree(d);

  function mutations(p: readonly Buffer[], other: Buffer): Buffer[][] {
    const out: Buffer[][] = [
      [...p, other],
      [other, ...p],
      [...p, Buffer.alloc(0)],
    ];
    if (p.length > 0) out.push(p.slice(1), p.slice(0, -1), [...p.slice(0, -1), other]);
    if (p.length > 1) out.push([p[1]!, p[0]!, ...p.slice(2)]);
    p.forEach((_, i) => {
      for (const bit of [0, 7, 255]) {
        const q = p.map((h) => Buffer.from(h));
        q[i]![bit >> 3]! ^= 1 << (bit & 7);
        out.push(q);
      }
    });
    return out;
  }

  test('an altered audit path, leaf, index, size or root is rejected', () => {
    for (const [i, n] of [
      [0, 1],
      [0, 2],
      [5, 8],
      [12, 37],
      [36, 37],
      [31, 33],
    ] as const) {
      const p = tree.inclusionProof(i, n);
      const root = tree.root(n);
      assert.ok(verifyInclusion(d[i]!, i, n, p, root));
      for (const q of mutations(p, root))
        assert.equal(verifyInclusion(d[i]!, i, n, q, root), false);
      assert.equal(verifyInclusion(d[(i + 1) % 37]!, i, n, p, root), false);
      for (const j of [i - 1, i + 1, i ^ 2, n]) {
        assert.equal(verifyInclusion(d[i]!, j, n, p, root), false, `index ${j}`);
      }
      for (const m of [n * 2, Math.floor(n / 2)]) {
        assert.equal(verifyInclusion(d[i]!, i, m, p, root), false, `size ${m}`);
      }
      assert.equal(verifyInclusion(d[i]!, i, n, p, EMPTY_ROOT), false);
    }
  });

  test('an altered consistency proof, size or root is rejected', () => {
    for (const [m, n] of [
      [1, 2],
      [1, 8],
      [6, 8],
      [7, 37],
      [16, 37],
      [32, 33],
      [36, 37],
    ] as const) {
      const p = tree.consistencyProof(m, n);
      const [r1, r2] = [tree.root(m), tree.root(n)];
      assert.ok(verifyConsistency(m, n, r1, r2, p));
      for (const q of mutations(p, r1)) assert.equal(verifyConsistency(m, n, r1, r2, q), false);
      assert.equal(verifyConsistency(m, n, r1, r2, []), false);
      assert.equal(verifyConsistency(m, n, r2, r1, p), false);
      assert.equal(verifyConsistency(m, n, r1, tree.root(n - 1), p), false);
      for (const [a, b] of [
        [m - 1, n],
        [m + 1, n],
        [m ^ 2, n],
        [m, 2 * n],
        [m, Math.floor(n / 2)],
        [n, m],
      ] as const) {
        assert.equal(verifyConsistency(a, b, r1, r2, p), false, `${a} -> ${b}`);
      }
    }
  });

  test('trivial consistency needs an empty proof and matching roots', () => {
    const r = tree.root(5);
    assert.ok(verifyConsistency(5, 5, r, r, []));
    assert.equal(verifyConsistency(5, 5, r, tree.root(6), []), false);
    assert.equal(verifyConsistency(5, 5, r, r, [r]), false);
    assert.ok(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []));
    assert.equal(verifyConsistency(0, 0, r, r, []), false);
    assert.equal(verifyConsistency(0, 5, r, r, []), false);
    assert.equal(verifyConsistency(0, 5, EMPTY_ROOT, r, [r]), false);
    assert.equal(verifyInclusion(d[0]!, 0, 0, [], EMPTY_ROOT), false);
  });
});

describe('MerkleFrontier JSON', () => {
  test('round-trips and keeps appending identically', () => {
    const d = leaves(23, 4);
    const f = new MerkleFrontier();
    for (const h of d.slice(0, 13)) f.push(h);
    const json = JSON.parse(JSON.stringify(f));
    assert.equal(json.size, 13);
    assert.equal(json.nodes.length, 3);
    const g = MerkleFrontier.fromJSON(json);
    assert.deepEqual(g.toJSON(), f.toJSON());
    for (const h of d.slice(13)) {
      f.push(h);
      g.push(h);
    }
    assert.deepEqual(g.root(), mth(d));
    assert.deepEqual(f.root(), g.root());
  });

  test('clone is independent, and root() does not mutate', () => {
    const f = new MerkleFrontier();
    for (const h of leaves(5)) f.push(h);
    const c = f.clone();
    assert.deepEqual(f.root(), f.root());
    c.push(leafHash('more'));
    assert.equal(f.size, 5);
    assert.equal(c.size, 6);
    assert.deepEqual(f.root(), mth(leaves(5)));
    for (const n of f.nodes()) n.fill(0);
    assert.deepEqual(f.root(), mth(leaves(5)));
  });

  test('rejects malformed JSON with a TypeError', () => {
    const good = JSON.parse(JSON.stringify(new MerkleTree(leaves(6)).frontier()));
    const node = good.nodes[0];
    for (const bad of [
      null,
      undefined,
      42,
      'x',
      [],
      [6, good.nodes],
      {},
      { size: 6 },
      { nodes: good.nodes },
      { ...good, extra: 1 },
      { ...good, size: -2 },
      { ...good, size: 6.5 },
      { ...good, size: '6' },
      { ...good, size: 2 ** 53 },
      { ...good, size: 7 },
      { ...good, size: 4 },
      { ...good, nodes: [node] },
      { ...good, nodes: [node, node, node] },
      { ...good, nodes: [node, node.toUpperCase()] },
      { ...good, nodes: [node, node.slice(1)] },
      { ...good, nodes: [node, `${node.slice(2)}zz`] },
      { ...good, nodes: [node, 12] },
      { ...good, nodes: 'ab' },
      { size: 0, nodes: [node] },
    ]) {
      assert.throws(() => MerkleFrontier.fromJSON(bad), TypeError, JSON.stringify(bad));
    }
    assert.equal(MerkleFrontier.fromJSON({ size: 0, nodes: [] }).size, 0);
  });

  test('pushHex appends as push does; rejects anything but 64 hex characters', () => {
    const d = leaves(37, 6);
    const f = new MerkleFrontier();
    const g = new MerkleFrontier();
    for (const h of d) {
      f.push(h);
      g.pushHex(h.toString('hex'));
      assert.deepEqual(g.toJSON(), f.toJSON());
    }
    const hex = d[0]!.toString('hex');
    for (const bad of [
      '',
      hex.slice(2),
      `${hex}00`,
      `zz${hex.slice(2)}`,
      `${hex.slice(0, 62)}g0`,
    ]) {
      assert.throws(() => g.pushHex(bad), TypeError, bad);
    }
    assert.equal(g.size, 37);
  });

  test('pushSubtree of aligned perfect subtrees equals pushing their leaves', () => {
    const d = leaves(100, 7);
    for (const k of [1, 2, 4, 8, 16]) {
      const joined = new MerkleFrontier();
      for (let at = 0; at + k <= d.length; at += k) {
        joined.pushSubtree(mth(d.slice(at, at + k)), k);
        const direct = new MerkleFrontier();
        for (const h of d.slice(0, at + k)) direct.push(h);
        assert.deepEqual(joined.toJSON(), direct.toJSON(), `k=${k} at=${at}`);
      }
    }
    const f = new MerkleFrontier();
    f.push(d[0]!);
    assert.throws(() => f.pushSubtree(mth(d.slice(0, 2)), 2), RangeError);
    assert.throws(() => f.pushSubtree(d[1]!, 3), RangeError);
    assert.throws(() => f.pushSubtree(Buffer.alloc(31), 1), TypeError);
    assert.equal(f.size, 1);
  });

  test('rejects leaves that are not 32-byte hashes', () => {
    const f = new MerkleFrontier();
    for (const bad of [Buffer.alloc(0), Buffer.alloc(33), 'a'.repeat(32), null]) {
      assert.throws(() => f.push(bad as Buffer), TypeError);
    }
    assert.equal(f.size, 0);
  });
});

describe('pruned prefix', () => {
  const d = leaves(45, 5);
  const full = new MerkleTree(d);

  test('a tree grown from the frontier of [0, P) agrees with the full tree', () => {
    for (let p = 0; p <= 45; p++) {
      const tree = new MerkleTree({ prefix: full.frontier(p), leaves: d.slice(p) });
      assert.equal(tree.size, 45);
      assert.equal(tree.prunedSize, p);
      for (let n = Math.max(p, 1); n <= 45; n++) {
        assert.deepEqual(tree.root(n), full.root(n), `P=${p} root(${n})`);
        for (let i = p; i < n; i++) {
          assert.deepEqual(hex(tree.inclusionProof(i, n)), hex(full.inclusionProof(i, n)));
        }
        for (let m = Math.max(p, 1); m <= n; m++) {
          assert.deepEqual(hex(tree.consistencyProof(m, n)), hex(full.consistencyProof(m, n)));
        }
      }
      assert.deepEqual(tree.frontier().toJSON(), full.frontier().toJSON());
    }
  });

  test('proofs that need the pruned leaves throw a RangeError', () => {
    const tree = new MerkleTree({ prefix: full.frontier(10), leaves: d.slice(10) });
    assert.throws(() => tree.inclusionProof(9, 20), /pruned prefix/);
    assert.throws(() => tree.consistencyProof(9, 20), /pruned prefix/);
    assert.throws(() => tree.root(9), /pruned prefix/);
    assert.throws(() => tree.inclusionProof(10, 9), RangeError);
    assert.deepEqual(tree.root(0), EMPTY_ROOT);
    assert.deepEqual(tree.consistencyProof(0, 20), []);
  });

  test('works past 2^32 leaves, with no 32-bit arithmetic', () => {
    const p = 2 ** 40 + 2 ** 33 + 5;
    const prefix = MerkleFrontier.fromJSON({
      size: p,
      nodes: Array.from({ length: 4 }, () => randomBytes(32).toString('hex')),
    });
    const more = leaves(20, 6);
    const tree = new MerkleTree({ prefix });
    const frontier = prefix.clone();
    for (const h of more) {
      tree.push(h);
      frontier.push(h);
      assert.deepEqual(tree.root(), frontier.root());
    }
    const n = p + 20;
    assert.deepEqual(tree.frontier().toJSON(), frontier.toJSON());
    for (let i = p; i < n; i++) {
      assert.ok(verifyInclusion(more[i - p]!, i, n, tree.inclusionProof(i, n), tree.root(n)));
    }
    for (let m = p; m < n; m++) {
      const proofMN = tree.consistencyProof(m, n);
      assert.ok(verifyConsistency(m, n, tree.root(m), tree.root(n), proofMN), `${m}`);
      assert.equal(verifyConsistency(m - 1, n, tree.root(m), tree.root(n), proofMN), false);
    }
  });
});

describe('verifier properties', () => {
  const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
  const hashLike = fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
    fc.uint8Array({ maxLength: 40 }),
    fc.anything(),
  );
  const sizeLike = fc.oneof(
    fc.nat(100),
    fc.maxSafeNat(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(2 ** 53, -0, Number.NaN, Number.POSITIVE_INFINITY),
    fc.anything(),
  );
  const proofLike = fc.oneof(fc.array(hashLike, { maxLength: 70 }), fc.anything());

  test('verifyInclusion and verifyConsistency never throw and return a boolean', () => {
    fc.assert(
      fc.property(hashLike, sizeLike, sizeLike, proofLike, hashLike, (a, b, c, p, e) => {
        const call = verifyInclusion as (...args: unknown[]) => unknown;
        const call2 = verifyConsistency as (...args: unknown[]) => unknown;
        assert.equal(typeof call(a, b, c, p, e), 'boolean');
        assert.equal(typeof call2(b, c, a, e, p), 'boolean');
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test('valid proofs verify and any single flipped bit is rejected', () => {
    const d = leaves(300, 7);
    const tree = new MerkleTree(d);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), fc.nat(), (n, a, b, c) => {
        const i = a % n;
        const m = 1 + (b % n);
        const root = tree.root(n);
        const ip = tree.inclusionProof(i, n);
        const cp = tree.consistencyProof(m, n);
        assert.ok(verifyInclusion(d[i]!, i, n, ip, root));
        assert.ok(verifyConsistency(m, n, tree.root(m), root, cp));
        if (ip.length > 0) {
          ip[c % ip.length]![c % 32]! ^= 1 << (c % 8);
          assert.equal(verifyInclusion(d[i]!, i, n, ip, root), false);
        }
        if (cp.length > 0) {
          cp[c % cp.length]![c % 32]! ^= 1 << (c % 8);
          assert.equal(verifyConsistency(m, n, tree.root(m), root, cp), false);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
