//! `otpauth://` URIs, the format authenticator apps read from QR codes (Google
//! Authenticator's "Key Uri Format"):
//!
//! ```text
//! otpauth://totp/Mamori:MAMO00001234?secret=BASE32&issuer=Mamori&algorithm=SHA1&digits=6&period=30
//! otpauth://hotp/Mamori:MAMO00001234?secret=BASE32&issuer=Mamori&algorithm=SHA1&digits=6&counter=0
//! ```
//!
//! A URI contains the secret: treat it like the secret itself (show it once as a QR code,
//! never log or store it).

use std::fmt::Write as _;

use url::Url;

use crate::algorithm::{Algorithm, Digits, OtpParams, Period};
use crate::secret::{Secret, SecretError};

/// An `otpauth://` URI that cannot be used.
///
/// No variant carries the URI or the secret, so these errors are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a URI at all.
    #[error("not a valid URI")]
    NotUri,
    /// A scheme other than `otpauth`.
    #[error("URI scheme must be otpauth")]
    UnsupportedScheme,
    /// A type other than `totp` or `hotp`.
    #[error("otpauth type must be totp or hotp")]
    UnknownType,
    /// Malformed percent-encoding, or text that is not UTF-8.
    #[error("otpauth label is not valid percent-encoded UTF-8")]
    InvalidEncoding,
    /// The label has no account name.
    #[error("otpauth label has no account name")]
    MissingAccount,
    /// The issuer or account contains `:`, which would make the label ambiguous.
    #[error("otpauth issuer and account must not contain ':'")]
    ColonInLabel,
    /// The label's issuer prefix and the `issuer` parameter differ.
    #[error("otpauth label issuer and issuer parameter differ")]
    IssuerMismatch,
    /// A parameter appears more than once.
    #[error("otpauth parameter {0} appears more than once")]
    DuplicateParameter(&'static str),
    /// No `secret` parameter.
    #[error("otpauth URI has no secret")]
    MissingSecret,
    /// The `secret` parameter is not an acceptable base32 secret.
    #[error("otpauth secret is invalid: {0}")]
    InvalidSecret(#[source] SecretError),
    /// The `algorithm` parameter is not SHA1, SHA256 or SHA512.
    #[error("otpauth algorithm must be SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    /// The `digits` parameter is not a number from 6 to 8.
    #[error("otpauth digits must be 6, 7 or 8")]
    InvalidDigits,
    /// The `period` parameter is not a number of seconds from 1 to 300.
    #[error("otpauth period must be between 1 and 300 seconds")]
    InvalidPeriod,
    /// An `hotp` URI without a `counter` parameter.
    #[error("otpauth hotp URI has no counter")]
    MissingCounter,
    /// The `counter` parameter is not a 64-bit unsigned number.
    #[error("otpauth counter is not a valid number")]
    InvalidCounter,
}

/// Whether codes follow time or a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpKind {
    /// RFC 6238 time-based codes.
    Totp,
    /// RFC 4226 counter-based codes; `counter` is the token's next counter.
    Hotp {
        /// The counter the token will use for its next code.
        counter: u64,
    },
}

/// Everything an authenticator app needs to set up a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpAuthUri {
    /// Who issued the token, shown by the app (e.g. `"Mamori"` or a bank's name). May be
    /// empty, in which case the URI carries no issuer. Must not contain `:`.
    pub issuer: String,
    /// The account name shown by the app: in Mamori, the credential ID. Must not be empty
    /// or contain `:`.
    pub account: String,
    /// The shared secret.
    pub secret: Secret,
    /// Algorithm, digits and (for TOTP) period.
    pub params: OtpParams,
    /// TOTP or HOTP with its counter.
    pub kind: OtpKind,
}

impl OtpAuthUri {
    /// Formats the URI. Issuer and account are percent-encoded as UTF-8 (so Japanese
    /// names and spaces survive). Every parameter is written out even when it has the
    /// default value, since some apps mishandle omitted ones.
    ///
    /// Fails only if the issuer or account is unusable ([`UriError::ColonInLabel`],
    /// [`UriError::MissingAccount`]). An account that no reader would see is missing too: one of
    /// spaces only (readers drop the spaces after the label's colon), or, without an issuer,
    /// `.` or `..` alone (URL parsing removes such a path segment).
    pub fn to_uri(&self) -> Result<String, UriError> {
        check_label_part(&self.issuer)?;
        check_label_part(&self.account)?;
        let dot_segment = self.issuer.is_empty() && matches!(self.account.as_str(), "." | "..");
        if self.account.trim_start_matches(' ').is_empty() || dot_segment {
            return Err(UriError::MissingAccount);
        }
        let (kind, last_param) = match self.kind {
            OtpKind::Totp => ("totp", format!("period={}", self.params.period)),
            OtpKind::Hotp { counter } => ("hotp", format!("counter={counter}")),
        };
        let mut uri = format!("otpauth://{kind}/");
        if !self.issuer.is_empty() {
            uri.push_str(&percent_encode(&self.issuer));
            uri.push(':');
        }
        uri.push_str(&percent_encode(&self.account));
        uri.push_str("?secret=");
        uri.push_str(&self.secret.to_base32());
        if !self.issuer.is_empty() {
            uri.push_str("&issuer=");
            uri.push_str(&percent_encode(&self.issuer));
        }
        let OtpParams {
            algorithm, digits, ..
        } = self.params;
        // Writing to a String cannot fail.
        let _ = write!(uri, "&algorithm={algorithm}&digits={digits}&{last_param}");
        Ok(uri)
    }

    /// Parses an `otpauth://totp/...` or `otpauth://hotp/...` URI.
    ///
    /// Missing `algorithm`, `digits` and `period` default to SHA1, 6 and 30. The issuer
    /// may come from the label prefix, the `issuer` parameter, or both if they agree.
    /// Unknown parameters (such as `image`) are ignored.
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let url = Url::parse(text).map_err(|_| UriError::NotUri)?;
        if !url.scheme().eq_ignore_ascii_case("otpauth") {
            return Err(UriError::UnsupportedScheme);
        }
        let host = url.host_str().ok_or(UriError::UnknownType)?;
        let is_hotp = if host.eq_ignore_ascii_case("totp") {
            false
        } else if host.eq_ignore_ascii_case("hotp") {
            true
        } else {
            return Err(UriError::UnknownType);
        };

        let (label_issuer, account) = parse_label(url.path())?;
        let query = Query::from_url(&url)?;
        let issuer = merge_issuer(label_issuer, query.issuer)?;
        let secret = query.secret.ok_or(UriError::MissingSecret)?;
        let secret = Secret::from_base32(&secret).map_err(UriError::InvalidSecret)?;
        let params = query_params(query.algorithm, query.digits, query.period)?;
        let kind = if is_hotp {
            let counter = query.counter.ok_or(UriError::MissingCounter)?;
            let counter = parse_decimal(&counter).ok_or(UriError::InvalidCounter)?;
            OtpKind::Hotp { counter }
        } else {
            OtpKind::Totp
        };
        Ok(Self {
            issuer,
            account,
            secret,
            params,
            kind,
        })
    }
}

fn check_label_part(part: &str) -> Result<(), UriError> {
    if part.contains(':') {
        Err(UriError::ColonInLabel)
    } else {
        Ok(())
    }
}

/// Splits the URI path `/Issuer:account` into its optional issuer and account.
fn parse_label(path: &str) -> Result<(Option<String>, String), UriError> {
    let label = percent_decode(path.strip_prefix('/').unwrap_or(path))?;
    let (issuer, account) = match label.split_once(':') {
        Some((issuer, account)) => (Some(issuer.to_owned()), account),
        None => (None, label.as_str()),
    };
    // The Key Uri Format allows spaces after the colon, as in "Mamori: MAMO00001234".
    let account = account.trim_start_matches(' ');
    if account.is_empty() {
        return Err(UriError::MissingAccount);
    }
    check_label_part(account)?;
    Ok((issuer, account.to_owned()))
}

fn merge_issuer(
    from_label: Option<String>,
    from_query: Option<String>,
) -> Result<String, UriError> {
    match (from_label, from_query) {
        (Some(label), Some(query)) if label != query => Err(UriError::IssuerMismatch),
        (Some(issuer), _) | (None, Some(issuer)) => {
            check_label_part(&issuer)?;
            Ok(issuer)
        }
        (None, None) => Ok(String::new()),
    }
}

fn query_params(
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
) -> Result<OtpParams, UriError> {
    let defaults = OtpParams::default();
    let algorithm = match algorithm {
        Some(name) => name
            .parse::<Algorithm>()
            .map_err(|_| UriError::UnknownAlgorithm)?,
        None => defaults.algorithm,
    };
    let digits = match digits {
        Some(text) => parse_decimal(&text)
            .and_then(|n| Digits::new(n).ok())
            .ok_or(UriError::InvalidDigits)?,
        None => defaults.digits,
    };
    let period = match period {
        Some(text) => parse_decimal(&text)
            .and_then(|n| Period::new(n).ok())
            .ok_or(UriError::InvalidPeriod)?,
        None => defaults.period,
    };
    Ok(OtpParams {
        algorithm,
        digits,
        period,
    })
}

/// The query parameters this crate understands, each at most once.
#[derive(Default)]
struct Query {
    secret: Option<String>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl Query {
    fn from_url(url: &Url) -> Result<Self, UriError> {
        let mut query = Self::default();
        for (key, value) in url.query_pairs() {
            let (name, slot) = match key.to_ascii_lowercase().as_str() {
                "secret" => ("secret", &mut query.secret),
                "issuer" => ("issuer", &mut query.issuer),
                "algorithm" => ("algorithm", &mut query.algorithm),
                "digits" => ("digits", &mut query.digits),
                "period" => ("period", &mut query.period),
                "counter" => ("counter", &mut query.counter),
                _ => continue,
            };
            // A repeated parameter means the URI was built wrongly or tampered with;
            // guessing which copy the app will use is not safe.
            if slot.replace(value.into_owned()).is_some() {
                return Err(UriError::DuplicateParameter(name));
            }
        }
        Ok(query)
    }
}

/// Parses unsigned decimal digits only; `str::parse` alone would also accept `+6`.
fn parse_decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters, so the result is
/// safe both in the path and in a query value (spaces become `%20`, not `+`, which
/// some apps would show literally).
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// Decodes `%XX` escapes (leaving `+` alone, as paths do) and requires UTF-8.
fn percent_decode(text: &str) -> Result<String, UriError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let (high, low) = match tail {
                [high, low, ..] => (hex_value(*high), hex_value(*low)),
                _ => (None, None),
            };
            let (high, low) = high.zip(low).ok_or(UriError::InvalidEncoding)?;
            bytes.push(high << 4 | low);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| UriError::InvalidEncoding)
}

/// The value of one hexadecimal digit; `u8::from_str_radix` would also take a sign.
fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_round_trips() {
        for text in ["Mamori", "しんきん 銀行", "a b+c%d/e?f&g=h", ""] {
            assert_eq!(percent_decode(&percent_encode(text)).unwrap(), text);
        }
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("守"), "%E5%AE%88");
    }

    #[test]
    fn percent_decoding_rejects_bad_escapes() {
        for text in ["%", "%4", "%ZZ", "%E5%AE", "%+1"] {
            assert_eq!(
                percent_decode(text),
                Err(UriError::InvalidEncoding),
                "{text}"
            );
        }
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
    }

    /// Found by fuzz/'s `otpauth_uri`: these were written, and then read as having no account.
    #[test]
    fn an_account_no_reader_would_see_is_not_written() {
        let token = |issuer: &str, account: &str| OtpAuthUri {
            issuer: issuer.to_owned(),
            account: account.to_owned(),
            secret: Secret::from_bytes(b"12345678901234567890").unwrap(),
            params: OtpParams::default(),
            kind: OtpKind::Totp,
        };
        for (issuer, account) in [("", "   "), ("Mamori", " "), ("", "."), ("", "..")] {
            assert_eq!(
                token(issuer, account).to_uri(),
                Err(UriError::MissingAccount),
                "{issuer:?} {account:?}"
            );
        }
        // Behind an issuer the label is not a dot segment, and reads back.
        let dots = token("Mamori", "..");
        assert_eq!(OtpAuthUri::parse(&dots.to_uri().unwrap()), Ok(dots));
    }

    #[test]
    fn decimal_parsing_is_strict() {
        assert_eq!(parse_decimal::<u8>("6"), Some(6));
        assert_eq!(parse_decimal::<u8>("+6"), None);
        assert_eq!(parse_decimal::<u8>(""), None);
        assert_eq!(parse_decimal::<u8>(" 6"), None);
        assert_eq!(parse_decimal::<u8>("256"), None);
    }
}
