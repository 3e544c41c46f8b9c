//! Unit tests of the KMS model and its in-process contract.

use super::*;

const START_MS: u64 = 1_700_000_000_000;
/// The server's account, in the server's region.
const A: Home<'static> = Home {
    region: "us-east-1",
    account: "000000000000",
};

fn kms() -> (Kms, Arc<Clock>) {
    let clock = Arc::new(Clock::manual(START_MS));
    (Kms::new("us-east-1", "000000000000", clock.clone()), clock)
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn customer_key(k: &Kms) -> Arc<Key> {
    k.create_key(KeySpec::SymmetricDefault, String::new(), None, BTreeMap::new(), A)
}

/// Authorizes every call: these tests are about KMS, not its policies.
const ME: super::Authorize<'static> = &|_, _| Ok(());

#[test]
fn generate_and_decrypt_round_trip() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let c = ctx(&[("aws:sqs:arn", "arn:aws:sqs:us-east-1:000000000000:q")]);
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    assert_eq!(dk.plaintext.len(), 32);
    assert_eq!(&*dk.key_arn, &*key.arn);
    let d = k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).unwrap();
    assert_eq!(*d.plaintext, *dk.plaintext);
    assert_eq!(d.key_arn, key.arn);
    for (spec, len) in [
        (DataKeySpec::Aes128, 16),
        (DataKeySpec::Bytes(1), 1),
        (DataKeySpec::Bytes(1024), 1024),
    ] {
        assert_eq!(
            k.generate_data_key(&ME, &key.arn, spec, &c, A)
                .unwrap()
                .plaintext
                .len(),
            len
        );
    }
}

fn assert_invalid_ciphertext(r: Result<Decrypted>) {
    match r {
        Err(Error::InvalidCiphertextException(m)) => assert_eq!(m, ""),
        other => panic!("expected InvalidCiphertextException, got {other:?}"),
    }
}

#[test]
fn tampered_truncated_or_foreign_blobs_are_invalid_ciphertext_with_an_empty_message() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let c = ctx(&[("a", "1")]);
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    let mut flipped = dk.ciphertext_blob.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    assert_invalid_ciphertext(k.decrypt(&ME, &flipped, &c, None, A));
    assert_invalid_ciphertext(k.decrypt(&ME, &dk.ciphertext_blob[..40], &c, None, A));
    assert_invalid_ciphertext(k.decrypt(&ME, b"not a blob at all", &c, None, A));
    // Same header shape, unknown key id.
    let mut foreign = dk.ciphertext_blob;
    foreign[1] ^= 0xFF;
    assert_invalid_ciphertext(k.decrypt(&ME, &foreign, &c, None, A));
}

#[test]
fn another_context_is_invalid_ciphertext() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &ctx(&[("a", "1")]), A)
        .unwrap();
    assert_invalid_ciphertext(k.decrypt(&ME, &dk.ciphertext_blob, &ctx(&[("a", "2")]), None, A));
    assert_invalid_ciphertext(k.decrypt(&ME, &dk.ciphertext_blob, &EncryptionContext::new(), None, A));
}

#[test]
fn naming_another_key_is_incorrect_key() {
    let (k, _) = kms();
    let (a, b) = (customer_key(&k), customer_key(&k));
    let c = EncryptionContext::new();
    let dk = k
        .generate_data_key(&ME, &a.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    assert!(k.decrypt(&ME, &dk.ciphertext_blob, &c, Some(&a.arn), A).is_ok());
    assert!(matches!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, Some(&b.id), A),
        Err(Error::IncorrectKeyException(_))
    ));
}

#[test]
fn disabled_key_is_refused_with_the_aws_message() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let c = EncryptionContext::new();
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    key.write().state = KeyState::Disabled;
    let want = Error::DisabledException(format!("{} is disabled.", key.arn).into());
    assert_eq!(
        k.generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
            .unwrap_err(),
        want
    );
    assert_eq!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).unwrap_err(),
        want
    );
}

#[test]
fn pending_deletion_is_invalid_state_then_the_key_is_gone_after_the_window() {
    let (k, clock) = kms();
    let key = customer_key(&k);
    let c = EncryptionContext::new();
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    key.write().state = KeyState::PendingDeletion {
        deletion_ms: START_MS + 7 * DAY_MS,
        window_days: 7,
    };
    k.insert_alias("alias/doomed", &key).unwrap();
    let want = Error::KmsInvalidStateException(format!("{} is pending deletion.", key.arn).into());
    assert_eq!(
        k.generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
            .unwrap_err(),
        want
    );
    assert_eq!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).unwrap_err(),
        want
    );
    clock.advance(7 * DAY_MS - 1);
    assert_eq!(k.list_keys(A).len(), 1);
    clock.advance(1);
    assert!(k.list_keys(A).is_empty());
    assert_eq!(
        k.generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
            .unwrap_err(),
        Error::NotFoundException(format!("Key '{}' does not exist", key.arn).into())
    );
    assert!(k.alias_target("alias/doomed", A).is_none());
    assert_invalid_ciphertext(k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A));
}

#[test]
fn rotation_keeps_old_ciphertexts_decryptable_and_seals_with_the_newest_version() {
    let (k, clock) = kms();
    let key = customer_key(&k);
    let c = EncryptionContext::new();
    let old = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    {
        let mut g = key.write();
        g.rotation_period_days = Some(90);
        g.next_rotation_ms = Some(START_MS + 90 * DAY_MS);
    }
    clock.advance(90 * DAY_MS);
    let new = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    assert_eq!(blob::header(&old.ciphertext_blob).unwrap().version, 0);
    assert_eq!(blob::header(&new.ciphertext_blob).unwrap().version, 1);
    assert_eq!(
        *k.decrypt(&ME, &old.ciphertext_blob, &c, None, A)
            .unwrap()
            .plaintext,
        *old.plaintext
    );
    assert_eq!(
        *k.decrypt(&ME, &new.ciphertext_blob, &c, None, A)
            .unwrap()
            .plaintext,
        *new.plaintext
    );
}

#[test]
fn key_identifiers_in_all_four_forms() {
    let (k, _) = kms();
    let key = customer_key(&k);
    k.insert_alias("alias/app", &key).unwrap();
    let alias_arn = k.alias_arn(A, "alias/app");
    for id in [&*key.id, &*key.arn, "alias/app", &alias_arn] {
        assert_eq!(k.resolve(id, Forms::WithAlias, A).unwrap().id, key.id, "{id}");
    }
    for id in ["alias/app", alias_arn.as_str()] {
        assert!(matches!(
            k.resolve(id, Forms::KeyOnly, A),
            Err(Error::NotFoundException(_))
        ));
    }
    assert_eq!(
        k.resolve("fake-key-id", Forms::WithAlias, A).unwrap_err(),
        Error::NotFoundException("Invalid keyId 'fake-key-id'".into())
    );
    assert_eq!(
        k.resolve("alias/none", Forms::WithAlias, A).unwrap_err(),
        Error::NotFoundException("Alias arn:aws:kms:us-east-1:000000000000:alias/none is not found.".into())
    );
    let other_region = key.arn.replace("us-east-1", "eu-west-1");
    assert_eq!(
        k.resolve(&other_region, Forms::KeyOnly, A).unwrap_err(),
        Error::NotFoundException("Invalid arn eu-west-1".into())
    );
}

#[test]
fn keys_and_aliases_live_in_their_account() {
    const B: Home<'static> = Home {
        region: "us-east-1",
        account: "111111111111",
    };
    let (k, _) = kms();
    let mine = customer_key(&k);
    let theirs = k.create_key(KeySpec::SymmetricDefault, String::new(), None, BTreeMap::new(), B);
    assert_eq!(theirs.home(), B);
    assert_eq!(
        &*theirs.arn,
        format!("arn:aws:kms:us-east-1:{}:key/{}", B.account, theirs.id)
    );
    assert!(theirs.read().policy.contains("arn:aws:iam::111111111111:root"));
    // The same alias name in two accounts names two keys.
    k.insert_alias("alias/shared", &mine).unwrap();
    k.insert_alias("alias/shared", &theirs).unwrap();
    assert_eq!(
        k.resolve("alias/shared", Forms::WithAlias, A).unwrap().id,
        mine.id
    );
    assert_eq!(
        k.resolve("alias/shared", Forms::WithAlias, B).unwrap().id,
        theirs.id
    );
    // A bare id or alias name resolves in the caller's account only.
    assert_eq!(
        k.resolve(&theirs.id, Forms::KeyOnly, A).unwrap_err(),
        Error::NotFoundException(
            format!(
                "Key 'arn:aws:kms:us-east-1:{}:key/{}' does not exist",
                A.account, theirs.id
            )
            .into()
        )
    );
    k.remove_alias("alias/shared", A).unwrap();
    assert_eq!(
        k.resolve("alias/shared", Forms::WithAlias, A).unwrap_err(),
        Error::NotFoundException(
            format!(
                "Alias arn:aws:kms:us-east-1:{}:alias/shared is not found.",
                A.account
            )
            .into()
        )
    );
    // ARNs name the account themselves.
    assert_eq!(k.resolve(&theirs.arn, Forms::KeyOnly, A).unwrap().id, theirs.id);
    let alias_arn = k.alias_arn(B, "alias/shared");
    assert_eq!(k.resolve(&alias_arn, Forms::WithAlias, A).unwrap().id, theirs.id);
    let wrong_account = theirs.arn.replace(B.account, "222222222222");
    assert_eq!(
        k.resolve(&wrong_account, Forms::KeyOnly, B).unwrap_err(),
        Error::NotFoundException(format!("Key '{wrong_account}' does not exist").into())
    );
    // Listing is per account.
    assert_eq!(k.list_keys(A).len(), 1);
    assert_eq!(k.list_keys(B)[0].id, theirs.id);
    assert!(k.list_aliases(A).is_empty());
    assert_eq!(k.list_aliases(B).len(), 1);
    // The AWS-managed key is per account, its policy naming that account.
    let sqs_a = k.aws_managed_key("sqs", A);
    let sqs_b = k.aws_managed_key("sqs", B);
    assert_ne!(sqs_a, sqs_b);
    let managed = k.resolve("alias/aws/sqs", Forms::WithAlias, B).unwrap();
    assert_eq!(managed.arn, sqs_b);
    assert!(
        managed
            .read()
            .policy
            .contains("\"kms:CallerAccount\" : \"111111111111\"")
    );
    // A blob is opened by whatever account holds its key; the service
    // resolves a queue's key id in the queue's account.
    let c = ctx(&[("a", "1")]);
    let dk = k
        .generate_data_key(&ME, "alias/shared", DataKeySpec::Aes256, &c, B)
        .unwrap();
    assert_eq!(dk.key_arn, theirs.arn);
    assert_eq!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).unwrap().key_arn,
        theirs.arn
    );
    assert!(matches!(
        k.generate_data_key(&ME, "alias/shared", DataKeySpec::Aes256, &c, A),
        Err(Error::NotFoundException(_))
    ));
}

#[test]
fn aws_managed_key_is_created_once_with_its_alias() {
    let (k, _) = kms();
    let a = k.aws_managed_key("sqs", A);
    let b = k.aws_managed_key("sqs", A);
    assert_eq!(a, b);
    let key = k.resolve("alias/aws/sqs", Forms::WithAlias, A).unwrap();
    assert_eq!(key.arn, a);
    assert_eq!(key.manager, KeyManager::Aws);
    assert_eq!(
        key.read().description,
        "Default key that protects my SQS messages when no other key is defined"
    );
    assert_eq!(k.list_keys(A).len(), 1);
    assert!(
        k.generate_data_key(
            &ME,
            "alias/aws/sqs",
            DataKeySpec::Aes256,
            &EncryptionContext::new(),
            A
        )
        .is_ok()
    );
}

#[test]
fn service_owned_keys_work_in_process_but_are_invisible_to_the_api() {
    let (k, _) = kms();
    let id = k.service_owned_key("sqs", "us-east-1");
    assert_eq!(k.service_owned_key("sqs", "us-east-1"), id);
    let c = EncryptionContext::new();
    let dk = k.generate_data_key(&ME, &id, DataKeySpec::Aes256, &c, A).unwrap();
    assert_eq!(
        *k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A)
            .unwrap()
            .plaintext,
        *dk.plaintext
    );
    assert!(k.list_keys(A).is_empty());
    assert!(matches!(
        k.resolve(&id, Forms::WithAlias, A),
        Err(Error::NotFoundException(_))
    ));
    assert!(matches!(
        k.open_blob(&dk.ciphertext_blob, &c, None, A),
        Err(Error::InvalidCiphertextException(_))
    ));
}

#[test]
fn fault_switch_fails_every_call() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let c = EncryptionContext::new();
    let dk = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    k.set_fault(KmsFault::Throttling);
    assert_eq!(k.fault(), KmsFault::Throttling);
    assert_eq!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).unwrap_err(),
        Error::KmsThrottlingException("Rate exceeded".into())
    );
    k.set_fault(KmsFault::Unavailable);
    let e = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap_err();
    assert!(matches!(e, Error::DependencyTimeoutException(_)));
    assert_eq!(e.meta().status, 500);
    k.set_fault(KmsFault::Healthy);
    assert!(k.decrypt(&ME, &dk.ciphertext_blob, &c, None, A).is_ok());
}

#[test]
fn debug_output_never_shows_key_material() {
    let (k, _) = kms();
    let key = customer_key(&k);
    let dbg = format!("{k:?}");
    assert!(dbg.contains("<redacted>"));
    let material = format!("{:?}", key.read().versions[0]);
    assert_eq!(material, "Material(<redacted>)");
}

#[test]
fn kms_errors_have_the_shape_names_aws_sends() {
    let m = Error::KmsInvalidStateException("x".into()).meta();
    assert_eq!((m.status, m.json_type), (400, "KMSInvalidStateException"));
    assert_eq!(
        Error::NotFoundException("x".into()).meta().json_type,
        "NotFoundException"
    );
    assert_eq!(
        Error::KmsThrottlingException("x".into()).meta().json_type,
        "ThrottlingException"
    );
    assert_eq!(Error::KmsInternalException("x".into()).meta().status, 500);
}

// ---- HMAC keys and key usage ------------------------------------------------------

fn hmac_key(k: &Kms, spec: KeySpec) -> Arc<Key> {
    k.create_key(spec, String::new(), None, BTreeMap::new(), A)
}

fn usage_error(key: &Key, usage: &str, operation: &str) -> Error {
    Error::InvalidKeyUsageException(
        format!(
            "{} key usage is {usage} which is not valid for {operation}.",
            key.arn
        )
        .into(),
    )
}

#[test]
fn hmac_keys_have_material_of_their_spec_length_and_no_backing_versions() {
    let (k, _) = kms();
    for (spec, len, alg) in [
        (KeySpec::Hmac224, 28, "HMAC_SHA_224"),
        (KeySpec::Hmac256, 32, "HMAC_SHA_256"),
        (KeySpec::Hmac384, 48, "HMAC_SHA_384"),
        (KeySpec::Hmac512, 64, "HMAC_SHA_512"),
    ] {
        let key = hmac_key(&k, spec);
        assert_eq!(key.mac_key_len(), len, "{spec:?}");
        assert_eq!(key.usage(), KeyUsage::GenerateVerifyMac);
        assert_eq!(spec.mac_algorithm(), Some(alg));
        assert!(key.read().versions.is_empty());
        // The tag length is the hash's output length.
        let tag = key.mac(b"m").unwrap();
        assert_eq!(tag.len(), len, "{spec:?}");
    }
    let sym = customer_key(&k);
    assert_eq!(sym.mac_key_len(), 0);
    assert!(sym.mac(b"m").is_none());
    assert!(!sym.verify_mac(b"m", &[0; 32]));
}

#[test]
fn mac_verification_rejects_any_change() {
    let (k, _) = kms();
    let key = hmac_key(&k, KeySpec::Hmac256);
    let tag = key.mac(b"hello").unwrap();
    assert_eq!(key.mac(b"hello").unwrap(), tag, "deterministic");
    assert!(key.verify_mac(b"hello", &tag));
    assert!(!key.verify_mac(b"hellO", &tag));
    let mut flipped = tag.clone();
    flipped[0] ^= 1;
    assert!(!key.verify_mac(b"hello", &flipped));
    assert!(!key.verify_mac(b"hello", &tag[..31]));
    // Another key of the same spec computes another tag.
    let other = hmac_key(&k, KeySpec::Hmac256);
    assert!(!other.verify_mac(b"hello", &tag));
}

#[test]
fn hmac_key_debug_output_never_shows_its_secret() {
    let (k, _) = kms();
    let key = hmac_key(&k, KeySpec::Hmac512);
    let dbg = format!("{key:?}");
    assert!(dbg.contains("MacMaterial(<redacted>)"), "{dbg}");
}

#[test]
fn in_process_generate_data_key_with_an_hmac_key_is_invalid_key_usage() {
    let (k, _) = kms();
    let key = hmac_key(&k, KeySpec::Hmac256);
    k.insert_alias("alias/mac", &key).unwrap();
    let c = EncryptionContext::new();
    for id in [&*key.id, &*key.arn, "alias/mac"] {
        assert_eq!(
            k.generate_data_key(&ME, id, DataKeySpec::Aes256, &c, A)
                .unwrap_err(),
            usage_error(&key, "GENERATE_VERIFY_MAC", "GenerateDataKey"),
            "{id}"
        );
    }
    // SQS relays it as KmsInvalidKeyUsage.
    let e = k
        .generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A)
        .unwrap_err();
    assert_eq!(e.meta().query_code, "InvalidKeyUsageException");
    // Key state is checked before usage.
    key.write().state = KeyState::Disabled;
    assert!(matches!(
        k.generate_data_key(&ME, &key.id, DataKeySpec::Aes256, &c, A),
        Err(Error::DisabledException(_))
    ));
}

#[test]
fn in_process_decrypt_naming_an_hmac_key_is_the_wrong_key() {
    let (k, _) = kms();
    let sym = customer_key(&k);
    let mac = hmac_key(&k, KeySpec::Hmac384);
    let c = EncryptionContext::new();
    let dk = k
        .generate_data_key(&ME, &sym.id, DataKeySpec::Aes256, &c, A)
        .unwrap();
    assert_eq!(
        k.decrypt(&ME, &dk.ciphertext_blob, &c, Some(&mac.arn), A)
            .unwrap_err(),
        Error::IncorrectKeyException(
            "The key ID in the request does not identify a CMK that can perform this operation.".into()
        ),
        "AWS recorded"
    );
    // A forged blob whose header names the HMAC key does not open.
    let mut forged = dk.ciphertext_blob;
    forged[1..17].copy_from_slice(&mac.uuid);
    assert_invalid_ciphertext(k.decrypt(&ME, &forged, &c, None, A));
}

#[test]
fn hmac_key_errors_have_the_shape_names_aws_sends() {
    let m = Error::KmsInvalidMacException(String::new().into()).meta();
    assert_eq!(
        (m.status, m.query_code, m.json_type),
        (400, "KMSInvalidMacException", "KMSInvalidMacException")
    );
    let u = Error::InvalidKeyUsageException("x".into()).meta();
    assert_eq!((u.status, u.json_type), (400, "InvalidKeyUsageException"));
}
