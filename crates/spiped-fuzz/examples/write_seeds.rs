//! Write the seed corpus: `cargo run -p spiped-fuzz --example write_seeds
//! -- fuzz/seeds` (one folder per target, one file per seed).

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".to_string());
    for (target, name, bytes) in spiped_fuzz::seeds::all() {
        let d = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(name), bytes)?;
    }
    Ok(())
}
