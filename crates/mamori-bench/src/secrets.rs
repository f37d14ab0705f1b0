//! The secrets file `mamori seed` writes and `mamori bench` reads: each bank's API key and the
//! OTP facts the bench needs, then one line per user with the token secret in clear.
//!
//! ```text
//! mamori-seed-secrets 1
//! bank bench-001 mmr_abcdefgh_… period=30 digits=6 algorithm=SHA1 window=1 lock_threshold=10
//! bank bench-002 mmr_…
//! 0 usr_6f1c… JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
//! 1 usr_90ab… …
//! ```
//!
//! A user line is `<bank index> <user id> <base32 secret>`, the index counting `bank` lines
//! from 0. The file is written with mode 0600 (it holds every secret of the seeded tokens) under
//! a temporary name and renamed when complete, so a file that exists is whole.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mamori_otp::{Algorithm, Digits, OtpParams, Period, Secret};

/// The first line of a secrets file.
const MAGIC: &str = "mamori-seed-secrets 1";

/// What the bench must know of a bank's OTP policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankOtp {
    /// Algorithm, digits, period.
    pub params: OtpParams,
    /// Steps accepted either side of the current one.
    pub window: u32,
    /// Consecutive wrong codes that lock a user's token at the bank.
    pub lock_threshold: u32,
}

/// A seeded bank as the bench uses it.
#[derive(Debug, Clone)]
pub struct SeededBank {
    /// The bank's ID.
    pub id: String,
    /// Its API key (secret: never logged).
    pub api_key: String,
    /// Its OTP policy facts.
    pub otp: BankOtp,
}

/// A seeded user as the bench uses it.
#[derive(Debug, Clone)]
pub struct SeededUser {
    /// Index into the banks.
    pub bank: usize,
    /// Mamori's user ID.
    pub user_id: String,
    /// The token's secret.
    pub secret: Secret,
}

/// Writes a secrets file: banks first, then users as they are made.
#[derive(Debug)]
pub struct SecretsWriter {
    out: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
}

impl SecretsWriter {
    /// Starts `path` (as `path.partial`, mode 0600) with the banks' lines.
    pub fn create(path: &Path, banks: &[SeededBank]) -> anyhow::Result<Self> {
        let partial = partial_path(path);
        let file = create_private(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "{MAGIC}")?;
        for bank in banks {
            let otp = &bank.otp;
            writeln!(
                out,
                "bank {} {} period={} digits={} algorithm={} window={} lock_threshold={}",
                bank.id,
                bank.api_key,
                otp.params.period.seconds(),
                otp.params.digits.get(),
                otp.params.algorithm.as_str(),
                otp.window,
                otp.lock_threshold
            )?;
        }
        Ok(Self {
            out,
            partial,
            path: path.to_path_buf(),
        })
    }

    /// Appends a user line.
    pub fn user(&mut self, bank: usize, user_id: &str, secret: &Secret) -> anyhow::Result<()> {
        writeln!(self.out, "{bank} {user_id} {}", secret.to_base32())?;
        Ok(())
    }

    /// Flushes, syncs and renames the file to its final name.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        let file = self.out.into_inner().map_err(|e| {
            anyhow::anyhow!("cannot write {}: {}", self.partial.display(), e.error())
        })?;
        file.sync_all()?;
        std::fs::rename(&self.partial, &self.path)
            .with_context(|| format!("cannot rename to {}", self.path.display()))?;
        Ok(self.path)
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An older file keeps its mode when truncated: make it private too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<File> {
    File::create(path)
}

/// What the bench reads back: the banks, and the users of the chosen banks.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Every bank of the file, in order.
    pub banks: Vec<SeededBank>,
    /// The users read (see [`read`]).
    pub users: Vec<SeededUser>,
}

/// Reads `path`, keeping the users of the first `banks` banks (all without a limit), at most
/// `users` of them in file order (seeded users alternate between banks, so a prefix of the file
/// spreads over the banks evenly).
pub fn read(path: &Path, banks: Option<usize>, users: Option<usize>) -> anyhow::Result<Seeded> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let name = path.display();
    let mut lines = BufReader::with_capacity(1 << 20, file).lines();
    match lines.next() {
        Some(Ok(first)) if first == MAGIC => {}
        _ => bail!("{name}: not a secrets file of `mamori seed` (first line must be {MAGIC:?})"),
    }
    let mut seeded = Seeded {
        banks: Vec::new(),
        users: Vec::new(),
    };
    let want_users = users.unwrap_or(usize::MAX);
    for (number, line) in lines.enumerate() {
        let line = line.with_context(|| format!("cannot read {name}"))?;
        let at = number + 2;
        if let Some(rest) = line.strip_prefix("bank ") {
            if !seeded.users.is_empty() {
                bail!("{name}:{at}: a bank line after the users");
            }
            seeded
                .banks
                .push(parse_bank(rest).with_context(|| format!("{name}:{at}: bad bank line"))?);
            continue;
        }
        if seeded.users.len() >= want_users {
            break;
        }
        let mut parts = line.split(' ');
        let (Some(bank), Some(user_id), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("{name}:{at}: expected `<bank index> <user id> <secret>`");
        };
        let bank: usize = bank
            .parse()
            .ok()
            .filter(|b| *b < seeded.banks.len())
            .with_context(|| format!("{name}:{at}: no bank with index {bank:?}"))?;
        if banks.is_some_and(|limit| bank >= limit) {
            continue;
        }
        let secret =
            Secret::from_base32(secret).map_err(|e| anyhow::anyhow!("{name}:{at}: secret: {e}"))?;
        seeded.users.push(SeededUser {
            bank,
            user_id: user_id.to_owned(),
            secret,
        });
    }
    if seeded.banks.is_empty() {
        bail!("{name}: no bank lines");
    }
    if let Some(limit) = banks
        && (limit == 0 || limit > seeded.banks.len())
    {
        bail!(
            "--banks {limit}: the file has {} bank(s)",
            seeded.banks.len()
        );
    }
    Ok(seeded)
}

fn parse_bank(rest: &str) -> anyhow::Result<SeededBank> {
    let mut parts = rest.split(' ');
    let id = parts.next().context("no bank id")?.to_owned();
    let api_key = parts.next().context("no API key")?.to_owned();
    let mut field = |name: &str| -> anyhow::Result<String> {
        let part = parts.next().with_context(|| format!("no {name}"))?;
        part.strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .map(str::to_owned)
            .with_context(|| format!("expected {name}=…, found {part:?}"))
    };
    let period: u32 = field("period")?.parse()?;
    let digits: u8 = field("digits")?.parse()?;
    let algorithm: Algorithm = field("algorithm")?
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown algorithm"))?;
    let window: u32 = field("window")?.parse()?;
    let lock_threshold: u32 = field("lock_threshold")?.parse()?;
    Ok(SeededBank {
        id,
        api_key,
        otp: BankOtp {
            params: OtpParams {
                algorithm,
                digits: Digits::new(digits).map_err(|e| anyhow::anyhow!("digits: {e}"))?,
                period: Period::new(period).map_err(|e| anyhow::anyhow!("period: {e}"))?,
            },
            window,
            lock_threshold,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(id: &str) -> SeededBank {
        SeededBank {
            id: id.to_owned(),
            api_key: format!("mmr_{id}_key"),
            otp: BankOtp {
                params: OtpParams::default(),
                window: 1,
                lock_threshold: 10,
            },
        }
    }

    #[test]
    fn a_written_file_reads_back_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.secrets");
        let mut writer = SecretsWriter::create(&path, &[bank("bench-1"), bank("bench-2")]).unwrap();
        let secrets: Vec<Secret> = (0..6).map(|_| Secret::generate().unwrap()).collect();
        for (i, secret) in secrets.iter().enumerate() {
            writer.user(i % 2, &format!("usr_{i}"), secret).unwrap();
        }
        assert!(!path.exists(), "only the finished file has the final name");
        writer.finish().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let all = read(&path, None, None).unwrap();
        assert_eq!(all.banks.len(), 2);
        assert_eq!(all.banks[1].otp, bank("x").otp);
        assert_eq!(all.users.len(), 6);
        assert_eq!(all.users[3].user_id, "usr_3");
        assert_eq!(all.users[3].secret.as_bytes(), secrets[3].as_bytes());

        let first_bank = read(&path, Some(1), Some(2)).unwrap();
        let ids: Vec<_> = first_bank
            .users
            .iter()
            .map(|u| u.user_id.as_str())
            .collect();
        assert_eq!(ids, ["usr_0", "usr_2"]);
        assert!(read(&path, Some(3), None).is_err());
    }
}
