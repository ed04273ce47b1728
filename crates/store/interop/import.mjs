// Imports files or directories with the real `ipfs-unixfs-importer` and prints one JSON line per root:
//   node import.mjs <default|unixfs-v1-2025|unixfs-v0-2015> PATH...
// A directory is imported with all of its entries (hidden ones included), as `ocean store add -r --hidden`.
import { importer } from 'ipfs-unixfs-importer'
import { createReadStream, readdirSync, lstatSync, readlinkSync } from 'node:fs'
import { basename, join } from 'node:path'

const [profile, ...paths] = process.argv.slice(2)
const options = profile === 'default' ? {} : { profile }
// A blockstore that keeps nothing: only CIDs are compared.
const blockstore = { put: async (cid) => cid, get: async () => { throw new Error('not stored') }, has: async () => false }

function * walk (dir, prefix) {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    const st = lstatSync(full)
    const path = `${prefix}/${name}`
    if (st.isSymbolicLink()) yield { path, content: undefined, target: readlinkSync(full) }
    else if (st.isDirectory()) { yield { path }; yield * walk(full, path) }
    else yield { path, content: createReadStream(full, { highWaterMark: 1 << 20 }) }
  }
}

// `zeros:N` stands for N zero bytes, generated here (the 1024-link boundaries need GiB-sized inputs).
async function * zeros (n) {
  const block = new Uint8Array(1 << 20)
  while (n > 0) { const k = Math.min(n, block.length); yield block.subarray(0, k); n -= k }
}

for (const p of paths) {
  if (p.startsWith('zeros:')) {
    let root
    for await (const entry of importer([{ path: 'z', content: zeros(Number(p.slice(6))) }], blockstore, options)) root = entry
    console.log(JSON.stringify({ path: p, cid: root.cid.toString(), size: Number(root.size) }))
    continue
  }
  const st = lstatSync(p)
  const name = basename(p)
  const source = st.isDirectory() ? [{ path: name }, ...walk(p, name)] : [{ path: name, content: createReadStream(p, { highWaterMark: 1 << 20 }) }]
  let root
  for await (const entry of importer(source, blockstore, options)) {
    if (entry.path === name) root = entry
  }
  console.log(JSON.stringify({ path: p, cid: root.cid.toString(), size: Number(root.size) }))
}
