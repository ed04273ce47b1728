// CAR interop with `@ipld/car`:
//   node car.mjs read FILE.car     verify every block's hash, print {roots, blocks, sha256 of each root file}
//   node car.mjs write FILE PROFILE OUT.car   import FILE with ipfs-unixfs-importer, write its DAG as a CAR
import { CarBlockIterator, CarWriter } from '@ipld/car'
import { importer } from 'ipfs-unixfs-importer'
import { exporter } from 'ipfs-unixfs-exporter'
import { sha256 } from 'multiformats/hashes/sha2'
import { createReadStream, createWriteStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const [cmd, ...args] = process.argv.slice(2)

// A minimal blockstore that keeps CIDs as given (blockstore-core's getAll() rewrites them as raw CIDs).
class MapStore {
  constructor () { this.blocks = new Map() }
  async put (cid, bytes) { this.blocks.set(cid.toString(), { cid, bytes }); return cid }
  * get (cid) {
    const b = this.blocks.get(cid.toString())
    if (b == null) throw new Error(`missing block ${cid}`)
    yield b.bytes
  }
  async has (cid) { return this.blocks.has(cid.toString()) }
}

if (cmd === 'read') {
  const blocks = await CarBlockIterator.fromIterable(createReadStream(args[0]))
  const roots = await blocks.getRoots()
  const store = new MapStore()
  let count = 0
  for await (const { cid, bytes } of blocks) {
    const digest = await sha256.digest(bytes)
    if (cid.multihash.code !== sha256.code || !equal(digest.digest, cid.multihash.digest)) {
      throw new Error(`block ${cid} does not match its CID`)
    }
    await store.put(cid, bytes)
    count++
  }
  const files = {}
  for (const root of roots) {
    const entry = await exporter(root.toString(), store)
    if (entry.type === 'file' || entry.type === 'raw') {
      const h = createHash('sha256')
      for await (const chunk of entry.content()) h.update(chunk)
      files[root.toString()] = h.digest('hex')
    }
  }
  console.log(JSON.stringify({ roots: roots.map(String), blocks: count, files }))
} else if (cmd === 'write') {
  const [file, profile, out] = args
  const store = new MapStore()
  const options = profile === 'default' ? {} : { profile }
  let root
  for await (const entry of importer([{ path: 'f', content: createReadStream(file) }], store, options)) root = entry.cid
  const { writer, out: carOut } = CarWriter.create([root])
  const done = pipeline(Readable.from(carOut), createWriteStream(out))
  for (const { cid, bytes } of store.blocks.values()) await writer.put({ cid, bytes })
  await writer.close()
  await done
  console.log(JSON.stringify({ root: root.toString() }))
} else {
  throw new Error('usage: car.mjs read FILE.car | write FILE PROFILE OUT.car')
}

function equal (a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
