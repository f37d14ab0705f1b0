//! Hardware token seed files, read into checked token seeds: PSKC (RFC 6030, plain or with
//! key packages encrypted under a pre-shared AES key) and a CSV of
//! `serial,secret,type,digits,period`.
//!
//! A file is read whole and judged whole: either every token in it is usable, or the answer is
//! every fault found, each with the line it is on, so an operator fixes the file once rather
//! than token by token. A fault never quotes a value from the file: a shifted CSV column or a
//! mis-tagged XML element can put a seed where a serial or type was expected, and an error
//! report must not be where a seed leaks.
//!
//! Nothing here touches a database; the caller stores the seeds (or refuses serials that are
//! already taken, as [`Fault::SerialTaken`]).

mod csv_file;
mod fault;
mod pskc;
mod seed;

pub use csv_file::parse_csv;
pub use fault::{Fault, LineError};
pub use pskc::parse_pskc;
pub use seed::{MAX_FAULTS, MAX_TOKENS, TokenSeed};

/// The file formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 6030 Portable Symmetric Key Container.
    Pskc,
    /// `serial,secret,type,digits,period` with a header line.
    Csv,
}

/// Reads `text` as `format`; `psk` decrypts encrypted PSKC key packages.
pub fn parse(
    format: Format,
    text: &str,
    psk: Option<&[u8]>,
) -> Result<Vec<TokenSeed>, Vec<LineError>> {
    match format {
        Format::Pskc => parse_pskc(text, psk),
        Format::Csv => parse_csv(text),
    }
}
