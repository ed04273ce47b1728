// Retrieves ipfs://CID from a trustless gateway with @helia/verified-fetch and prints
// {status, sha256, bytes} of the body:   node verified-fetch.mjs GATEWAY_URL CID
import { fetch as undiciFetch } from 'undici'
import { createHash } from 'node:crypto'

// Node 20 lacks Promise.withResolvers (Node 22+), which Helia's queues use.
if (Promise.withResolvers == null) {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = reject = rej })
    return { promise, resolve, reject }
  }
}
// Use the undici package (6.x, pinned in package.json) rather than Node 20's bundled fetch.
globalThis.fetch = undiciFetch
const { createVerifiedFetchWithHelia } = await import('@helia/verified-fetch')
const { createHeliaLight } = await import('helia')
const { withHTTP } = await import('@helia/http')

const [gateway, cid] = process.argv.slice(2)
// HTTP only, no libp2p: the one gateway is the only provider (no delegated routers, no DHT).
const helia = withHTTP(createHeliaLight(), {
  delegatedRouters: [],
  recursiveGateways: [gateway],
  allowInsecure: true,
  allowLocal: true
})
// helia's routing waits forever when it has no non-fallback router (its idle signal comes from a router
// finishing), so give it one that knows no providers; the gateway then comes from the fallback router.
helia.addRouter({ name: 'no-providers', findProviders: async function * () {} })
await helia.start()
const verifiedFetch = await createVerifiedFetchWithHelia(helia)
const resp = await verifiedFetch(`ipfs://${cid}`)
const h = createHash('sha256')
let bytes = 0
if (resp.body != null) {
  for await (const chunk of resp.body) { h.update(chunk); bytes += chunk.length }
}
console.log(JSON.stringify({ status: resp.status, sha256: h.digest('hex'), bytes }))
await verifiedFetch.stop()
await helia.stop()
process.exit(0)
