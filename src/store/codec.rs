//! A small length-prefixed binary encoding for the parts of durable rows
//! that are not plain columns (message attributes, tags, attribute lists,
//! key versions). Domain types do not derive serde traits, so the store
//! writes them field by field; a reader that meets a malformed value fails
//! instead of guessing (the data directory is then refused as corrupt).

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    /// A little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A little-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A little-endian u128.
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
        self
    }

    /// A length-prefixed string.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// An optional string (a presence byte, then the string).
    pub fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.u8(1).str(s),
            None => self.u8(0),
        }
    }

    /// Optional bytes.
    pub fn opt_bytes(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            Some(b) => self.u8(1).bytes(b),
            None => self.u8(0),
        }
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Why a stored value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed;

/// Reads values written by [`Writer`], in the same order.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed)
    }

    /// One byte.
    ///
    /// # Errors
    /// [`Malformed`] at the end of the input.
    pub fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    /// A u32.
    ///
    /// # Errors
    /// [`Malformed`] at the end of the input.
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A u64.
    ///
    /// # Errors
    /// [`Malformed`] at the end of the input.
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u128.
    ///
    /// # Errors
    /// [`Malformed`] at the end of the input.
    pub fn u128(&mut self) -> Result<u128, Malformed> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    /// Length-prefixed bytes.
    ///
    /// # Errors
    /// [`Malformed`] when the input is shorter than its prefix says.
    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = usize::try_from(self.u32()?).map_err(|_| Malformed)?;
        self.take(n)
    }

    /// A length-prefixed string.
    ///
    /// # Errors
    /// [`Malformed`] for a short input or bytes that are not UTF-8.
    pub fn string(&mut self) -> Result<String, Malformed> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| Malformed)
    }

    /// An optional string.
    ///
    /// # Errors
    /// As [`Self::string`], or a presence byte other than 0 or 1.
    pub fn opt_string(&mut self) -> Result<Option<String>, Malformed> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(Malformed),
        }
    }

    /// Optional bytes.
    ///
    /// # Errors
    /// As [`Self::bytes`], or a presence byte other than 0 or 1.
    pub fn opt_bytes(&mut self) -> Result<Option<Vec<u8>>, Malformed> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.bytes().map(|b| Some(b.to_vec())),
            _ => Err(Malformed),
        }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_in_order_and_short_input_is_refused() {
        let mut w = Writer::new();
        w.u8(7)
            .u32(9)
            .u64(u64::MAX)
            .u128(5)
            .str("héllo")
            .opt_str(None)
            .opt_bytes(Some(b"x"));
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u32(), Ok(9));
        assert_eq!(r.u64(), Ok(u64::MAX));
        assert_eq!(r.u128(), Ok(5));
        assert_eq!(r.string().as_deref(), Ok("héllo"));
        assert_eq!(r.opt_string(), Ok(None));
        assert_eq!(r.opt_bytes(), Ok(Some(b"x".to_vec())));
        assert!(r.is_empty());
        let mut short = Reader::new(&bytes[..bytes.len() - 1]);
        short.u8().unwrap();
        short.u32().unwrap();
        short.u64().unwrap();
        short.u128().unwrap();
        short.string().unwrap();
        short.opt_string().unwrap();
        assert_eq!(short.opt_bytes(), Err(Malformed));
    }
}
