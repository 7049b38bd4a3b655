//! `kivaloo`: a command-line client for people. Talks to kvlds (or a mux
//! in front of it).

use std::io::{BufReader, BufWriter, Read, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kivaloo_client::dumpfmt;
use kivaloo_client::net::{connect, resolve_first};
use kivaloo_client::pipeline::{Workload, drive};
use kivaloo_client::{ClientError, KvldsClient};
use kivaloo_wire::kvlds::{KvldsRequest, KvldsRequestKind, KvldsResponse, STATUS_OK};

#[derive(Parser)]
#[command(
    name = "kivaloo",
    version,
    about = "Read and write a kivaloo key-value store"
)]
struct Cli {
    /// kvlds or mux address: /unix/socket, [ip]:port or host:port.
    #[arg(short = 't', long = "target", env = "KIVALOO_ADDR")]
    target: String,
    /// Keys and values on the command line and in output are hex.
    #[arg(short = 'x', long = "hex", global = true)]
    hex: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a key's value (exit 1 if absent).
    Get { key: String },
    /// Store a value.
    Set { key: String, value: String },
    /// Store a value only if the key is absent (exit 1 if present).
    Add { key: String, value: String },
    /// Store a value only if the key is present (exit 1 if absent).
    Modify { key: String, value: String },
    /// Replace OLD by NEW (exit 1 if the value is not OLD).
    Cas {
        key: String,
        old: String,
        new: String,
    },
    /// Delete a key (absent keys are fine).
    Delete { key: String },
    /// Delete a key if its value is OLD (exit 1 otherwise).
    Cad { key: String, old: String },
    /// Print pairs with START <= key < END as "key<TAB>value" lines.
    Range {
        #[arg(long, default_value = "")]
        start: String,
        /// Empty: to the end.
        #[arg(long, default_value = "")]
        end: String,
        /// Stop after this many pairs.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Write pairs to stdout in kvlds-dump's binary pair-stream format.
    Dump {
        #[arg(long, default_value = "")]
        start: String,
        #[arg(long, default_value = "")]
        end: String,
    },
    /// Store every pair of a pair-stream file ("-" = stdin), pipelined.
    Load { file: String },
    /// Key/value limits, pair count and sizes (scans everything).
    Stats,
}

fn arg(hex: bool, s: &str) -> anyhow::Result<Vec<u8>> {
    let b = if hex {
        if !s.len().is_multiple_of(2) {
            bail!("odd number of hex digits: {s}");
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .with_context(|| format!("bad hex: {s}"))?
    } else {
        s.as_bytes().to_vec()
    };
    if b.len() > 255 {
        bail!("keys and values are at most 255 bytes ({} given)", b.len());
    }
    Ok(b)
}

/// Printable as is, `\\` and `\xNN` otherwise (or hex with -x).
fn show(hex: bool, b: &[u8]) -> String {
    if hex {
        return b.iter().map(|x| format!("{x:02x}")).collect();
    }
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// SETs every pair of a pair stream.
struct Load<R> {
    input: R,
    key: Vec<u8>,
    value: Vec<u8>,
    done_reading: bool,
    error: Option<std::io::Error>,
    sent: u64,
    acked: u64,
}

impl<R: std::io::BufRead> Workload for Load<R> {
    fn next_request(&mut self, _id: u64, record: &mut Vec<u8>) -> bool {
        if self.done_reading {
            return false;
        }
        match dumpfmt::read_pair(&mut self.input, &mut self.key, &mut self.value) {
            Ok(true) => {}
            Ok(false) => {
                self.done_reading = true;
                return false;
            }
            Err(e) => {
                self.error = Some(e);
                self.done_reading = true;
                return false;
            }
        }
        let req = KvldsRequest::Set {
            key: &self.key,
            value: &self.value,
        };
        // read_pair never yields more than 255 bytes.
        if req.encode(record).is_err() {
            return false;
        }
        self.sent += 1;
        true
    }

    fn response(&mut self, id: u64, record: &[u8]) -> Result<(), ClientError> {
        match KvldsResponse::decode(KvldsRequestKind::Set, record)? {
            KvldsResponse::Status(STATUS_OK) => {
                self.acked += 1;
                Ok(())
            }
            other => Err(ClientError::Protocol(format!(
                "SET #{id} answered {other:?}"
            ))),
        }
    }

    fn finished(&mut self) -> bool {
        self.done_reading
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let addr = resolve_first(&cli.target, |w| eprintln!("kivaloo: {w}"))?;
    let hex = cli.hex;
    let a = |s: &str| arg(hex, s);
    if let Cmd::Load { file } = &cli.cmd {
        let input: Box<dyn Read> = if file == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(file).with_context(|| file.clone())?)
        };
        let mut w = Load {
            input: BufReader::with_capacity(1 << 20, input),
            key: Vec::new(),
            value: Vec::new(),
            done_reading: false,
            error: None,
            sent: 0,
            acked: 0,
        };
        let mut s = connect(&addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let t = Instant::now();
        let r = drive(&mut s, 4096, 1 << 16, &mut w).await;
        eprintln!(
            "kivaloo: stored {} pairs in {:.2} s",
            w.acked,
            t.elapsed().as_secs_f64()
        );
        r?;
        if let Some(e) = w.error {
            bail!(
                "reading {file}: {e} (the {} pairs before it are stored)",
                w.acked
            );
        }
        return Ok(true);
    }
    let c = KvldsClient::connect(&addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let ok = match &cli.cmd {
        Cmd::Get { key } => match c.get(&a(key)?).await? {
            Some(v) => {
                writeln!(out, "{}", show(hex, &v))?;
                true
            }
            None => {
                eprintln!("kivaloo: not found");
                false
            }
        },
        Cmd::Set { key, value } => {
            c.set(&a(key)?, &a(value)?).await?;
            true
        }
        Cmd::Add { key, value } => report(c.add(&a(key)?, &a(value)?).await?, "key exists"),
        Cmd::Modify { key, value } => {
            report(c.modify(&a(key)?, &a(value)?).await?, "key not found")
        }
        Cmd::Cas { key, old, new } => report(
            c.cas(&a(key)?, &a(old)?, &a(new)?).await?,
            "value did not match",
        ),
        Cmd::Delete { key } => {
            c.delete(&a(key)?).await?;
            true
        }
        Cmd::Cad { key, old } => report(c.cad(&a(key)?, &a(old)?).await?, "value did not match"),
        Cmd::Range { start, end, limit } => {
            let mut n = 0u64;
            let limit = limit.unwrap_or(u64::MAX);
            let r = c
                .scan(&a(start)?, &a(end)?, |k, v| {
                    if n >= limit {
                        return Err(ClientError::Protocol("limit".into()));
                    }
                    n += 1;
                    writeln!(out, "{}\t{}", show(hex, k), show(hex, v)).map_err(ClientError::Io)
                })
                .await;
            match r {
                Err(ClientError::Protocol(m)) if m == "limit" => {}
                r => r?,
            }
            true
        }
        Cmd::Dump { start, end } => {
            c.scan(&a(start)?, &a(end)?, |k, v| {
                dumpfmt::write_pair(&mut out, k, v).map_err(ClientError::Io)
            })
            .await?;
            true
        }
        Cmd::Stats => {
            let (kmax, vmax) = c.params().await?;
            let t = Instant::now();
            let (mut n, mut kb, mut vb) = (0u64, 0u64, 0u64);
            c.scan(b"", b"", |k, v| {
                n += 1;
                kb += k.len() as u64;
                vb += v.len() as u64;
                Ok(())
            })
            .await?;
            writeln!(out, "max key length\t{kmax}")?;
            writeln!(out, "max value length\t{vmax}")?;
            writeln!(out, "pairs\t{n}")?;
            writeln!(out, "key bytes\t{kb}")?;
            writeln!(out, "value bytes\t{vb}")?;
            writeln!(out, "scan seconds\t{:.3}", t.elapsed().as_secs_f64())?;
            true
        }
        Cmd::Load { .. } => unreachable!("handled above"),
    };
    out.flush()?;
    Ok(ok)
}

fn report(done: bool, why: &str) -> bool {
    if !done {
        eprintln!("kivaloo: {why}");
    }
    done
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kivaloo: {e}");
            std::process::exit(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("kivaloo: {e:#}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_display() {
        assert_eq!(arg(false, "a\\x00").unwrap(), b"a\\x00");
        assert_eq!(arg(true, "00ff41").unwrap(), [0, 0xff, 0x41]);
        assert!(arg(true, "0").is_err());
        assert!(arg(true, "zz").is_err());
        assert!(arg(false, &"k".repeat(256)).is_err());
        assert_eq!(show(false, b"ab\\\x00\x7f"), "ab\\\\\\x00\\x7f");
        assert_eq!(show(true, &[0, 0xff]), "00ff");
    }
}
