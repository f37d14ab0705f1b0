//! The CSV seed file: a header line naming the columns, then a token per line.
//!
//! ```text
//! serial,secret,type,digits,period
//! FT20000001,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,totp,6,30
//! FT20000002,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hotp,6,
//! ```
//!
//! `secret` is base32 (as in `otpauth://` URIs); a `secret_hex` column instead takes hex.
//! `period` is for TOTP (empty means 30); `counter` (HOTP, default 0) and `algorithm` (SHA1,
//! SHA256, SHA512; default SHA1) are optional columns. Lines starting with `#` are comments.

use csv::{ReaderBuilder, StringRecord, Trim};
use data_encoding::HEXLOWER_PERMISSIVE;
use mamori_domain::CredentialKind;
use mamori_otp::{Algorithm, Digits, OtpParams, Period, Secret, SecretError, TokenSerial};

use crate::fault::{Fault, LineError};
use crate::seed::{Faults, TokenSeed, check_batch, hash_of, secret_of};

/// Where each column is.
#[derive(Debug)]
struct Columns {
    serial: usize,
    secret: Secret32Or16,
    kind: usize,
    digits: usize,
    period: usize,
    counter: Option<usize>,
    algorithm: Option<usize>,
    count: usize,
}

#[derive(Debug, Clone, Copy)]
enum Secret32Or16 {
    Base32(usize),
    Hex(usize),
}

/// Reads a CSV seed file.
pub fn parse_csv(text: &str) -> Result<Vec<TokenSeed>, Vec<LineError>> {
    // Spreadsheets save UTF-8 with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(text.as_bytes());
    // Line numbers from byte offsets: the reader's own count is off after a quoted line break.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let line_of = |position: Option<&csv::Position>| {
        let byte = position.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        // A record's position is where the reader started, before any blank lines it skipped.
        let byte = text
            .get(byte..)
            .and_then(|rest| rest.find(|c| c != '\r' && c != '\n'))
            .map_or(byte, |skipped| byte + skipped);
        let line = line_starts.partition_point(|&start| start <= byte);
        u32::try_from(line).unwrap_or(u32::MAX)
    };
    let mut faults = Faults::default();
    let mut seeds = Vec::new();
    let mut columns: Option<Columns> = None;
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = line_of(err.position());
                faults.add(line, Fault::CsvLine);
                // The reader cannot resynchronise after a quoting error.
                break;
            }
        };
        let line = line_of(record.position());
        if record.get(0).is_some_and(|first| first.starts_with('#')) {
            continue;
        }
        let Some(cols) = &columns else {
            match header(&record) {
                Ok(cols) => columns = Some(cols),
                Err(found) => {
                    for fault in found {
                        faults.add(line, fault);
                    }
                    return faults.into_result(seeds);
                }
            }
            continue;
        };
        if record.len() != cols.count {
            faults.add(line, Fault::CsvLine);
            continue;
        }
        match token(&record, cols, line) {
            Ok(seed) => seeds.push(seed),
            Err(found) => found.into_iter().for_each(|fault| faults.add(line, fault)),
        }
    }
    if columns.is_none() && faults.shown.is_empty() {
        faults.add(1, Fault::CsvHeader);
    }
    check_batch(&seeds, &mut faults);
    faults.into_result(seeds)
}

fn header(record: &StringRecord) -> Result<Columns, Vec<Fault>> {
    let mut faults = Vec::new();
    let names: Vec<String> = record.iter().map(str::to_ascii_lowercase).collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let known = [
        "serial",
        "secret",
        "secret_hex",
        "type",
        "digits",
        "period",
        "counter",
        "algorithm",
    ];
    let unknown: Vec<usize> = (0..names.len())
        .filter(|&i| !known.contains(&names[i].as_str()))
        .collect();
    if unknown.len() == names.len() {
        // Nothing is a column name: most likely a file without a header, its first token here.
        return Err(vec![Fault::CsvHeader]);
    }
    faults.extend(unknown.into_iter().map(|i| Fault::CsvUnknownColumn(i + 1)));
    let mut required = |name: &'static str| {
        let position = find(name);
        if position.is_none() {
            faults.push(Fault::CsvMissingColumn(name));
        }
        position.unwrap_or(0)
    };
    let serial = required("serial");
    let kind = required("type");
    let digits = required("digits");
    let period = required("period");
    let secret = match (find("secret"), find("secret_hex")) {
        (Some(at), None) => Secret32Or16::Base32(at),
        (None, Some(at)) => Secret32Or16::Hex(at),
        _ => {
            faults.push(Fault::CsvMissingColumn("secret"));
            Secret32Or16::Base32(0)
        }
    };
    if !faults.is_empty() {
        return Err(faults);
    }
    Ok(Columns {
        serial,
        secret,
        kind,
        digits,
        period,
        counter: find("counter"),
        algorithm: find("algorithm"),
        count: names.len(),
    })
}

/// The value, or `None` with its fault noted.
fn keep<T>(faults: &mut Vec<Fault>, result: Result<T, Fault>) -> Option<T> {
    result.map_err(|fault| faults.push(fault)).ok()
}

fn token(record: &StringRecord, cols: &Columns, line: u32) -> Result<TokenSeed, Vec<Fault>> {
    let field = |at: usize| record.get(at).unwrap_or_default();
    let optional = |at: Option<usize>| at.map(field).filter(|v| !v.is_empty());
    let mut faults = Vec::new();

    let serial = keep(
        &mut faults,
        TokenSerial::parse(field(cols.serial)).map_err(|_| Fault::SerialMalformed),
    );
    let kind = keep(
        &mut faults,
        match field(cols.kind).to_ascii_lowercase().as_str() {
            "totp" => Ok(CredentialKind::Totp),
            "hotp" => Ok(CredentialKind::Hotp),
            _ => Err(Fault::KindUnknown),
        },
    );
    let secret = keep(
        &mut faults,
        match cols.secret {
            Secret32Or16::Base32(at) => Secret::from_base32(field(at)).map_err(|err| match err {
                SecretError::InvalidBase32 => Fault::SecretEncoding,
                _ => Fault::SecretLength {
                    min: Secret::MIN_LEN,
                    max: Secret::MAX_LEN,
                },
            }),
            Secret32Or16::Hex(at) => HEXLOWER_PERMISSIVE
                .decode(field(at).as_bytes())
                .map_err(|_| Fault::SecretEncoding)
                .and_then(|bytes| secret_of(&bytes)),
        },
    );
    let digits = keep(
        &mut faults,
        match field(cols.digits) {
            "" => Ok(Digits::SIX),
            text => text
                .parse::<u8>()
                .ok()
                .and_then(|d| Digits::new(d).ok())
                .ok_or(Fault::DigitsUnsupported),
        },
    );
    let period = keep(
        &mut faults,
        match (kind, field(cols.period)) {
            (Some(CredentialKind::Totp), "") | (Some(CredentialKind::Hotp) | None, _) => {
                Ok(Period::THIRTY)
            }
            (Some(CredentialKind::Totp), text) => text
                .parse::<u32>()
                .ok()
                .and_then(|p| Period::new(p).ok())
                .ok_or(Fault::PeriodUnsupported),
        },
    );
    let counter = keep(
        &mut faults,
        optional(cols.counter).map_or(Ok(0), |text| {
            text.parse::<u64>()
                .map_err(|_| Fault::NotANumber("counter"))
        }),
    );
    let algorithm = keep(
        &mut faults,
        optional(cols.algorithm).map_or(Ok(Algorithm::Sha1), hash_of),
    );
    match (serial, kind, secret, digits, period, counter, algorithm) {
        (
            Some(serial),
            Some(kind),
            Some(secret),
            Some(digits),
            Some(period),
            Some(counter),
            Some(algorithm),
        ) if faults.is_empty() => Ok(TokenSeed {
            line,
            serial,
            kind,
            counter,
            secret,
            params: OtpParams {
                algorithm,
                digits,
                period,
            },
        }),
        _ => Err(faults),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(text: &str) -> Vec<(u32, &'static str)> {
        parse_csv(text)
            .expect_err("the file has faults")
            .into_iter()
            .map(|e| (e.line, e.fault.code()))
            .collect()
    }

    #[test]
    fn reads_totp_and_hotp_lines() {
        let seeds = parse_csv(
            "\u{feff}serial,secret,type,digits,period\n\
             # a comment, with a comma\n\
             \n\
             ft-2000-0001, GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ ,TOTP,8,60\n\
             FT20000002,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hotp,6,\n",
        )
        .unwrap();
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0].line, 4);
        assert_eq!(seeds[0].serial.as_str(), "FT20000001");
        assert_eq!(seeds[0].kind, CredentialKind::Totp);
        assert_eq!(seeds[0].params.digits.get(), 8);
        assert_eq!(seeds[0].params.period.seconds(), 60);
        assert_eq!(seeds[0].secret.as_bytes(), b"12345678901234567890");
        assert_eq!(seeds[1].kind, CredentialKind::Hotp);
        assert_eq!(seeds[1].counter, 0);
    }

    #[test]
    fn hex_secrets_counters_and_algorithms() {
        let seeds = parse_csv(
            "Serial,Secret_Hex,Type,Digits,Period,Counter,Algorithm\n\
             SN0001,3132333435363738393031323334353637383930,hotp,6,,42,HMAC-SHA256\n",
        )
        .unwrap();
        assert_eq!(seeds[0].secret.as_bytes(), b"12345678901234567890");
        assert_eq!(seeds[0].counter, 42);
        assert_eq!(seeds[0].params.algorithm, Algorithm::Sha256);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let found = faults(
            "serial,secret,type,digits,period\n\
             SN0001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n\
             SN/2,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n\
             SN0003,not!base32,totp,9,30\n\
             SN0004,GEZDGNBV,sotp,6,30\n\
             SN0001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n\
             SN0006,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6\n\
             MAMO00001234,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,400\n",
        );
        assert_eq!(
            found,
            [
                (3, "serial_malformed"),
                (4, "secret_encoding"),
                (4, "digits_unsupported"),
                (5, "kind_unknown"),
                (5, "secret_length"),
                (7, "csv_line"),
                (8, "period_unsupported"),
                (6, "serial_duplicate"),
            ]
        );
    }

    #[test]
    fn the_header_must_name_the_columns() {
        // Without a header the first token would be read as column names: refused without
        // quoting it, as its second field is a seed.
        let found = parse_csv("SN0001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n").unwrap_err();
        assert_eq!(found[0].fault, Fault::CsvHeader);
        for lang in [
            mamori_domain::error_code::Lang::Ja,
            mamori_domain::error_code::Lang::En,
        ] {
            assert!(!found[0].fault.message(lang).contains("GEZDGNBV"));
        }
        assert_eq!(
            faults("serial,seed,type,digits\n"),
            [
                (1, "csv_unknown_column"),
                (1, "csv_missing_column"),
                (1, "csv_missing_column"),
            ]
        );
        assert_eq!(faults(""), [(1, "csv_header")]);
        assert_eq!(
            faults("serial,secret,type,digits,period\n"),
            [(1, "no_tokens")]
        );
    }

    #[test]
    fn serials_in_mamori_id_space_are_refused() {
        let found = faults(
            "serial,secret,type,digits,period\n\
             MAMO00001234,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n",
        );
        assert_eq!(found, [(2, "serial_looks_issued")]);
    }
}
