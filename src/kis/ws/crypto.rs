//! AES-256-CBC/PKCS7 decryption of execution-notice payloads with the key and iv of the
//! subscribe acknowledgement (and the matching encryption, used by tests and the simulator).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::KisWsError;

type Decryptor = cbc::Decryptor<aes::Aes256>;
type Encryptor = cbc::Encryptor<aes::Aes256>;

/// The key (32 bytes) and iv (16 bytes) of an encrypted channel. Debug output hides both.
#[derive(Clone, PartialEq, Eq)]
pub struct NoticeCipher {
    key: [u8; 32],
    iv: [u8; 16],
}

impl std::fmt::Debug for NoticeCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticeCipher(REDACTED)")
    }
}

impl NoticeCipher {
    /// Builds the cipher from the ack's `key` (32 ASCII chars) and `iv` (16 ASCII chars).
    ///
    /// # Errors
    /// Returns [`KisWsError::Crypto`] when a length is wrong.
    pub fn from_ack(key: &str, iv: &str) -> Result<Self, KisWsError> {
        let key: [u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| KisWsError::Crypto(format!("key must be 32 bytes, got {}", key.len())))?;
        let iv: [u8; 16] = iv
            .as_bytes()
            .try_into()
            .map_err(|_| KisWsError::Crypto(format!("iv must be 16 bytes, got {}", iv.len())))?;
        Ok(Self { key, iv })
    }

    /// Decrypts a Base64 payload into UTF-8 text.
    ///
    /// # Errors
    /// Returns [`KisWsError::Crypto`] on bad Base64, bad padding or non-UTF-8 plaintext.
    pub fn decrypt(&self, payload_b64: &str) -> Result<String, KisWsError> {
        let cipher = STANDARD
            .decode(payload_b64.trim())
            .map_err(|e| KisWsError::Crypto(format!("invalid base64: {e}")))?;
        let plain = Decryptor::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&cipher)
            .map_err(|_| KisWsError::Crypto("bad ciphertext or padding".into()))?;
        String::from_utf8(plain).map_err(|_| KisWsError::Crypto("plaintext is not UTF-8".into()))
    }

    /// Encrypts text into the Base64 payload form the server sends.
    pub fn encrypt(&self, plain: &str) -> String {
        let cipher = Encryptor::new(&self.key.into(), &self.iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
        STANDARD.encode(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopabcdefghijklmnop";
    const IV: &str = "0123456789abcdef";

    #[test]
    fn round_trips_korean_text() {
        let c = NoticeCipher::from_ack(KEY, IV).unwrap();
        let text = "HTSID^1234567801^0000002891^^02^0^00^0^136480^김한투^하림";
        let enc = c.encrypt(text);
        assert_eq!(c.decrypt(&enc).unwrap(), text);
        assert_eq!(format!("{c:?}"), "NoticeCipher(REDACTED)");
    }

    #[test]
    fn rejects_bad_lengths_base64_and_padding() {
        assert!(NoticeCipher::from_ack("short", IV).is_err());
        assert!(NoticeCipher::from_ack(KEY, "short").is_err());
        let c = NoticeCipher::from_ack(KEY, IV).unwrap();
        assert!(c.decrypt("not base64 !!").is_err());
        assert!(c.decrypt(&STANDARD.encode([0u8; 15])).is_err(), "not a block multiple");
        let other = NoticeCipher::from_ack(KEY, "fedcba9876543210").unwrap();
        let enc = other.encrypt("x");
        // A different iv only garbles the first block; a different key breaks the padding.
        let wrong_key = NoticeCipher::from_ack("ponmlkjihgfedcbaponmlkjihgfedcba", IV).unwrap();
        assert!(wrong_key.decrypt(&enc).is_err() || wrong_key.decrypt(&enc).unwrap() != "x");
    }
}
