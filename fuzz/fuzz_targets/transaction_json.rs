//! The transaction's canonical JSON (`mamori_domain::transaction`), whose SHA-256 a receipt
//! carries and a phone signs: it must be RFC 8785 (JCS) for this shape, so any system can
//! recompute it, read back to the same transaction, and be a fixed point.
//!
//! Input: JSON text as UTF-8 for the reading direction (`from_canonical_json`); the same bytes,
//! taken as structured data, make a transaction for the writing direction.

#![no_main]

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use mamori_domain::policy::TransactionKind;
use mamori_domain::transaction::{Payee, Transaction};
use mamori_fuzz::{spec, text};

fuzz_target!(|data: &[u8]| {
    if let Some(json) = text(data)
        && let Some(transaction) = Transaction::from_canonical_json(json)
    {
        canonical(&transaction);
    }
    if let Ok(transaction) = transaction(&mut Unstructured::new(data)) {
        canonical(&transaction);
        validated(&transaction);
    }
});

fn canonical(transaction: &Transaction) {
    let json = transaction.canonical_json();
    assert_eq!(json, jcs(transaction), "not RFC 8785 for {transaction:?}");
    let back = Transaction::from_canonical_json(&json);
    assert_eq!(back.as_ref(), Some(transaction), "{json}");
    assert_eq!(back.map(|t| t.canonical_json()), Some(json));
}

/// What validation accepts, the spec's `TransactionDto` admits: a bank's generated client can
/// send every transaction Mamori takes.
fn validated(t: &Transaction) {
    if t.validate().is_err() {
        return;
    }
    assert!(spec::admits("TransactionDto", "amount", &t.amount), "{t:?}");
    assert!(
        spec::admits("TransactionDto", "currency", &t.currency),
        "{t:?}"
    );
    if let Some(p) = &t.payee {
        for (field, value) in [
            ("bank_code", &p.bank_code),
            ("branch_code", &p.branch_code),
            ("account_number", &p.account_number),
            ("account_name", &p.account_name),
        ] {
            assert!(spec::admits("PayeeDto", field, value), "{field} of {t:?}");
        }
    }
}

fn transaction(u: &mut Unstructured<'_>) -> arbitrary::Result<Transaction> {
    let kind = *u.choose(TransactionKind::ALL)?;
    let amount = String::arbitrary(u)?;
    let currency = String::arbitrary(u)?;
    let payee = if bool::arbitrary(u)? {
        Some(Payee {
            bank_code: String::arbitrary(u)?,
            branch_code: String::arbitrary(u)?,
            account_number: String::arbitrary(u)?,
            account_name: String::arbitrary(u)?,
        })
    } else {
        None
    };
    Ok(Transaction {
        kind,
        amount,
        currency,
        payee,
    })
}

/// RFC 8785 for an object of strings, written out independently of `serde_json`: members in
/// order of their (ASCII) names, no whitespace, strings escaped as §3.2.2.2 says.
fn jcs(t: &Transaction) -> String {
    let mut members = vec![
        ("amount", string(&t.amount)),
        ("currency", string(&t.currency)),
        ("kind", string(t.kind.as_str())),
    ];
    if let Some(p) = &t.payee {
        let mut payee = [
            ("account_name", string(&p.account_name)),
            ("account_number", string(&p.account_number)),
            ("bank_code", string(&p.bank_code)),
            ("branch_code", string(&p.branch_code)),
        ];
        payee.sort();
        members.push(("payee", object(&payee)));
    }
    members.sort();
    object(&members)
}

fn object(members: &[(&str, String)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{value}", string(name)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn string(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
