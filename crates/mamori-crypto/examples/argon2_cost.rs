//! Times one Argon2id hash for the memory and iteration costs `serve` could be given, to pick
//! `--password-memory-kib` / `--password-iterations` for a machine:
//! `cargo run --release -p mamori-crypto --example argon2_cost`. Prints a Markdown table (the
//! median of 5 runs per cell); nothing here is a test, timings depend on the machine.

#![expect(
    clippy::print_stdout,
    reason = "a measuring tool: the table is its output"
)]

use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};

fn main() {
    let pepper = [7u8; 32];
    let salt = [1u8; 16];
    println!("| memory | t=1 | t=2 | t=3 |\n|---|---|---|---|");
    for mib in [19u32, 46, 64, 128] {
        let mut row = format!("| {mib} MiB |");
        for t in 1..=3 {
            let params = Params::new(mib * 1024, t, 1, Some(32)).expect("params");
            let argon2 =
                Argon2::new_with_secret(&pepper, Algorithm::Argon2id, Version::V0x13, params)
                    .expect("secret");
            let mut times: Vec<f64> = (0..5)
                .map(|_| {
                    let mut out = [0u8; 32];
                    let start = Instant::now();
                    argon2
                        .hash_password_into(b"Abc123def456", &salt, &mut out)
                        .expect("hash");
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            row.push_str(&format!(" {:.0} ms |", times[2]));
        }
        println!("{row}");
    }
}
