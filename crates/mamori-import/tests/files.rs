//! Seed files as vendors deliver them: RFC 6030's own encrypted example, a file written by an
//! independent PSKC implementation (python-pskc 1.3, `data/README.md`), and the faults an
//! operator meets.

use mamori_domain::CredentialKind;
use mamori_domain::error_code::Lang;
use mamori_import::{Fault, parse_pskc};
use mamori_otp::{Algorithm, hotp, totp};

const FIGURE_6: &str = include_str!("data/rfc6030-figure6.pskcxml");
const FIGURE_6_PSK: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12,
];
const PYTHON_AES256: &str = include_str!("data/python-pskc-aes256.pskcxml");

fn python_psk() -> Vec<u8> {
    (0u8..32).collect()
}

fn faults(text: &str, psk: Option<&[u8]>) -> Vec<(u32, &'static str)> {
    parse_pskc(text, psk)
        .expect_err("the file has faults")
        .into_iter()
        .map(|e| (e.line, e.fault.code()))
        .collect()
}

#[test]
fn rfc_6030_figure_6_decrypts_to_the_rfc_4226_secret() {
    let seeds = parse_pskc(FIGURE_6, Some(&FIGURE_6_PSK)).unwrap();
    assert_eq!(seeds.len(), 1);
    let seed = &seeds[0];
    assert_eq!(seed.serial.as_str(), "987654321");
    assert_eq!(seed.kind, CredentialKind::Hotp);
    assert_eq!(seed.counter, 0);
    assert_eq!(seed.params.digits.get(), 8);
    assert_eq!(seed.secret.as_bytes(), b"12345678901234567890");
    // RFC 4226 Appendix D, count 0, as 8 digits.
    assert_eq!(
        hotp(&seed.secret, 0, seed.params.algorithm, seed.params.digits).as_str(),
        "84755224"
    );
    assert_eq!(seed.line, 23, "the KeyPackage's line");
}

#[test]
fn an_independent_writer_s_aes_256_file_with_hmac_sha256() {
    let seeds = parse_pskc(PYTHON_AES256, Some(&python_psk())).unwrap();
    let serials: Vec<&str> = seeds.iter().map(|s| s.serial.as_str()).collect();
    assert_eq!(serials, ["FT20000001", "FT20000002", "FT20000003"]);

    assert_eq!(seeds[0].kind, CredentialKind::Totp);
    assert_eq!(seeds[0].params.period.seconds(), 30);
    // RFC 6238 Appendix B, T = 59 s, SHA-1, last six digits of 94287082.
    assert_eq!(
        totp(&seeds[0].secret, 59, seeds[0].params).as_str(),
        "287082"
    );

    assert_eq!(seeds[1].params.algorithm, Algorithm::Sha256);
    assert_eq!(seeds[1].params.digits.get(), 8);
    assert_eq!(seeds[1].params.period.seconds(), 60);
    assert_eq!(
        seeds[1].secret.as_bytes(),
        b"12345678901234567890123456789012"
    );

    assert_eq!(seeds[2].kind, CredentialKind::Hotp);
    assert_eq!(seeds[2].counter, 5);
}

#[test]
fn without_the_right_pre_shared_key_nothing_is_read() {
    assert_eq!(faults(FIGURE_6, None), [(39, "psk_required")]);
    // The MAC key decrypts to garbage: its padding, or failing that the MAC, gives it away.
    let wrong = [0x55u8; 16];
    let found = faults(FIGURE_6, Some(&wrong));
    assert!(
        matches!(
            found.as_slice(),
            [(13, "decrypt_failed")] | [(38, "mac_mismatch")]
        ),
        "{found:?}"
    );
    assert_eq!(faults(FIGURE_6, Some(&[0x12; 32])), [(13, "psk_length")]);
    assert_eq!(
        faults(PYTHON_AES256, Some(&FIGURE_6_PSK)),
        [(5, "psk_length")]
    );
}

#[test]
fn an_altered_secret_fails_its_mac_before_decryption() {
    let altered = FIGURE_6.replace(
        "AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv",
        "AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGw",
    );
    assert_eq!(
        faults(&altered, Some(&FIGURE_6_PSK)),
        [(38, "mac_mismatch")]
    );
    let unmacked = FIGURE_6.replace(
        "<ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=\n                    </ValueMAC>",
        "",
    );
    assert_eq!(
        faults(&unmacked, Some(&FIGURE_6_PSK)),
        [(38, "mac_missing")]
    );
}

const PLAIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><SerialNo>TOTP0001</SerialNo></DeviceInfo>
    <Key Id="a" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
        <TimeInterval><PlainValue>30</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <DeviceInfo><SerialNo>OCRA0001</SerialNo></DeviceInfo>
    <Key Id="b" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1:HOTP-SHA512-8:C-QN08">
      <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <DeviceInfo><SerialNo>SHORT001</SerialNo></DeviceInfo>
    <Key Id="d" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <AlgorithmParameters><ResponseFormat Length="10" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data><Secret><PlainValue>MTIzNA==</PlainValue></Secret></Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <DeviceInfo><SerialNo>SHORT002</SerialNo></DeviceInfo>
    <Key Id="e" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <Data><Secret><PlainValue>MTIzNA==</PlainValue></Secret></Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <DeviceInfo><SerialNo>LATE0001</SerialNo></DeviceInfo>
    <Key Id="f" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <Data>
        <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
        <Time><PlainValue>3</PlainValue></Time>
      </Data>
    </Key>
  </KeyPackage>
  <KeyPackage>
    <DeviceInfo><SerialNo>totp-0001</SerialNo></DeviceInfo>
    <Key Id="g" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>
    </Key>
  </KeyPackage>
</KeyContainer>
"#;

#[test]
fn every_bad_key_package_is_reported_at_its_line_and_nothing_is_read() {
    assert_eq!(
        faults(PLAIN, None),
        [
            (15, "algorithm_unsupported"),
            (19, "serial_missing"),
            (27, "digits_unsupported"),
            (34, "secret_length"),
            (42, "time_origin_unsupported"),
            (46, "serial_duplicate"),
        ]
    );
}

#[test]
fn a_fault_never_quotes_a_secret() {
    let found = parse_pskc(PLAIN, None).unwrap_err();
    for error in &found {
        for lang in [Lang::Ja, Lang::En] {
            let message = error.fault.message(lang);
            assert!(!message.contains("MTIz"), "{message}");
            assert!(!message.contains("1234"), "{message}");
        }
    }
}

#[test]
fn what_is_not_a_pskc_file() {
    let broken = parse_pskc(
        "<KeyContainer Version=\"1.0\">\n<KeyPackage>\n</Key>\n",
        None,
    )
    .unwrap_err();
    assert!(
        matches!(broken.as_slice(), [e] if matches!(e.fault, Fault::NotXml(_)) && e.line == 3),
        "{broken:?}"
    );
    assert_eq!(
        faults("<KeyContainer Version=\"2.0\"/>", None),
        [(1, "not_pskc")]
    );
    assert_eq!(
        faults("<KeyContainer Version=\"1.0\"/>", None),
        [(1, "no_tokens")]
    );
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE KeyContainer [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<KeyContainer Version="1.0">&lol2;</KeyContainer>"#;
    assert_eq!(faults(laughs, None), [(1, "dtd_refused")]);
    let pbkdf2 = r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"
  xmlns:xenc11="http://www.w3.org/2009/xmlenc11#">
  <EncryptionKey>
    <xenc11:DerivedKey/>
  </EncryptionKey>
</KeyContainer>"#;
    assert_eq!(
        faults(pbkdf2, Some(&FIGURE_6_PSK)),
        [(4, "password_encryption_unsupported")]
    );
}
