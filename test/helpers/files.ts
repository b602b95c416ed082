/** Test data and file checks: random objects (hashed as they are written), streamed SHA-256, store paths. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface Obj {
  /** Path of the file as written (usually inside a work tree). */
  path: string;
  oid: string;
  size: number;
}

/** Writes `size` random bytes in 1 MiB pieces and returns the file's oid (SHA-256), computed on the way. */
export async function writeRandomFile(path: string, size: number): Promise<Obj> {
  await mkdir(dirname(path), { recursive: true });
  const sha = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(MiB, size - done);
      const buf = randomBytes(n);
      sha.update(buf);
      await fh.write(buf, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
  return { path, oid: sha.digest('hex'), size };
}

/** Writes several random files `<dir>/<prefix><i>.dat` of the given sizes. */
export async function writeRandomFiles(dir: string, sizes: number[], prefix = 'obj'): Promise<Obj[]> {
  const out: Obj[] = [];
  for (const [i, size] of sizes.entries()) out.push(await writeRandomFile(join(dir, `${prefix}${i}.dat`), size));
  return out;
}

export async function sha256File(path: string): Promise<string> {
  const sha = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) sha.update(chunk as Buffer);
  return sha.digest('hex');
}

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** `<root>/<oid[0:2]>/<oid[2:4]>/<oid>`: the layout of the local store and of <lfs>/objects alike. */
export const objectPath = (root: string, oid: string) => join(root, oid.slice(0, 2), oid.slice(2, 4), oid);

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function sizeOf(path: string): Promise<number> {
  try {
    return (await lstat(path)).size;
  } catch {
    return -1;
  }
}

/** Names in a directory; [] when it does not exist. */
export async function ls(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

export interface FileInfo {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** Every regular file below `root` (relative path → size, mtime, inode). */
export async function snapshot(root: string): Promise<Map<string, FileInfo>> {
  const out = new Map<string, FileInfo>();
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p).catch(() => null);
        if (st) out.set(relative(root, p), { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
      }
    }
  };
  await walk(root);
  return out;
}

/** Files new or changed in `after` compared with `before` (relative paths). */
export function changedFiles(before: Map<string, FileInfo>, after: Map<string, FileInfo>): string[] {
  const out: string[] = [];
  for (const [p, a] of after) {
    const b = before.get(p);
    if (!b || b.size !== a.size || b.mtimeMs !== a.mtimeMs || b.ino !== a.ino) out.push(p);
  }
  return out.sort();
}

/** Flips one byte of a file in place. */
export async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

/** 100 MiB of random data, written once per test run and copied where needed. */
export const BIG = 100 * MiB;
let big: Promise<{ path: string; oid: string; size: number }> | undefined;
let bigDir: string | undefined;

export function bigFixture(): Promise<{ path: string; oid: string; size: number }> {
  big ??= (async () => {
    bigDir = await mkdtemp(join(tmpdir(), 'lfs-bridge-e2e-big-'));
    process.once('exit', () => {
      if (bigDir) rmSync(bigDir, { recursive: true, force: true });
    });
    return writeRandomFile(join(bigDir, 'big.bin'), BIG);
  })();
  return big;
}

/** Copies the 100 MiB fixture to `dest` and returns it as an object there. */
export async function copyBig(dest: string): Promise<Obj> {
  const b = await bigFixture();
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(b.path, dest);
  return { path: dest, oid: b.oid, size: b.size };
}

/** Writes the given bytes and returns the file as an object. */
export async function writeBytes(path: string, data: Uint8Array | string): Promise<Obj> {
  await mkdir(dirname(path), { recursive: true });
  const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  await writeFile(path, buf);
  return { path, oid: sha256(buf), size: buf.length };
}
