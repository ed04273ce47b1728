//! Bad input: each a clear typed error before any homomorphic work.

use ocean_fhe::{Error, Limit, data, job, keys, keys::KeySet};

use crate::{budget, encrypt, files, inputs};

const SUM: &str =
    "outputs = [\"s\"]\n[inputs]\nx = \"u16[3]\"\n[[let]]\nname = \"s\"\nop = \"sum\"\nargs = [\"x\"]\n";

#[test]
fn mismatched_keys_wrong_widths_bad_programs_and_limits_are_refused_up_front() {
    let one = KeySet::generate();
    let other = KeySet::generate();
    let (client1, server1, public1) = files(&one);
    let (client2, server2, public2) = files(&other);
    let x1 = encrypt(&public1, "u16[3]", &[1, 2, 3]);
    let x2 = encrypt(&public2, "u16[3]", &[1, 2, 3]);

    // A ciphertext made under another key set.
    let err = job::evaluate(SUM.as_bytes(), &server1, &inputs(&[("x", &x2)]), &budget()).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { ref what, .. } if what == "input `x`"), "{err}");
    assert!(err.to_string().contains("the server key"), "{err}");

    // A server key that does not match the inputs.
    let err = job::evaluate(SUM.as_bytes(), &server2, &inputs(&[("x", &x1)]), &budget()).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");

    // An input of the wrong width, and one of the wrong length.
    let narrow = encrypt(&public1, "u8[3]", &[1, 2, 3]);
    let err = job::evaluate(SUM.as_bytes(), &server1, &inputs(&[("x", &narrow)]), &budget()).unwrap_err();
    assert!(matches!(err, Error::InputType { .. }), "{err}");
    assert!(err.to_string().contains("expects u16[3], the ciphertext holds u8[3]"), "{err}");
    let short = encrypt(&public1, "u16[2]", &[1, 2]);
    assert!(matches!(
        job::evaluate(SUM.as_bytes(), &server1, &inputs(&[("x", &short)]), &budget()),
        Err(Error::InputType { .. })
    ));

    // A program that does not type-check, a missing input, an undeclared input.
    let bad = SUM.replace("\"sum\"", "\"div\"");
    let err = job::evaluate(bad.as_bytes(), &server1, &inputs(&[("x", &x1)]), &budget()).unwrap_err();
    assert!(matches!(err, Error::Program(_)), "{err}");
    assert!(matches!(
        job::evaluate(SUM.as_bytes(), &server1, &inputs(&[]), &budget()),
        Err(Error::Input(..))
    ));
    assert!(matches!(
        job::evaluate(SUM.as_bytes(), &server1, &inputs(&[("x", &x1), ("y", &x1)]), &budget()),
        Err(Error::Input(..))
    ));

    // The wrong file where a key is expected.
    let err = job::evaluate(SUM.as_bytes(), &public1, &inputs(&[("x", &x1)]), &budget()).unwrap_err();
    assert!(matches!(err, Error::WrongFile { .. }), "{err}");

    // Limits, all known before the run.
    let ins = inputs(&[("x", &x1)]);
    let tight = |f: &dyn Fn(&mut job::Budget)| {
        let mut b = budget();
        f(&mut b);
        job::evaluate(SUM.as_bytes(), &server1, &ins, &b).unwrap_err().limit()
    };
    assert_eq!(tight(&|b| b.work = 1), Some(Limit::Work));
    assert_eq!(tight(&|b| b.memory_bytes = 64 << 20), Some(Limit::Memory));
    assert_eq!(tight(&|b| b.output_bytes = 1000), Some(Limit::Output));
    assert_eq!(tight(&|b| b.deadline = Some(std::time::Instant::now())), Some(Limit::Timeout));

    // The right evaluation works, and only the right client key with the right password decrypts it.
    let done = job::evaluate(SUM.as_bytes(), &server1, &ins, &budget()).unwrap();
    assert_eq!(done.work, 3 * 8);
    assert!(matches!(keys::open_client(&client1, b"wrong"), Err(Error::WrongPassphrase)));
    let mut tampered = client1.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert!(matches!(keys::open_client(&tampered, b"pw"), Err(Error::WrongPassphrase)));
    let wrong = keys::open_client(&client2, b"pw").unwrap();
    let err = data::decrypt(&wrong, &done.outputs).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("the client key"), "{err}");
    let right = keys::open_client(&client1, b"pw").unwrap();
    assert_eq!(data::decrypt(&right, &done.outputs).unwrap()[0].values, [6]);

    // Values that do not fit their type.
    let public = keys::read_public(&public1).unwrap();
    assert!(matches!(data::encrypt(&public, "u8".parse().unwrap(), &[256]), Err(Error::Value { .. })));
    assert!(matches!(data::encrypt(&public, "u8[2]".parse().unwrap(), &[1]), Err(Error::Input(..))));
}
