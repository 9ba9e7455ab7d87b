//! AES-256-CBC / PKCS#7 encryption of execution-notice payloads with a session's key and iv.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;

type Enc = cbc::Encryptor<aes::Aes256>;

/// Errors of notice encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Key is not 32 bytes or iv not 16 bytes.
    #[error("AES key must be 32 bytes and iv 16 bytes")]
    KeyLength,
}

/// Encrypts `plain` with AES-256-CBC/PKCS#7 and returns Base64 (standard alphabet, padded).
///
/// # Errors
/// Returns [`CryptoError::KeyLength`] when `key`/`iv` have the wrong length.
pub fn encrypt(key: &str, iv: &str, plain: &str) -> Result<String, CryptoError> {
    let enc = Enc::new_from_slices(key.as_bytes(), iv.as_bytes()).map_err(|_| CryptoError::KeyLength)?;
    let ct = enc.encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(ct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockDecryptMut;

    #[test]
    fn round_trips_with_the_same_key_and_iv() {
        let key = "abcdefghijklmnopabcdefghijklmnop";
        let iv = "0123456789abcdef";
        let b64 = encrypt(key, iv, "hts^0001^체결").unwrap();
        let ct = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), iv.as_bytes()).unwrap();
        let pt = dec.decrypt_padded_vec_mut::<Pkcs7>(&ct).unwrap();
        assert_eq!(String::from_utf8(pt).unwrap(), "hts^0001^체결");
        assert_eq!(encrypt("short", iv, "x"), Err(CryptoError::KeyLength));
    }
}
