//! Envelopes made here open with `age -d`, and files made by `age -r` open here.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use ocean_crypto::{Identity, Recipient, decrypt, encrypt};

fn age() -> Command {
    let bin = std::env::var("OCEAN_AGE_BIN").unwrap_or_else(|_| "age".into());
    let probe = Command::new(&bin).arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "the reference `age` tool is missing: run `make deps` (apt-get install age)"
    );
    Command::new(bin)
}

fn payload() -> Vec<u8> {
    // Several age payload chunks (64 KiB each) and a partial last one.
    (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[test]
fn ocean_envelopes_open_with_the_age_tool() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Identity::generate(), Identity::generate());
    let data = payload();
    let env = encrypt(&[a.recipient(), b.recipient()], &data).unwrap();
    std::fs::write(dir.path().join("data.age"), &env).unwrap();
    for (i, id) in [&a, &b].iter().enumerate() {
        let key = dir.path().join(format!("key-{i}.txt"));
        std::fs::write(&key, format!("# test identity\n{}\n", id.to_secret_string())).unwrap();
        let out = age().args(["-d", "-i"]).arg(&key).arg(dir.path().join("data.age")).output().unwrap();
        assert!(out.status.success(), "age -d failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, data, "age recovers the plaintext for recipient {i}");
    }
    // A key that is not a recipient is refused by the reference tool too.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, Identity::generate().to_secret_string()).unwrap();
    let out = age().args(["-d", "-i"]).arg(&other).arg(dir.path().join("data.age")).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn age_tool_files_open_with_ocean_crypto() {
    let dir = tempfile::tempdir().unwrap();
    let me = Identity::derive(b"a wallet key of the test");
    let data = payload();
    let mut child = age()
        .arg("-r")
        .arg(me.recipient().to_string())
        .arg("-r")
        .arg(Identity::generate().recipient().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "age -r failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(decrypt(&me, &out.stdout).unwrap(), data);

    // The identity file format agrees too: a key made by `age-keygen` parses here.
    let keygen = Command::new("age-keygen").arg("-o").arg(dir.path().join("k.txt")).output().unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let text = std::fs::read_to_string(dir.path().join("k.txt")).unwrap();
    let secret = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")).unwrap();
    let public = text.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap();
    let id: Identity = secret.parse().unwrap();
    assert_eq!(id.recipient(), public.parse::<Recipient>().unwrap());
    let out = age().args(["-r", public]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = out;
    out.stdin.take().unwrap().write_all(b"hello from age").unwrap();
    let out = out.wait_with_output().unwrap();
    assert_eq!(decrypt(&id, &out.stdout).unwrap(), b"hello from age");
    // And a file made to someone else is refused with the typed error.
    assert!(matches!(decrypt(&me, &out.stdout), Err(ocean_crypto::Error::NotARecipient)));
}
