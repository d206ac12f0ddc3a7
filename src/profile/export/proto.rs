//! The little of the protocol-buffers wire format pprof needs: varints, and fields that are
//! varints, length-delimited bytes, nested messages or packed repeated varints. Proto3: a field
//! at its default (0, empty) is left out, as a decoder reads it back the same.

/// A message being written.
#[derive(Default)]
pub(super) struct Message {
    buf: Vec<u8>,
}

const VARINT: u64 = 0;
const LEN: u64 = 2;

impl Message {
    pub fn new() -> Message {
        Message::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u64) {
        self.varint((u64::from(field) << 3) | wire);
    }

    /// A `uint64` field.
    pub fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// An `int64` field: negative values as their two's complement (ten bytes), as protobuf
    /// encodes `int64`.
    pub fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    /// A `bool` field.
    pub fn bool(&mut self, field: u32, v: bool) {
        self.uint(field, u64::from(v));
    }

    /// A `bytes` or `string` field, written even when empty (a repeated string's element).
    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A nested message, written even when empty (a repeated message's element).
    pub fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.buf);
    }

    /// A packed repeated `int64`/`uint64` field.
    pub fn packed(&mut self, field: u32, values: impl IntoIterator<Item = u64>) {
        let mut inner = Message::new();
        for v in values {
            inner.varint(v);
        }
        if !inner.buf.is_empty() {
            self.bytes(field, &inner.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_encoded_as_protobuf_does() {
        let mut m = Message::new();
        m.uint(1, 150);
        m.uint(2, 0);
        m.int(3, -1);
        m.bytes(4, b"hi");
        m.packed(5, [3, 270]);
        let mut inner = Message::new();
        inner.bool(1, true);
        m.message(6, inner);
        let mut want = vec![0x08, 0x96, 0x01, 0x18];
        want.extend([0xff; 9]);
        want.push(0x01);
        want.extend([
            0x22, 2, b'h', b'i', 0x2a, 3, 3, 0x8e, 0x02, 0x32, 2, 0x08, 1,
        ]);
        assert_eq!(m.into_bytes(), want);
    }
}
