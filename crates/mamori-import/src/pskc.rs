//! PSKC, the Portable Symmetric Key Container of RFC 6030, as token vendors deliver seeds.
//!
//! Read: HOTP and TOTP keys (`…:hotp`, `…:totp`) with their serial (`DeviceInfo/SerialNo`,
//! else the key's `Id`), response length, hash (`Suite`), counter and time step; secrets in
//! `PlainValue` or in `EncryptedValue` under a pre-shared AES-CBC key (§6.1) with a
//! `ValueMAC` (HMAC-SHA1 or -SHA256 over IV and ciphertext, keyed by the file's encrypted
//! `MACKey`). The MAC is checked before anything is decrypted.
//!
//! Refused, with a line-numbered fault: password-based encryption (§6.2), key transport to a
//! certificate (§6.3), other ciphers, OCRA and other algorithms, a time origin other than the
//! Unix epoch, a recorded drift, and any DTD (PSKC needs none, and entity expansion is a way
//! to make a small file huge).

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use mamori_domain::CredentialKind;
use mamori_otp::{Algorithm, Digits, OtpParams, Period, TokenSerial};
use roxmltree::{Document, Node, ParsingOptions};

use crate::fault::{Fault, LineError};
use crate::seed::{Faults, TokenSeed, check_batch, hash_of, secret_of};

/// Reads a PSKC document; `psk` is the pre-shared key its key packages are encrypted with.
pub fn parse_pskc(text: &str, psk: Option<&[u8]>) -> Result<Vec<TokenSeed>, Vec<LineError>> {
    let mut faults = Faults::default();
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = match Document::parse_with_options(text, options) {
        Ok(doc) => doc,
        Err(roxmltree::Error::DtdDetected) => {
            faults.add(1, Fault::DtdRefused);
            return faults.into_result(Vec::new());
        }
        Err(err) => {
            faults.add(err.pos().row, Fault::NotXml(err.to_string()));
            return faults.into_result(Vec::new());
        }
    };
    let file = File { doc: &doc };
    let root = doc.root_element();
    if root.tag_name().name() != "KeyContainer" || root.attribute("Version") != Some("1.0") {
        faults.add(file.line(root), Fault::NotPskc);
        return faults.into_result(Vec::new());
    }
    let keys = match file.keys(root, psk) {
        Ok(keys) => keys,
        Err(err) => {
            faults.add(err.line, err.fault);
            return faults.into_result(Vec::new());
        }
    };
    let mut seeds = Vec::new();
    for package in children(root, "KeyPackage") {
        match file.token(package, &keys) {
            Ok(seed) => seeds.push(seed),
            Err(err) => faults.add(err.line, err.fault),
        }
    }
    check_batch(&seeds, &mut faults);
    faults.into_result(seeds)
}

/// The keys that open a file's encrypted values.
struct Keys<'k> {
    psk: Option<&'k [u8]>,
    mac: Option<(MacAlgorithm, Vec<u8>)>,
}

#[derive(Debug, Clone, Copy)]
enum MacAlgorithm {
    Sha1,
    Sha256,
}

struct File<'d, 'input> {
    doc: &'d Document<'input>,
}

impl<'d, 'input> File<'d, 'input> {
    fn line(&self, node: Node<'_, '_>) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    fn at(&self, node: Node<'_, '_>, fault: Fault) -> LineError {
        LineError {
            line: self.line(node),
            fault,
        }
    }

    /// The pre-shared key, and the MAC key it decrypts, if the file encrypts anything.
    fn keys<'k>(
        &self,
        root: Node<'d, 'input>,
        psk: Option<&'k [u8]>,
    ) -> Result<Keys<'k>, LineError> {
        if let Some(derived) = root
            .descendants()
            .find(|n| n.tag_name().name() == "DerivedKey")
        {
            return Err(self.at(derived, Fault::PasswordEncryptionUnsupported));
        }
        let encrypted = root
            .descendants()
            .find(|n| n.tag_name().name() == "EncryptedValue");
        let Some(first_encrypted) = encrypted else {
            return Ok(Keys { psk, mac: None });
        };
        let Some(psk) = psk else {
            return Err(self.at(first_encrypted, Fault::PskRequired));
        };
        let Some(method) = child(root, "MACMethod") else {
            return Ok(Keys {
                psk: Some(psk),
                mac: None,
            });
        };
        let algorithm = match method.attribute("Algorithm").unwrap_or_default() {
            uri if uri.ends_with("#hmac-sha1") => MacAlgorithm::Sha1,
            uri if uri.ends_with("#hmac-sha256") => MacAlgorithm::Sha256,
            _ => return Err(self.at(method, Fault::MacUnsupported)),
        };
        let Some(mac_key) = child(method, "MACKey") else {
            return Err(self.at(method, Fault::MacMissing));
        };
        let key = decrypt(mac_key, psk).map_err(|fault| self.at(mac_key, fault))?;
        Ok(Keys {
            psk: Some(psk),
            mac: Some((algorithm, key)),
        })
    }

    /// One key package as a token seed, or its first fault.
    fn token(&self, package: Node<'_, '_>, keys: &Keys<'_>) -> Result<TokenSeed, LineError> {
        let key = child(package, "Key").ok_or_else(|| self.at(package, Fault::NoKey))?;
        let algorithm_uri = key
            .attribute("Algorithm")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let kind = if algorithm_uri.ends_with(":hotp") || algorithm_uri.ends_with("#hotp") {
            CredentialKind::Hotp
        } else if algorithm_uri.ends_with(":totp") || algorithm_uri.ends_with("#totp") {
            CredentialKind::Totp
        } else {
            return Err(self.at(key, Fault::AlgorithmUnsupported));
        };
        let serial_text = child(package, "DeviceInfo")
            .and_then(|info| child(info, "SerialNo"))
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .or_else(|| key.attribute("Id"))
            .ok_or_else(|| self.at(package, Fault::SerialMissing))?;
        let serial = TokenSerial::parse(serial_text)
            .map_err(|_| self.at(package, Fault::SerialMalformed))?;

        let parameters = child(key, "AlgorithmParameters");
        let mut params = OtpParams::default();
        if let Some(format) = parameters.and_then(|p| child(p, "ResponseFormat")) {
            let decimal = format
                .attribute("Encoding")
                .is_none_or(|e| e.eq_ignore_ascii_case("DECIMAL"));
            params.digits = format
                .attribute("Length")
                .map_or(Ok(Digits::SIX), |text| {
                    text.trim()
                        .parse::<u8>()
                        .ok()
                        .and_then(|d| Digits::new(d).ok())
                        .ok_or(())
                })
                .ok()
                .filter(|_| decimal)
                .ok_or_else(|| self.at(format, Fault::DigitsUnsupported))?;
        }
        if let Some(suite) = parameters.and_then(|p| child(p, "Suite")) {
            params.algorithm = suite
                .text()
                .map_or(Ok(Algorithm::Sha1), hash_of)
                .map_err(|fault| self.at(suite, fault))?;
        }

        let data = child(key, "Data").ok_or_else(|| self.at(key, Fault::SecretMissing))?;
        let secret_node =
            child(data, "Secret").ok_or_else(|| self.at(data, Fault::SecretMissing))?;
        let secret = self
            .value(secret_node, keys)
            .and_then(|bytes| secret_of(&bytes))
            .map_err(|fault| self.at(secret_node, fault))?;
        let number = |name: &'static str| -> Result<Option<u64>, LineError> {
            let Some(node) = child(data, name) else {
                return Ok(None);
            };
            self.number(node, keys, name)
                .map(Some)
                .map_err(|fault| self.at(node, fault))
        };
        let counter = number("Counter")?.unwrap_or(0);
        for origin in ["Time", "TimeDrift"] {
            if number(origin)?.is_some_and(|v| v != 0) {
                let node = child(data, origin).unwrap_or(data);
                return Err(self.at(node, Fault::TimeOriginUnsupported));
            }
        }
        if let Some(seconds) = number("TimeInterval")? {
            params.period = u32::try_from(seconds)
                .ok()
                .and_then(|s| Period::new(s).ok())
                .ok_or_else(|| {
                    self.at(
                        child(data, "TimeInterval").unwrap_or(data),
                        Fault::PeriodUnsupported,
                    )
                })?;
        }
        Ok(TokenSeed {
            line: self.line(package),
            serial,
            kind,
            counter,
            secret,
            params,
        })
    }

    /// The bytes of a data element: its base64 `PlainValue`, or its `EncryptedValue` once the
    /// `ValueMAC` checks out.
    fn value(&self, node: Node<'_, '_>, keys: &Keys<'_>) -> Result<Vec<u8>, Fault> {
        if let Some(plain) = child(node, "PlainValue") {
            return base64(plain.text().unwrap_or_default()).ok_or(Fault::SecretEncoding);
        }
        let Some(encrypted) = child(node, "EncryptedValue") else {
            return Err(Fault::SecretMissing);
        };
        let (Some(psk), Some((algorithm, mac_key))) = (keys.psk, &keys.mac) else {
            return Err(Fault::MacMissing);
        };
        let mac = child(node, "ValueMAC")
            .and_then(|n| base64(n.text().unwrap_or_default()))
            .ok_or(Fault::MacMissing)?;
        let cipher = cipher_value(encrypted).ok_or(Fault::DecryptFailed)?;
        // RFC 6030 §6.1.1: the MAC is over the IV and ciphertext, checked before decrypting.
        let matches = match algorithm {
            MacAlgorithm::Sha1 => verify::<Hmac<sha1::Sha1>>(mac_key, &cipher, &mac),
            MacAlgorithm::Sha256 => verify::<Hmac<sha2::Sha256>>(mac_key, &cipher, &mac),
        };
        if !matches {
            return Err(Fault::MacMismatch);
        }
        decrypt(encrypted, psk)
    }

    /// A whole number: plain text, or (encrypted) big-endian bytes.
    fn number(
        &self,
        node: Node<'_, '_>,
        keys: &Keys<'_>,
        name: &'static str,
    ) -> Result<u64, Fault> {
        if let Some(plain) = child(node, "PlainValue") {
            return plain
                .text()
                .unwrap_or_default()
                .trim()
                .parse()
                .map_err(|_| Fault::NotANumber(name));
        }
        let bytes = self.value(node, keys)?;
        if bytes.len() > 8 {
            return Err(Fault::NotANumber(name));
        }
        Ok(bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// The element's children with this local name (vendors disagree on namespace prefixes).
fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &'static str) -> Option<Node<'a, 'input>> {
    children(node, name).next()
}

/// Base64 as XML carries it: wrapped over lines, indented.
fn base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact.as_bytes()).ok()
}

/// The IV and ciphertext of an `xenc` encrypted element.
fn cipher_value(encrypted: Node<'_, '_>) -> Option<Vec<u8>> {
    let value = child(encrypted, "CipherData").and_then(|d| child(d, "CipherValue"))?;
    base64(value.text().unwrap_or_default())
}

fn verify<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    // Constant-time, and a truncated tag is refused.
    mac.verify_slice(tag).is_ok()
}

/// Decrypts an `xenc` encrypted element (`EncryptionMethod` + `CipherData`) under `key`.
fn decrypt(encrypted: Node<'_, '_>, key: &[u8]) -> Result<Vec<u8>, Fault> {
    let method = child(encrypted, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let bits = match method {
        uri if uri.ends_with("#aes128-cbc") => 128,
        uri if uri.ends_with("#aes192-cbc") => 192,
        uri if uri.ends_with("#aes256-cbc") => 256,
        _ => return Err(Fault::EncryptionUnsupported),
    };
    if key.len() * 8 != bits {
        return Err(Fault::PskLength);
    }
    let data = cipher_value(encrypted).ok_or(Fault::DecryptFailed)?;
    aes_cbc_decrypt(key, &data).ok_or(Fault::DecryptFailed)
}

/// AES-CBC with the IV in front and XML Encryption's padding (the last byte counts the
/// padding bytes; their values are otherwise arbitrary, unlike PKCS#7).
fn aes_cbc_decrypt(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    const BLOCK: usize = 16;
    if data.len() < 2 * BLOCK || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let (iv, ciphertext) = data.split_at(BLOCK);
    let mut buf = ciphertext.to_vec();
    let plain_len = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .ok()?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .ok()?
            .len(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .ok()?
            .len(),
        _ => return None,
    };
    let pad = usize::from(*buf.get(plain_len.checked_sub(1)?)?);
    if pad == 0 || pad > BLOCK {
        return None;
    }
    buf.truncate(plain_len - pad);
    Some(buf)
}
