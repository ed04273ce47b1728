//! Interoperability with Foundry's `cast wallet`: each side reads the other's keystores.

use std::{path::PathBuf, process::Command};

use ocean_wallet::{Address, Error, Wallet};

/// A password with spaces and non-ASCII characters, so both sides must agree on its bytes.
const PW: &str = "pä ss wörd! 42";

/// The npm-installed `cast` (`make deps-node`); a missing binary fails the test rather than skipping it.
fn cast() -> PathBuf {
    let candidates = [
        std::env::var_os("OCEAN_FOUNDRY_BIN").map(|d| PathBuf::from(d).join("cast")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/node_modules/.bin/cast")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists()).unwrap_or_else(|| {
        panic!(
            "Foundry's `cast` was not found in $OCEAN_FOUNDRY_BIN or contracts/node_modules/.bin: \
             run `make deps-node` (the interop tests need the real cast)"
        )
    })
}

fn run(args: &[&str]) -> String {
    let out = Command::new(cast()).args(args).output().expect("running cast");
    assert!(
        out.status.success(),
        "cast {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cast prints UTF-8")
}

fn cast_address(keystore: &std::path::Path, password: &str) -> Address {
    let text = run(&["wallet", "address", "--keystore", keystore.to_str().unwrap(), "--password", password]);
    text.trim().parse().unwrap_or_else(|e| panic!("cast printed `{text}`: {e}"))
}

#[test]
fn cast_reads_keystores_ocean_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = Wallet::open(dir.path().join("keys"));

    let created = wallet.create("fresh", PW).unwrap();
    assert_eq!(Some(cast_address(&created.path, PW)), created.address);

    // Anvil's first dev account, imported from its private key.
    let imported = wallet
        .import_private_key("dev", "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", PW)
        .unwrap();
    let expected: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
    assert_eq!(imported.address, Some(expected));
    assert_eq!(cast_address(&imported.path, PW), expected);

    // cast rejects a wrong password too: the file really is encrypted with PW.
    let out = Command::new(cast())
        .args(["wallet", "address", "--keystore", created.path.to_str().unwrap(), "--password", "wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "cast accepted a wrong password");
}

#[test]
fn ocean_imports_keystores_cast_writes() {
    let dir = tempfile::tempdir().unwrap();
    let cast_dir = dir.path().join("cast");
    std::fs::create_dir(&cast_dir).unwrap();
    let out = run(&["wallet", "new", cast_dir.to_str().unwrap(), "mine", "--unsafe-password", PW]);
    // cast prints `Address:    0x...`.
    let printed: Address = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Address:"))
        .unwrap_or_else(|| panic!("no address in cast's output: {out}"))
        .trim()
        .parse()
        .unwrap();
    let file = cast_dir.join("mine");

    let wallet = Wallet::open(dir.path().join("keys"));
    let err = wallet.import_keystore("mine", &file, "wrong").unwrap_err();
    assert!(matches!(err, Error::WrongPassword { .. }), "{err}");

    let key = wallet.import_keystore("mine", &file, PW).unwrap();
    assert_eq!(key.address, Some(printed));
    assert_eq!(wallet.unlock(Some("mine"), PW).unwrap().address(), printed);
    assert_eq!(wallet.unlock(Some(&printed.to_string()), PW).unwrap().address(), printed);
    // The copy (with the `address` field added) is still a keystore cast reads.
    assert_eq!(cast_address(&key.path, PW), printed);
    assert_eq!(wallet.list().unwrap(), vec![key]);
}
