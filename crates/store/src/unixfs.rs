//! The UnixFS `Data` message carried in the `Data` field of dag-pb nodes.
//!
//! ```text
//! message Data {
//!   required DataType Type = 1;  optional bytes Data = 2;  optional uint64 filesize = 3;
//!   repeated uint64 blocksizes = 4;  optional uint64 hashType = 5;  optional uint64 fanout = 6;
//!   optional uint32 mode = 7;  optional UnixTime mtime = 8;
//! }
//! ```
//! Fields are written in field order and `blocksizes` unpacked, as kubo (gogo-protobuf) and `ipfs-unixfs` do.

use crate::dagpb::{Error, Reader};

/// UnixFS node kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw data (old-style leaves).
    Raw,
    /// A directory: links are named entries.
    Directory,
    /// A file (a leaf with data, or an inner node whose links are chunks).
    File,
    /// Metadata (unused).
    Metadata,
    /// A symbolic link; `data` is the target.
    Symlink,
    /// A HAMT-sharded directory.
    HamtShard,
}

impl Kind {
    fn code(self) -> u64 {
        match self {
            Kind::Raw => 0,
            Kind::Directory => 1,
            Kind::File => 2,
            Kind::Metadata => 3,
            Kind::Symlink => 4,
            Kind::HamtShard => 5,
        }
    }

    fn from_code(code: u64) -> Result<Kind, Error> {
        Ok(match code {
            0 => Kind::Raw,
            1 => Kind::Directory,
            2 => Kind::File,
            3 => Kind::Metadata,
            4 => Kind::Symlink,
            5 => Kind::HamtShard,
            _ => return Err(Error::Malformed("unknown UnixFS type")),
        })
    }
}

/// A UnixFS `Data` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// Node kind.
    pub kind: Kind,
    /// Inline bytes (file data, symlink target, HAMT bitfield).
    pub data: Option<Vec<u8>>,
    /// Total file size.
    pub filesize: Option<u64>,
    /// File sizes of the children, one per link.
    pub blocksizes: Vec<u64>,
    /// HAMT hash function (murmur3-x64-64 = 0x22).
    pub hash_type: Option<u64>,
    /// HAMT fanout.
    pub fanout: Option<u64>,
    /// POSIX mode bits.
    pub mode: Option<u32>,
    /// Modification time: seconds, optional nanoseconds.
    pub mtime: Option<(i64, Option<u32>)>,
}

impl Data {
    /// A bare node of `kind`.
    pub fn new(kind: Kind) -> Data {
        Data {
            kind,
            data: None,
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
            mtime: None,
        }
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(16 + self.data.as_ref().map_or(0, Vec::len) + 4 * self.blocksizes.len());
        put_varint_field(&mut out, 1, self.kind.code());
        if let Some(d) = &self.data {
            out.push(0x12);
            crate::cid::varint::write(&mut out, d.len() as u64);
            out.extend_from_slice(d);
        }
        if let Some(v) = self.filesize {
            put_varint_field(&mut out, 3, v);
        }
        for &b in &self.blocksizes {
            put_varint_field(&mut out, 4, b);
        }
        if let Some(v) = self.hash_type {
            put_varint_field(&mut out, 5, v);
        }
        if let Some(v) = self.fanout {
            put_varint_field(&mut out, 6, v);
        }
        if let Some(v) = self.mode {
            put_varint_field(&mut out, 7, u64::from(v));
        }
        if let Some((secs, nanos)) = self.mtime {
            let mut t = Vec::new();
            // int64 seconds = 1 (two's complement varint); fixed32 FractionalNanoseconds = 2.
            put_varint_field(&mut t, 1, secs as u64);
            if let Some(n) = nanos {
                t.push(0x15);
                t.extend_from_slice(&n.to_le_bytes());
            }
            out.push(0x42);
            crate::cid::varint::write(&mut out, t.len() as u64);
            out.extend_from_slice(&t);
        }
        out
    }

    /// Decodes a message; unknown fields are an error.
    pub fn decode(bytes: &[u8]) -> Result<Data, Error> {
        let mut r = Reader { bytes, pos: 0 };
        let mut kind = None;
        let mut d = Data::new(Kind::Raw);
        while !r.done() {
            match r.key()? {
                (1, 0) => kind = Some(Kind::from_code(r.varint()?)?),
                (2, 2) => d.data = Some(r.bytes()?.to_vec()),
                (3, 0) => d.filesize = Some(r.varint()?),
                (4, 0) => d.blocksizes.push(r.varint()?),
                (4, 2) => {
                    // Packed form, accepted on read.
                    let mut p = Reader { bytes: r.bytes()?, pos: 0 };
                    while !p.done() {
                        d.blocksizes.push(p.varint()?);
                    }
                }
                (5, 0) => d.hash_type = Some(r.varint()?),
                (6, 0) => d.fanout = Some(r.varint()?),
                (7, 0) => d.mode = Some(r.varint()? as u32),
                (8, 2) => {
                    let mut t = Reader { bytes: r.bytes()?, pos: 0 };
                    let mut secs = 0i64;
                    let mut nanos = None;
                    while !t.done() {
                        match t.key()? {
                            (1, 0) => secs = t.varint()? as i64,
                            (2, 5) => {
                                let b =
                                    t.bytes.get(t.pos..t.pos + 4).ok_or(Error::Malformed("short fixed32"))?;
                                nanos = Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                                t.pos += 4;
                            }
                            _ => return Err(Error::Malformed("unknown UnixTime field")),
                        }
                    }
                    d.mtime = Some((secs, nanos));
                }
                _ => return Err(Error::Malformed("unknown UnixFS field")),
            }
        }
        d.kind = kind.ok_or(Error::Malformed("UnixFS Data without Type"))?;
        Ok(d)
    }
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    crate::cid::varint::write(out, field << 3);
    crate::cid::varint::write(out, v);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_encodings() {
        assert_eq!(Data::new(Kind::Directory).encode(), [0x08, 0x01]);
        let empty_file = Data { filesize: Some(0), ..Data::new(Kind::File) };
        assert_eq!(empty_file.encode(), [0x08, 0x02, 0x18, 0x00]);
        let f = Data { filesize: Some(300), blocksizes: vec![200, 100], ..Data::new(Kind::File) };
        assert_eq!(Data::decode(&f.encode()).unwrap(), f);
        let t = Data { mtime: Some((1_700_000_000, Some(5))), mode: Some(0o644), ..Data::new(Kind::File) };
        assert_eq!(Data::decode(&t.encode()).unwrap(), t);
        assert!(Data::decode(&[0x10, 0x01]).is_err());
        assert!(Data::decode(&[]).is_err());
    }
}
