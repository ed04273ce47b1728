//! Reading HAMT-sharded UnixFS directories (kubo and Helia shard directories above 256 KiB).
//!
//! A shard node's links are named `XX` (two upper-case hex digits: a sub-shard) or `XXname` (an entry).
//! Listing needs no hashing: every entry sits under exactly one prefix path.

use crate::Error;
use crate::blockstore::Blockstore;
use crate::cid::Cid;
use crate::dagpb::Node;
use crate::exporter::{Decoded, decode, load};
use crate::unixfs::Kind;

/// All (name, cid) entries of the sharded directory whose root node is `node` (named `cid`).
pub(crate) fn entries(store: &dyn Blockstore, cid: &Cid, node: &Node) -> Result<Vec<(String, Cid)>, Error> {
    let mut out = Vec::new();
    let mut stack: Vec<(Cid, Vec<crate::dagpb::Link>)> = vec![(*cid, node.links.clone())];
    while let Some((at, links)) = stack.pop() {
        for link in links {
            let name = link.name.unwrap_or_default();
            if name.len() < 2 || !name.is_char_boundary(2) {
                return Err(Error::Invalid(format!(
                    "{at}: HAMT link name {name:?} lacks its two-digit prefix"
                )));
            }
            if name.len() == 2 {
                match decode(&link.cid, load(store, &link.cid)?)? {
                    Decoded::Pb { node, unixfs: Some(d) } if d.kind == Kind::HamtShard => {
                        stack.push((link.cid, node.links));
                    }
                    _ => {
                        return Err(Error::Invalid(format!(
                            "{}: HAMT sub-shard is not a shard node",
                            link.cid
                        )));
                    }
                }
            } else {
                out.push((name[2..].to_owned(), link.cid));
            }
        }
    }
    out.sort();
    Ok(out)
}
