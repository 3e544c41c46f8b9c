//! The KMS API (JSON 1.1, `TrentService.*`) through the official Rust SDK,
//! plus raw-HTTP checks of AWS-shaped errors.

mod common;

use std::sync::Arc;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeyManagerType, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec,
    Tag,
};
use common::{Server, kms, start, start_with, unique};
use sealq::Config;
use sealq::clock::Clock;

const ACCOUNT: &str = "000000000000";

fn code_and_message<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

async fn new_key(c: &aws_sdk_kms::Client) -> (String, String) {
    let out = c.create_key().description("test key").send().await.unwrap();
    let m = out.key_metadata().unwrap();
    (m.key_id().to_owned(), m.arn().unwrap().to_owned())
}

async fn new_alias(c: &aws_sdk_kms::Client, key_id: &str) -> String {
    let name = format!("alias/{}", unique("a"));
    c.create_alias()
        .alias_name(&name)
        .target_key_id(key_id)
        .send()
        .await
        .unwrap();
    name
}

fn alias_arn(name: &str) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:{name}")
}

async fn encrypt(c: &aws_sdk_kms::Client, key: &str, plaintext: &[u8]) -> Vec<u8> {
    c.encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn create_and_describe_key_returns_full_metadata() {
    let server = start().await;
    let c = kms(&server);
    let out = c
        .create_key()
        .description("orders")
        .tags(Tag::builder().tag_key("team").tag_value("core").build().unwrap())
        .send()
        .await
        .unwrap();
    let m = out.key_metadata().unwrap();
    let id = m.key_id();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(
        m.arn(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}").as_str())
    );
    assert_eq!(m.aws_account_id(), Some(ACCOUNT));
    assert!(m.enabled());
    assert_eq!(m.description(), Some("orders"));
    assert_eq!(m.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(m.key_state(), Some(&KeyState::Enabled));
    assert_eq!(m.key_manager(), Some(&KeyManagerType::Customer));
    assert_eq!(m.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(m.encryption_algorithms().len(), 1);
    assert_eq!(m.multi_region(), Some(false));
    assert!(m.creation_date().is_some());
    assert!(m.deletion_date().is_none());

    let d = c.describe_key().key_id(id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    assert_eq!(d.key_metadata().unwrap().description(), Some("orders"));
}

#[tokio::test]
async fn create_key_refuses_asymmetric_specs_and_other_usages() {
    let server = start().await;
    let c = kms(&server);
    let e = c
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_unsupported_operation_exception(), "{e:?}");
    let e = c
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "ValidationException");
    let e = c
        .create_key()
        .policy("{not json")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_malformed_policy_document_exception(), "{e:?}");
}

#[tokio::test]
async fn describe_key_accepts_all_four_identifier_forms() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    for form in [id.clone(), arn.clone(), alias.clone(), alias_arn(&alias)] {
        let out = c.describe_key().key_id(&form).send().await.unwrap();
        assert_eq!(out.key_metadata().unwrap().key_id(), id, "{form}");
    }
}

#[tokio::test]
async fn unknown_keys_and_aliases_are_not_found_with_aws_messages() {
    let server = start().await;
    let c = kms(&server);
    let e = c
        .describe_key()
        .key_id("fake-key-id")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception());
    assert_eq!(code_and_message(&e).1, "Invalid keyId 'fake-key-id'");

    let missing = "0b4fa3c1-2d4e-4f60-8a9b-0c1d2e3f4a5b";
    let e = c
        .describe_key()
        .key_id(missing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "NotFoundException".to_owned(),
            format!("Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}' does not exist")
        )
    );
    let e = c
        .describe_key()
        .key_id("alias/nothing-here")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e).1,
        format!("Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nothing-here is not found.")
    );
}

#[tokio::test]
async fn list_keys_pages_with_limit_and_marker() {
    let server = start().await;
    let c = kms(&server);
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(new_key(&c).await.0);
    }
    created.sort();
    let first = c.list_keys().limit(2).send().await.unwrap();
    assert!(first.truncated());
    assert_eq!(first.keys().len(), 2);
    let mut seen: Vec<String> = first
        .keys()
        .iter()
        .map(|k| k.key_id().unwrap().to_owned())
        .collect();
    let mut marker = first.next_marker().map(str::to_owned);
    while let Some(m) = marker {
        let page = c.list_keys().limit(2).marker(m).send().await.unwrap();
        seen.extend(page.keys().iter().map(|k| k.key_id().unwrap().to_owned()));
        marker = page.next_marker().map(str::to_owned);
        if !page.truncated() {
            assert!(marker.is_none());
        }
    }
    assert_eq!(seen, created);
    let all = c.list_keys().send().await.unwrap();
    assert!(!all.truncated());
    assert!(
        all.keys()[0]
            .key_arn()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:")
    );

    let e = c
        .list_keys()
        .limit(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "ValidationException");
    let e = c
        .list_keys()
        .marker("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_marker_exception());
}

#[tokio::test]
async fn aliases_create_update_list_delete() {
    let server = start().await;
    let c = kms(&server);
    let (a, _) = new_key(&c).await;
    let (b, b_arn) = new_key(&c).await;
    let name = new_alias(&c, &a).await;

    let e = c
        .create_alias()
        .alias_name(&name)
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_already_exists_exception());

    let listed = c.list_aliases().key_id(&a).send().await.unwrap();
    assert_eq!(listed.aliases().len(), 1);
    let entry = &listed.aliases()[0];
    assert_eq!(entry.alias_name(), Some(name.as_str()));
    assert_eq!(entry.alias_arn(), Some(alias_arn(&name).as_str()));
    assert_eq!(entry.target_key_id(), Some(a.as_str()));

    // UpdateAlias takes key id or key ARN.
    c.update_alias()
        .alias_name(&name)
        .target_key_id(&b_arn)
        .send()
        .await
        .unwrap();
    let d = c.describe_key().key_id(&name).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), b);
    assert!(
        c.list_aliases()
            .key_id(&a)
            .send()
            .await
            .unwrap()
            .aliases()
            .is_empty()
    );

    c.delete_alias().alias_name(&name).send().await.unwrap();
    let e = c
        .delete_alias()
        .alias_name(&name)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception());
    let e = c
        .describe_key()
        .key_id(&name)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception());
}

#[tokio::test]
async fn alias_names_follow_aws_rules() {
    let server = start().await;
    let c = kms(&server);
    let (id, _) = new_key(&c).await;
    let e = c
        .create_alias()
        .alias_name("no-prefix")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "ValidationException".to_owned(),
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".to_owned()
        )
    );
    let e = c
        .create_alias()
        .alias_name("alias/aws/mine")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "AccessDeniedException");
    // TargetKeyId takes key id or ARN, not an alias.
    let other = new_alias(&c, &id).await;
    let e = c
        .create_alias()
        .alias_name(format!("alias/{}", unique("b")))
        .target_key_id(&other)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn list_aliases_includes_the_aws_managed_sqs_alias_once_created() {
    let server = start().await;
    let c = kms(&server);
    let before = c.list_aliases().send().await.unwrap();
    assert!(
        before
            .aliases()
            .iter()
            .all(|a| a.alias_name() != Some("alias/aws/sqs"))
    );
    let arn = server.state.kms.aws_managed_key(
        "sqs",
        sealq::kms::Home {
            region: "us-east-1",
            account: "000000000000",
        },
    );
    let after = c.list_aliases().send().await.unwrap();
    let entry = after
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/aws/sqs"))
        .expect("alias/aws/sqs listed");
    assert!(arn.ends_with(entry.target_key_id().unwrap()));
    let m = c.describe_key().key_id("alias/aws/sqs").send().await.unwrap();
    let m = m.key_metadata().unwrap();
    assert_eq!(m.key_manager(), Some(&KeyManagerType::Aws));
    assert_eq!(
        m.description(),
        Some("Default key that protects my SQS messages when no other key is defined")
    );
}

#[tokio::test]
async fn aws_managed_keys_refuse_changes() {
    let server = start().await;
    let c = kms(&server);
    let arn = server
        .state
        .kms
        .aws_managed_key(
            "sqs",
            sealq::kms::Home {
                region: "us-east-1",
                account: "000000000000",
            },
        )
        .to_string();
    let e = c
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "AccessDeniedException");
    let e = c
        .disable_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "AccessDeniedException");
    let e = c
        .schedule_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "AccessDeniedException");
    let e = c
        .delete_alias()
        .alias_name("alias/aws/sqs")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "AccessDeniedException");
    // Its policy can be read.
    let p = c
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(p.policy().unwrap().contains("kms:ViaService"));
}

#[tokio::test]
async fn service_owned_keys_are_invisible_to_the_api() {
    let server = start().await;
    let c = kms(&server);
    let owned = server.state.kms.service_owned_key("sqs", "us-east-1").to_string();
    let e = c
        .describe_key()
        .key_id(&owned)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception());
    assert!(c.list_keys().send().await.unwrap().keys().is_empty());
    // A blob made in-process under it is not accepted by the API.
    let dk = server
        .state
        .kms
        .generate_data_key(
            &|_, _| Ok(()),
            &owned,
            sealq::kms::DataKeySpec::Aes256,
            &sealq::kms::EncryptionContext::new(),
            sealq::kms::Home {
                region: "us-east-1",
                account: "000000000000",
            },
        )
        .unwrap();
    let e = c
        .decrypt()
        .ciphertext_blob(Blob::new(dk.ciphertext_blob))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_ciphertext_exception());
}

#[tokio::test]
async fn encrypt_decrypt_round_trip_in_all_identifier_forms() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    for form in [id.clone(), arn.clone(), alias.clone(), alias_arn(&alias)] {
        let out = c
            .encrypt()
            .key_id(&form)
            .plaintext(Blob::new(b"attack at dawn".to_vec()))
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(out.key_id(), Some(arn.as_str()));
        let blob = out.ciphertext_blob().unwrap().clone();
        assert_ne!(blob.as_ref(), b"attack at dawn");
        let d = c
            .decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(d.plaintext().unwrap().as_ref(), b"attack at dawn");
        assert_eq!(d.key_id(), Some(arn.as_str()));
        // Decrypt naming the key, in the same form.
        let d = c
            .decrypt()
            .ciphertext_blob(blob)
            .key_id(&form)
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(d.plaintext().unwrap().as_ref(), b"attack at dawn");
    }
}

#[tokio::test]
async fn encrypt_checks_plaintext_length() {
    let server = start().await;
    let c = kms(&server);
    let (id, _) = new_key(&c).await;
    assert!(encrypt(&c, &id, &[7u8; 4096]).await.len() > 4096);
    let e = c
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(vec![7u8; 4097]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "ValidationException");
}

#[tokio::test]
async fn tampered_blobs_and_other_contexts_are_invalid_ciphertext_with_empty_message() {
    let server = start().await;
    let c = kms(&server);
    let (id, _) = new_key(&c).await;
    let blob = c
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"secret".to_vec()))
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .as_ref()
        .to_vec();
    let mut flipped = blob.clone();
    flipped[30] ^= 1;
    type Case<'a> = (Vec<u8>, Option<(&'a str, &'a str)>);
    let cases: Vec<Case<'_>> = vec![
        (flipped, Some(("k", "v"))),
        (blob[..blob.len() - 3].to_vec(), Some(("k", "v"))),
        (blob.clone(), Some(("k", "other"))),
        (blob.clone(), None),
        (b"definitely not a ciphertext blob from sealq".to_vec(), None),
    ];
    for (b, ctx) in cases {
        let mut req = c.decrypt().ciphertext_blob(Blob::new(b));
        if let Some((k, v)) = ctx {
            req = req.encryption_context(k, v);
        }
        let e = req.send().await.unwrap_err().into_service_error();
        assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
        assert_eq!(e.message().unwrap_or_default(), "");
    }
}

#[tokio::test]
async fn decrypt_naming_another_key_is_incorrect_key() {
    let server = start().await;
    let c = kms(&server);
    let (a, _) = new_key(&c).await;
    let (b, _) = new_key(&c).await;
    let blob = encrypt(&c, &a, b"x").await;
    let e = c
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .key_id(&b)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_incorrect_key_exception(), "{e:?}");
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let server = start().await;
    let c = kms(&server);
    let (a, a_arn) = new_key(&c).await;
    let (b, b_arn) = new_key(&c).await;
    let alias_b = new_alias(&c, &b).await;
    let blob = encrypt(&c, &a, b"payload").await;
    let out = c
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .source_key_id(&a)
        .destination_key_id(&alias_b)
        .destination_encryption_context("to", "b")
        .send()
        .await
        .unwrap();
    assert_eq!(out.source_key_id(), Some(a_arn.as_str()));
    assert_eq!(out.key_id(), Some(b_arn.as_str()));
    let d = c
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob().unwrap().clone())
        .encryption_context("to", "b")
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), b"payload");
    assert_eq!(d.key_id(), Some(b_arn.as_str()));
    let e = c
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob))
        .source_key_id(&b)
        .destination_key_id(&a)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_incorrect_key_exception());
}

#[tokio::test]
async fn generate_data_key_with_and_without_plaintext() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    let out = c
        .generate_data_key()
        .key_id(&alias)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("q", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    let plaintext = out.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(plaintext.len(), 32);
    let d = c
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob().unwrap().clone())
        .encryption_context("q", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), plaintext.as_slice());

    let out = c
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext().unwrap().as_ref().len(), 16);
    let out = c
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(1024)
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext().unwrap().as_ref().len(), 1024);

    let wp = c
        .generate_data_key_without_plaintext()
        .key_id(alias_arn(&alias))
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(wp.key_id(), Some(arn.as_str()));
    let d = c
        .decrypt()
        .ciphertext_blob(wp.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref().len(), 32);
}

#[tokio::test]
async fn generate_data_key_needs_exactly_one_length() {
    let server = start().await;
    let c = kms(&server);
    let (id, _) = new_key(&c).await;
    let neither = c
        .generate_data_key()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let both = c
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let too_many = c
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(1025)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    for e in [neither, both, too_many] {
        assert_eq!(code_and_message(&e).0, "ValidationException", "{e:?}");
    }
}

#[tokio::test]
async fn generate_random_returns_the_requested_length() {
    let server = start().await;
    let c = kms(&server);
    let a = c.generate_random().number_of_bytes(64).send().await.unwrap();
    let b = c.generate_random().number_of_bytes(64).send().await.unwrap();
    assert_eq!(a.plaintext().unwrap().as_ref().len(), 64);
    assert_ne!(a.plaintext().unwrap().as_ref(), b.plaintext().unwrap().as_ref());
    for n in [0, 1025] {
        let e = c
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code_and_message(&e).0, "ValidationException");
    }
}

#[tokio::test]
async fn disabled_keys_refuse_crypto_and_come_back_when_enabled() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    let blob = encrypt(&c, &id, b"x").await;
    c.disable_key().key_id(&id).send().await.unwrap();
    let m = c.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(m.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    assert!(!m.key_metadata().unwrap().enabled());

    let e = c
        .encrypt()
        .key_id(&alias)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception());
    assert_eq!(code_and_message(&e).1, format!("{arn} is disabled."));
    let e = c
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception());
    let e = c
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception());

    c.enable_key().key_id(&arn).send().await.unwrap();
    let d = c.decrypt().ciphertext_blob(Blob::new(blob)).send().await.unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), b"x");
}

#[tokio::test]
async fn key_state_actions_take_key_id_or_arn_only() {
    let server = start().await;
    let c = kms(&server);
    let (id, _) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    let e = c
        .disable_key()
        .key_id(&alias)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = c
        .enable_key()
        .key_id(alias_arn(&alias))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = c
        .schedule_key_deletion()
        .key_id(&alias)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = c
        .get_key_policy()
        .key_id(&alias)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = c
        .enable_key_rotation()
        .key_id(&alias)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn schedule_and_cancel_key_deletion() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let blob = encrypt(&c, &id, b"x").await;
    for days in [6, 31] {
        let e = c
            .schedule_key_deletion()
            .key_id(&id)
            .pending_window_in_days(days)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code_and_message(&e).0, "ValidationException", "{days}");
    }
    let out = c.schedule_key_deletion().key_id(&arn).send().await.unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    assert_eq!(out.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(out.pending_window_in_days(), Some(30));
    assert!(out.deletion_date().is_some());

    let m = c.describe_key().key_id(&id).send().await.unwrap();
    let m = m.key_metadata().unwrap();
    assert_eq!(m.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(m.pending_deletion_window_in_days(), Some(30));
    assert!(m.deletion_date().is_some());

    let e = c
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception());
    assert_eq!(
        code_and_message(&e),
        (
            "KMSInvalidStateException".to_owned(),
            format!("{arn} is pending deletion.")
        )
    );
    let e = c
        .enable_key()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception());

    let out = c.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    let m = c.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(m.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    let e = c
        .cancel_key_deletion()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception());
    c.enable_key().key_id(&id).send().await.unwrap();
    assert!(c.decrypt().ciphertext_blob(Blob::new(blob)).send().await.is_ok());
}

async fn manual_server() -> Server {
    start_with(Config::default(), Arc::new(Clock::manual(1_700_000_000_000))).await
}

#[tokio::test]
async fn keys_are_deleted_when_the_window_passes_on_the_clock() {
    let server = manual_server().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let alias = new_alias(&c, &id).await;
    let out = c
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deletion_date().unwrap().secs(), 1_700_000_000 + 7 * 86_400);
    server.advance(7 * 86_400 - 1);
    assert!(c.describe_key().key_id(&id).send().await.is_ok());
    assert_eq!(c.list_keys().send().await.unwrap().keys().len(), 1);
    server.advance(1);
    assert!(c.list_keys().send().await.unwrap().keys().is_empty());
    let e = c
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "NotFoundException".to_owned(),
            format!("Key '{arn}' does not exist")
        )
    );
    let e = c
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception());
    assert!(c.list_aliases().send().await.unwrap().aliases().is_empty());
}

#[tokio::test]
async fn key_policies_default_get_put_list() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let p = c
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Id"], "key-default-1");
    let st = &doc["Statement"][0];
    assert_eq!(st["Sid"], "Enable IAM User Permissions");
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(st["Action"], "kms:*");
    assert_eq!(st["Resource"], "*");

    // A policy with no statement is refused (it would lock everyone out).
    let e = c
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().code()),
        Some("MalformedPolicyDocumentException")
    );
    let new_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let new_policy = new_policy.as_str();
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(new_policy)
        .send()
        .await
        .unwrap();
    let p = c.get_key_policy().key_id(&arn).send().await.unwrap();
    assert_eq!(p.policy(), Some(new_policy));
    let e = c
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy("not json at all")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_malformed_policy_document_exception());

    let l = c.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(l.policy_names(), ["default".to_owned()]);
    assert!(!l.truncated());
}

#[tokio::test]
async fn rotation_status_on_demand_rotation_and_old_ciphertexts() {
    let server = manual_server().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let old = encrypt(&c, &id, b"before").await;
    let s = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(!s.key_rotation_enabled());

    c.enable_key_rotation()
        .key_id(&arn)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let s = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(s.key_rotation_enabled());
    assert_eq!(s.rotation_period_in_days(), Some(90));
    assert_eq!(
        s.next_rotation_date().unwrap().secs(),
        1_700_000_000 + 90 * 86_400
    );
    let e = c
        .enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(89)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "ValidationException");

    let out = c.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    let s = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
    // Done at once: AWS drops OnDemandRotationStartDate once a rotation
    // completes (recorded).
    assert!(s.on_demand_rotation_start_date().is_none(), "{s:?}");
    let new = encrypt(&c, &id, b"after").await;
    // Automatic rotation when the period passes on the clock.
    server.advance(90 * 86_400);
    let newest = encrypt(&c, &id, b"latest").await;
    // Blobs carry their backing-key version (byte layout in src/kms/blob.rs).
    let version = |b: &[u8]| u32::from_be_bytes(b[17..21].try_into().unwrap());
    assert_eq!((version(&old), version(&new), version(&newest)), (0, 1, 2));
    for (blob, want) in [(old, &b"before"[..]), (new, b"after"), (newest, b"latest")] {
        let d = c.decrypt().ciphertext_blob(Blob::new(blob)).send().await.unwrap();
        assert_eq!(d.plaintext().unwrap().as_ref(), want);
    }

    c.disable_key_rotation().key_id(&id).send().await.unwrap();
    let s = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(!s.key_rotation_enabled());

    c.disable_key().key_id(&id).send().await.unwrap();
    let e = c
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception());
    let e = c
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception());
}

#[tokio::test]
async fn tags_add_replace_list_remove() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
    c.tag_resource()
        .key_id(&id)
        .tags(tag("env", "dev"))
        .tags(tag("team", "core"))
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .key_id(&arn)
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    let l = c.list_resource_tags().key_id(&id).send().await.unwrap();
    let got: Vec<(&str, &str)> = l.tags().iter().map(|t| (t.tag_key(), t.tag_value())).collect();
    assert_eq!(got, [("env", "prod"), ("team", "core")]);
    let page = c.list_resource_tags().key_id(&id).limit(1).send().await.unwrap();
    assert!(page.truncated());
    let rest = c
        .list_resource_tags()
        .key_id(&id)
        .marker(page.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.tags()[0].tag_key(), "team");

    c.untag_resource()
        .key_id(&id)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let l = c.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(l.tags().len(), 1);
    let e = c
        .tag_resource()
        .key_id(&id)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_tag_exception());
}

// ---- raw HTTP -----------------------------------------------------------------

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

async fn raw(server: &Server, target: &str, body: &str, signed: bool) -> common::Raw {
    let mut b = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("TrentService.{target}"));
    if signed {
        b = b.header("authorization", SIGNED);
    }
    common::send(b.body(body.to_owned()).unwrap()).await
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn unsigned_requests_and_unknown_operations_get_json_11_errors() {
    let server = start().await;
    let r = raw(&server, "ListKeys", "{}", false).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    let v = json(&r.body);
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");
    assert_eq!(v["message"], "Request is missing Authentication Token");

    let r = raw(&server, "Frobnicate", "{}", true).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(json(&r.body)["__type"], "UnknownOperationException");

    let r = raw(&server, "ListKeys", "[]", true).await;
    assert_eq!(r.status, 400);
    assert_eq!(json(&r.body)["__type"], "SerializationException");

    let r = raw(&server, "ListKeys", "", true).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(json(&r.body)["Truncated"], false);
}

#[tokio::test]
async fn wire_shapes_of_errors_and_timestamps() {
    let server = start().await;
    let r = raw(&server, "CreateKey", "{}", true).await;
    let v = json(&r.body);
    let arn = v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert!(v["KeyMetadata"]["CreationDate"].is_number());
    let r = raw(
        &server,
        "ScheduleKeyDeletion",
        &format!(r#"{{"KeyId":"{arn}","PendingWindowInDays":7}}"#),
        true,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = raw(
        &server,
        "Encrypt",
        &format!(r#"{{"KeyId":"{arn}","Plaintext":"aGk="}}"#),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        json(&r.body),
        serde_json::json!({"__type": "KMSInvalidStateException", "message": format!("{arn} is pending deletion.")})
    );
    let r = raw(&server, "Decrypt", r#"{"CiphertextBlob":"AAAA"}"#, true).await;
    assert_eq!(
        json(&r.body),
        serde_json::json!({"__type": "InvalidCiphertextException", "message": ""})
    );
}

#[tokio::test]
async fn the_fault_switch_fails_api_calls() {
    let server = start().await;
    server.state.kms.set_fault(sealq::kms::KmsFault::Throttling);
    let r = raw(&server, "ListKeys", "{}", true).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        json(&r.body),
        serde_json::json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
    );
    server.state.kms.set_fault(sealq::kms::KmsFault::Unavailable);
    let r = raw(&server, "ListKeys", "{}", true).await;
    assert_eq!(r.status, 500);
    assert_eq!(json(&r.body)["__type"], "DependencyTimeoutException");
    server.state.kms.set_fault(sealq::kms::KmsFault::Healthy);
    assert_eq!(raw(&server, "ListKeys", "{}", true).await.status, 200);
}

// ---- HMAC keys and key usage ---------------------------------------------------

async fn new_hmac_key(c: &aws_sdk_kms::Client, spec: KeySpec) -> (String, String) {
    let out = c
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap();
    let m = out.key_metadata().unwrap();
    (m.key_id().to_owned(), m.arn().unwrap().to_owned())
}

/// AWS's wording of a wrong key usage.
fn usage_message(arn: &str, usage: &str, operation: &str) -> String {
    format!("{arn} key usage is {usage} which is not valid for {operation}.")
}

// CustomerMasterKeySpec is deprecated but still sent; checking it is the point.
#[allow(deprecated)]
#[tokio::test]
async fn hmac_keys_are_created_and_described_with_their_mac_algorithm() {
    let server = start().await;
    let c = kms(&server);
    for (spec, alg) in [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512),
    ] {
        let out = c
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .description("mac")
            .send()
            .await
            .unwrap();
        let id = out.key_metadata().unwrap().key_id().to_owned();
        let d = c.describe_key().key_id(&id).send().await.unwrap();
        for m in [out.key_metadata().unwrap(), d.key_metadata().unwrap()] {
            assert_eq!(m.key_spec(), Some(&spec));
            assert_eq!(
                m.customer_master_key_spec().map(|s| s.as_str()),
                Some(spec.as_str())
            );
            assert_eq!(m.key_usage(), Some(&KeyUsageType::GenerateVerifyMac));
            assert_eq!(m.mac_algorithms(), std::slice::from_ref(&alg));
            assert!(m.encryption_algorithms().is_empty(), "{m:?}");
            assert_eq!(m.key_state(), Some(&KeyState::Enabled));
            assert_eq!(m.key_manager(), Some(&KeyManagerType::Customer));
        }
    }
    // Symmetric encryption keys list their encryption algorithm, no MAC one.
    let (id, _) = new_key(&c).await;
    let d = c.describe_key().key_id(&id).send().await.unwrap();
    let m = d.key_metadata().unwrap();
    assert_eq!(
        m.encryption_algorithms(),
        [EncryptionAlgorithmSpec::SymmetricDefault]
    );
    assert!(m.mac_algorithms().is_empty());
}

// CustomerMasterKeySpec is deprecated but still accepted; checking it is the point.
#[allow(deprecated)]
#[tokio::test]
async fn create_key_pairs_hmac_specs_only_with_generate_verify_mac() {
    let server = start().await;
    let c = kms(&server);
    let e = c
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "ValidationException".to_owned(),
            "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256".to_owned()
        )
    );
    let e = c
        .create_key()
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "ValidationException".to_owned(),
            "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec SYMMETRIC_DEFAULT".to_owned()
        )
    );
    let e = c
        .create_key()
        .key_spec(KeySpec::Hmac512)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        code_and_message(&e),
        (
            "ValidationException".to_owned(),
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
                .to_owned()
        )
    );
    // The deprecated CustomerMasterKeySpec names HMAC specs too.
    let out = c
        .create_key()
        .customer_master_key_spec(aws_sdk_kms::types::CustomerMasterKeySpec::Hmac384)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_metadata().unwrap().key_spec(), Some(&KeySpec::Hmac384));
}

#[tokio::test]
async fn generate_mac_and_verify_mac_round_trip_and_a_bad_mac_is_invalid_mac() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_hmac_key(&c, KeySpec::Hmac256).await;
    let alias = new_alias(&c, &id).await;
    let out = c
        .generate_mac()
        .key_id(&alias)
        .message(Blob::new(b"order 42"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    assert_eq!(out.mac_algorithm(), Some(&MacAlgorithmSpec::HmacSha256));
    let mac = out.mac().unwrap().as_ref().to_vec();
    assert_eq!(mac.len(), 32);
    // Same key and message, same MAC, in every identifier form.
    for form in [id.clone(), arn.clone(), alias_arn(&alias)] {
        let again = c
            .generate_mac()
            .key_id(&form)
            .message(Blob::new(b"order 42"))
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .send()
            .await
            .unwrap();
        assert_eq!(again.mac().unwrap().as_ref(), &mac[..], "{form}");
    }

    let v = c
        .verify_mac()
        .key_id(&id)
        .message(Blob::new(b"order 42"))
        .mac(Blob::new(mac.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert!(v.mac_valid());
    assert_eq!(v.key_id(), Some(arn.as_str()));
    assert_eq!(v.mac_algorithm(), Some(&MacAlgorithmSpec::HmacSha256));

    let mut flipped = mac.clone();
    flipped[5] ^= 0x01;
    for (message, tag) in [
        (&b"order 42"[..], flipped),
        (&b"order 43"[..], mac.clone()),
        (&b"order 42"[..], mac[..16].to_vec()),
    ] {
        let e = c
            .verify_mac()
            .key_id(&id)
            .message(Blob::new(message))
            .mac(Blob::new(tag))
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(e.is_kms_invalid_mac_exception(), "{e:?}");
    }
    // Another HMAC key of the same spec does not verify this MAC.
    let (other, _) = new_hmac_key(&c, KeySpec::Hmac256).await;
    let e = c
        .verify_mac()
        .key_id(&other)
        .message(Blob::new(b"order 42"))
        .mac(Blob::new(mac))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_mac_exception(), "{e:?}");
}

#[tokio::test]
async fn mac_actions_check_message_length_algorithm_and_key_state() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_hmac_key(&c, KeySpec::Hmac384).await;
    let e = c
        .generate_mac()
        .key_id(&id)
        .message(Blob::new(vec![0u8; 4097]))
        .mac_algorithm(MacAlgorithmSpec::HmacSha384)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code_and_message(&e).0, "ValidationException");
    assert!(
        c.generate_mac()
            .key_id(&id)
            .message(Blob::new(vec![0u8; 4096]))
            .mac_algorithm(MacAlgorithmSpec::HmacSha384)
            .send()
            .await
            .is_ok()
    );
    // An algorithm of another HMAC spec.
    let e = c
        .generate_mac()
        .key_id(&id)
        .message(Blob::new(b"m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(
        code_and_message(&e).1,
        "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_384."
    );
    let e = c
        .verify_mac()
        .key_id(&id)
        .message(Blob::new(b"m"))
        .mac(Blob::new(vec![0u8; 48]))
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    // Key state applies as to every cryptographic operation.
    c.disable_key().key_id(&id).send().await.unwrap();
    let e = c
        .generate_mac()
        .key_id(&id)
        .message(Blob::new(b"m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha384)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, format!("{arn} is disabled."));
    // Unknown algorithm names are refused by the model's enum.
    let r = raw(
        &server,
        "GenerateMac",
        &format!(r#"{{"KeyId":"{id}","Message":"bQ==","MacAlgorithm":"HMAC_MD5"}}"#),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(json(&r.body)["__type"], "ValidationException");
}

#[tokio::test]
async fn encryption_actions_refuse_hmac_keys() {
    let server = start().await;
    let c = kms(&server);
    let (mac_id, mac_arn) = new_hmac_key(&c, KeySpec::Hmac256).await;
    let mac_alias = new_alias(&c, &mac_id).await;
    let (sym_id, _) = new_key(&c).await;
    let blob = encrypt(&c, &sym_id, b"secret").await;
    let want = |op: &str| usage_message(&mac_arn, "GENERATE_VERIFY_MAC", op);

    let e = c
        .encrypt()
        .key_id(&mac_alias)
        .plaintext(Blob::new(b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, want("Encrypt"));

    let e = c
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .key_id(&mac_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    // As the decrypting key, an HMAC key is the wrong key (AWS recorded).
    let wrong_key = "The key ID in the request does not identify a CMK that can perform this operation.";
    assert!(e.is_incorrect_key_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, wrong_key);

    // ReEncrypt: as destination and as source key.
    let e = c
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .destination_key_id(&mac_arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, want("ReEncrypt"));
    let e = c
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob))
        .source_key_id(&mac_id)
        .destination_key_id(&sym_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_incorrect_key_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, wrong_key);

    let e = c
        .generate_data_key()
        .key_id(&mac_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, want("GenerateDataKey"));

    let e = c
        .generate_data_key_without_plaintext()
        .key_id(&mac_id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(code_and_message(&e).1, want("GenerateDataKeyWithoutPlaintext"));
}

#[tokio::test]
async fn mac_actions_refuse_encryption_keys_with_invalid_key_usage() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_key(&c).await;
    let e = c
        .generate_mac()
        .key_id(&id)
        .message(Blob::new(b"m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(
        code_and_message(&e).1,
        usage_message(&arn, "ENCRYPT_DECRYPT", "GenerateMac")
    );
    let e = c
        .verify_mac()
        .key_id(&arn)
        .message(Blob::new(b"m"))
        .mac(Blob::new(vec![0u8; 32]))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
    assert_eq!(
        code_and_message(&e).1,
        usage_message(&arn, "ENCRYPT_DECRYPT", "VerifyMac")
    );
}

#[tokio::test]
async fn hmac_keys_do_not_rotate_but_keep_aliases_tags_policies_and_deletion() {
    let server = start().await;
    let c = kms(&server);
    let (id, arn) = new_hmac_key(&c, KeySpec::Hmac224).await;
    let e = c
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_unsupported_operation_exception(), "{e:?}");
    let e = c
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_unsupported_operation_exception(), "{e:?}");
    let s = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(!s.key_rotation_enabled());

    let alias = new_alias(&c, &id).await;
    let d = c.describe_key().key_id(&alias).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    c.tag_resource()
        .key_id(&id)
        .tags(Tag::builder().tag_key("use").tag_value("mac").build().unwrap())
        .send()
        .await
        .unwrap();
    let l = c.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(l.tags().len(), 1);
    let p = c.get_key_policy().key_id(&id).send().await.unwrap();
    assert!(p.policy().unwrap().contains("kms:*"));

    let out = c
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(arn.as_str()));
    let e = c
        .generate_mac()
        .key_id(&id)
        .message(Blob::new(b"m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha224)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    c.cancel_key_deletion().key_id(&id).send().await.unwrap();
    c.enable_key().key_id(&id).send().await.unwrap();
    assert!(
        c.generate_mac()
            .key_id(&id)
            .message(Blob::new(b"m"))
            .mac_algorithm(MacAlgorithmSpec::HmacSha224)
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn sqs_queue_with_an_hmac_key_fails_with_kms_invalid_key_usage() {
    use aws_sdk_sqs::error::ProvideErrorMetadata as _;
    use aws_sdk_sqs::types::QueueAttributeName;

    let server = start().await;
    let (mac_id, mac_arn) = new_hmac_key(&kms(&server), KeySpec::Hmac256).await;
    let sqs = common::sqs(&server);
    let url = sqs
        .create_queue()
        .queue_name(unique("hmac"))
        .attributes(QueueAttributeName::KmsMasterKeyId, &mac_id)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.InvalidKeyUsageException"), "{err:?}");
    assert!(
        err.message().unwrap_or_default().starts_with(&usage_message(
            &mac_arn,
            "GENERATE_VERIFY_MAC",
            "GenerateDataKey"
        )),
        "{err:?}"
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert!(err.into_service_error().is_kms_invalid_key_usage());
}
