//! CAR (Content Addressable aRchive) v1: a dag-cbor header `{roots, version: 1}` followed by
//! `varint(len) cid block` sections. [`Reader`] streams and verifies; [`Writer`] streams out. CARv2 files are
//! read through their inner CARv1 payload.

use std::io::{self, Read, Write};

use crate::cid::{Cid, varint};

/// Largest block accepted from a CAR (kubo's own limit is 2 MiB; unixfs-v1-2025 uses 1 MiB chunks).
pub const MAX_BLOCK: usize = 4 * 1024 * 1024;
/// Largest header accepted.
const MAX_HEADER: usize = 1024 * 1024;

/// Errors reading a CAR.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stream failed or ended in the middle of a header or section.
    #[error("CAR read failed: {0}")]
    Io(#[from] io::Error),
    /// The header is not a valid CAR header.
    #[error("invalid CAR header: {0}")]
    Header(&'static str),
    /// A section is malformed.
    #[error("invalid CAR section at byte {offset}: {reason}")]
    Section {
        /// Offset of the section in the stream.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A block's bytes do not hash to its CID.
    #[error("CAR block {0} does not match its CID (corrupt or forged data)")]
    HashMismatch(Cid),
}

/// Streams blocks out of a CAR, checking each against its CID.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    roots: Vec<Cid>,
    offset: u64,
    /// For CARv2: bytes of the CARv1 payload left to read.
    limit: Option<u64>,
}

impl<R: Read> Reader<R> {
    /// Reads the header.
    pub fn new(mut inner: R) -> Result<Self, Error> {
        let (header, used) = read_header(&mut inner)?;
        let mut offset = used;
        match header.version {
            1 => Ok(Reader { inner, roots: header.roots, offset, limit: None }),
            2 => {
                // CARv2: 40-byte header (16 bytes characteristics, data offset, data size, index offset).
                let mut h = [0u8; 40];
                inner.read_exact(&mut h)?;
                offset += 40;
                let data_offset = u64::from_le_bytes(h[16..24].try_into().map_err(|_| Error::Header("v2"))?);
                let data_size = u64::from_le_bytes(h[24..32].try_into().map_err(|_| Error::Header("v2"))?);
                let gap = data_offset
                    .checked_sub(offset)
                    .ok_or(Error::Header("CARv2 data offset inside its header"))?;
                io::copy(&mut (&mut inner).take(gap), &mut io::sink())?;
                offset += gap;
                let (inner_header, used) = read_header(&mut inner)?;
                if inner_header.version != 1 {
                    return Err(Error::Header("CARv2 payload is not a CARv1"));
                }
                let limit = data_size.checked_sub(used).ok_or(Error::Header("CARv2 data size too small"))?;
                Ok(Reader { inner, roots: inner_header.roots, offset: offset + used, limit: Some(limit) })
            }
            _ => Err(Error::Header("unsupported CAR version")),
        }
    }

    /// The roots named in the header.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next verified block, or `None` at a clean end of the stream.
    pub fn next_block(&mut self) -> Result<Option<(Cid, Vec<u8>)>, Error> {
        if self.limit == Some(0) {
            return Ok(None);
        }
        let start = self.offset;
        let section = |reason: String| Error::Section { offset: start, reason };
        let Some((len, used)) = read_varint(&mut self.inner)? else { return Ok(None) };
        let len = usize::try_from(len).map_err(|_| section("length overflows".into()))?;
        if len > MAX_BLOCK + 128 {
            return Err(section(format!("section of {len} bytes exceeds the {MAX_BLOCK}-byte block limit")));
        }
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf).map_err(|e| section(format!("truncated section: {e}")))?;
        self.offset += (used + len) as u64;
        if let Some(l) = &mut self.limit {
            *l = l
                .checked_sub((used + len) as u64)
                .ok_or_else(|| section("section runs past the CARv2 payload".into()))?;
        }
        let (cid, cid_len) = Cid::read_prefix(&buf).map_err(|e| section(format!("bad CID: {e}")))?;
        let data = buf.split_off(cid_len);
        if !cid.verify(&data) {
            return Err(Error::HashMismatch(cid));
        }
        Ok(Some((cid, data)))
    }
}

/// Reads a varint from a stream; `None` if the stream ends before its first byte.
fn read_varint(r: &mut impl Read) -> Result<Option<(u64, usize)>, Error> {
    let mut bytes = Vec::with_capacity(10);
    loop {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(0) if bytes.is_empty() => return Ok(None),
            Ok(0) => return Err(Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated varint"))),
            Ok(_) => {
                bytes.push(b[0]);
                if b[0] & 0x80 == 0 {
                    let v = varint::read(&bytes)
                        .ok_or_else(|| Error::Io(io::Error::new(io::ErrorKind::InvalidData, "bad varint")))?;
                    return Ok(Some(v));
                }
                if bytes.len() >= 10 {
                    return Err(Error::Io(io::Error::new(io::ErrorKind::InvalidData, "varint too long")));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

struct Header {
    version: u64,
    roots: Vec<Cid>,
}

fn read_header(r: &mut impl Read) -> Result<(Header, u64), Error> {
    let (len, used) = read_varint(r)?.ok_or(Error::Header("empty stream"))?;
    let len = usize::try_from(len).map_err(|_| Error::Header("length overflows"))?;
    if len == 0 || len > MAX_HEADER {
        return Err(Error::Header("header length out of range"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    let header = parse_header(&buf)?;
    Ok((header, (used + len) as u64))
}

/// Parses the dag-cbor header map; only the shapes a CAR header can take are accepted.
fn parse_header(buf: &[u8]) -> Result<Header, Error> {
    let mut c = Cbor { buf, pos: 0 };
    let (major, n) = c.head()?;
    if major != 5 {
        return Err(Error::Header("header is not a map"));
    }
    let mut version = None;
    let mut roots = None;
    for _ in 0..n {
        let key = c.text()?;
        match key {
            b"version" => {
                let (major, v) = c.head()?;
                if major != 0 {
                    return Err(Error::Header("version is not an integer"));
                }
                version = Some(v);
            }
            b"roots" => {
                let (major, count) = c.head()?;
                if major != 4 {
                    return Err(Error::Header("roots is not an array"));
                }
                let mut list = Vec::new();
                for _ in 0..count {
                    let (major, tag) = c.head()?;
                    if major != 6 || tag != 42 {
                        return Err(Error::Header("root is not a CID (tag 42)"));
                    }
                    let bytes = c.bytes()?;
                    if bytes.first() != Some(&0) {
                        return Err(Error::Header("CID bytes lack the 0x00 multibase prefix"));
                    }
                    list.push(
                        Cid::from_bytes(&bytes[1..]).map_err(|_| Error::Header("root CID is invalid"))?,
                    );
                }
                roots = Some(list);
            }
            _ => return Err(Error::Header("unknown header key")),
        }
    }
    if c.pos != buf.len() {
        return Err(Error::Header("trailing bytes in header"));
    }
    let version = version.ok_or(Error::Header("missing version"))?;
    // CARv2's pragma is `{version: 2}` without roots.
    let roots = match (version, roots) {
        (1, Some(r)) => r,
        (1, None) => return Err(Error::Header("missing roots")),
        (_, r) => r.unwrap_or_default(),
    };
    Ok(Header { version, roots })
}

struct Cbor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cbor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Header("length overflows"))?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Header("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn head(&mut self) -> Result<(u8, u64), Error> {
        let b = self.take(1)?[0];
        let major = b >> 5;
        let info = b & 0x1f;
        let v = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]])),
            26 => {
                let s = self.take(4)?;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            27 => {
                let s = self.take(8)?;
                u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            _ => return Err(Error::Header("indefinite or reserved CBOR length")),
        };
        Ok((major, v))
    }

    fn text(&mut self) -> Result<&'a [u8], Error> {
        let (major, n) = self.head()?;
        if major != 3 {
            return Err(Error::Header("map key is not a string"));
        }
        self.take(usize::try_from(n).map_err(|_| Error::Header("length overflows"))?)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let (major, n) = self.head()?;
        if major != 2 {
            return Err(Error::Header("expected a byte string"));
        }
        self.take(usize::try_from(n).map_err(|_| Error::Header("length overflows"))?)
    }
}

fn cbor_head(out: &mut Vec<u8>, major: u8, v: u64) {
    let m = major << 5;
    if v < 24 {
        out.push(m | v as u8);
    } else if v < 0x100 {
        out.extend([m | 24, v as u8]);
    } else if v < 0x1_0000 {
        out.push(m | 25);
        out.extend((v as u16).to_be_bytes());
    } else if v < 0x1_0000_0000 {
        out.push(m | 26);
        out.extend((v as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend(v.to_be_bytes());
    }
}

/// The dag-cbor header `{"roots": [...], "version": 1}` (keys in dag-cbor order: shorter first).
pub(crate) fn header_bytes(roots: &[Cid]) -> Vec<u8> {
    let mut h = Vec::new();
    cbor_head(&mut h, 5, 2);
    cbor_head(&mut h, 3, 5);
    h.extend_from_slice(b"roots");
    cbor_head(&mut h, 4, roots.len() as u64);
    for root in roots {
        cbor_head(&mut h, 6, 42);
        let bytes = root.to_bytes();
        cbor_head(&mut h, 2, bytes.len() as u64 + 1);
        h.push(0);
        h.extend_from_slice(&bytes);
    }
    cbor_head(&mut h, 3, 7);
    h.extend_from_slice(b"version");
    cbor_head(&mut h, 0, 1);
    h
}

/// Writes a CARv1 stream.
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    seen: std::collections::HashSet<Cid>,
}

impl<W: Write> Writer<W> {
    /// Writes the header naming `roots`.
    pub fn new(mut inner: W, roots: &[Cid]) -> io::Result<Self> {
        let h = header_bytes(roots);
        let mut len = Vec::new();
        varint::write(&mut len, h.len() as u64);
        inner.write_all(&len)?;
        inner.write_all(&h)?;
        Ok(Writer { inner, seen: Default::default() })
    }

    /// Appends a block; a block already written is skipped (the gateway's `dups=n`).
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> io::Result<()> {
        if !self.seen.insert(*cid) {
            return Ok(());
        }
        let cid_bytes = cid.to_bytes();
        let mut head = Vec::with_capacity(48);
        varint::write(&mut head, (cid_bytes.len() + data.len()) as u64);
        head.extend_from_slice(&cid_bytes);
        self.inner.write_all(&head)?;
        self.inner.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cid::{RAW, Version};

    #[test]
    fn round_trip_and_corruption() {
        let a = Cid::hash_block(Version::V1, RAW, b"a");
        let b = Cid::hash_block(Version::V1, RAW, b"bb");
        let mut w = Writer::new(Vec::new(), &[a]).unwrap();
        w.write_block(&a, b"a").unwrap();
        w.write_block(&b, b"bb").unwrap();
        w.write_block(&a, b"a").unwrap();
        let car = w.finish().unwrap();
        let mut r = Reader::new(car.as_slice()).unwrap();
        assert_eq!(r.roots(), &[a]);
        assert_eq!(r.next_block().unwrap(), Some((a, b"a".to_vec())));
        assert_eq!(r.next_block().unwrap(), Some((b, b"bb".to_vec())));
        assert_eq!(r.next_block().unwrap(), None);

        // Truncation anywhere after the header is an error, never a silent short read.
        for cut in 1..car.len() {
            let mut ok = true;
            match Reader::new(&car[..cut]) {
                Err(_) => ok = false,
                Ok(mut r) => loop {
                    match r.next_block() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                },
            }
            // Cutting exactly at a section boundary is a valid shorter CAR.
            let boundary = cut == car.len() - (1 + 36 + 2) || cut == car.len() - (1 + 36 + 2) - (1 + 36 + 1);
            assert_eq!(ok, boundary, "cut at {cut}");
        }
        // The same payload inside a CARv2 (pragma, 40-byte header, a gap, then the CARv1) reads the same.
        let mut v2 = vec![0x0a, 0xa1, 0x67];
        v2.extend_from_slice(b"version");
        v2.push(0x02);
        let data_offset = 11u64 + 40 + 5;
        v2.extend_from_slice(&[0u8; 16]);
        v2.extend_from_slice(&data_offset.to_le_bytes());
        v2.extend_from_slice(&(car.len() as u64).to_le_bytes());
        v2.extend_from_slice(&0u64.to_le_bytes());
        v2.extend_from_slice(&[0u8; 5]);
        v2.extend_from_slice(&car);
        v2.extend_from_slice(b"index bytes after the payload are not blocks");
        let mut r = Reader::new(v2.as_slice()).unwrap();
        assert_eq!(r.roots(), &[a]);
        assert_eq!(r.next_block().unwrap(), Some((a, b"a".to_vec())));
        assert_eq!(r.next_block().unwrap(), Some((b, b"bb".to_vec())));
        assert_eq!(r.next_block().unwrap(), None);

        // Flip a data byte: hash mismatch.
        let mut bad = car.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut r = Reader::new(bad.as_slice()).unwrap();
        r.next_block().unwrap();
        assert!(matches!(r.next_block(), Err(Error::HashMismatch(_))));
    }
}
