//! Tenant config files (`mamori_domain::tenant_config`): a bank's TOML as an operator writes
//! it, read with every problem reported on one line, and written back (`to_toml`, the admin
//! console's normalised form; JSON, as the server stores it) to the same config.
//!
//! Input: the file's text as UTF-8, read as `fuzz-bank.toml`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_domain::tenant_config::{TenantConfig, parse_all_errors, parse_tenant_config};
use mamori_fuzz::text;

const FILE: &str = "fuzz-bank.toml";

fuzz_target!(|data: &[u8]| {
    let Some(toml) = text(data) else {
        return;
    };
    match parse_all_errors(FILE, toml) {
        Ok(config) => round_trips(&config),
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in &errors {
                let line = error.to_string();
                assert!(line.starts_with("fuzz-bank.toml: "), "{line}");
                assert!(!line.contains(['\n', '\r']), "not one line: {line:?}");
            }
            // The single-error reading reports the first of them.
            assert_eq!(parse_tenant_config(FILE, toml), Err(errors[0].clone()));
        }
    }
});

fn round_trips(config: &TenantConfig) {
    assert_eq!(config.id, "fuzz-bank");
    assert_eq!(config.validate(), Ok(()));

    let written = config.to_toml();
    let reread = parse_tenant_config(FILE, &written)
        .unwrap_or_else(|e| panic!("to_toml wrote what does not read: {e}\n{written}"));
    assert_eq!(&reread, config, "to_toml changed the config:\n{written}");
    assert_eq!(reread.to_toml(), written, "to_toml is not a fixed point");

    let json = serde_json::to_string(config).expect("a config serialises");
    let stored: TenantConfig = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the stored JSON does not read: {e}\n{json}"));
    assert_eq!(
        &stored, config,
        "the stored JSON changed the config: {json}"
    );
}
